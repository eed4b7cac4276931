"""Absolute URLs for emails: every link a subscriber receives is built here."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from accounts.models import Subscriber
from accounts.tokens import subscriber_token


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def unsubscribe_url(subscriber: Subscriber) -> str:
    """Never expires and is not single-use: it sits in every digest's footer and headers."""
    return absolute(reverse("unsubscribe", args=[subscriber_token("unsubscribe", subscriber)]))


def manage_url() -> str:
    return absolute(reverse("manage_request"))


def manage_link(subscriber: Subscriber) -> str:
    """The digest's signed "Manage your topics" link (docs/security.md says why it is
    shaped as it is)."""
    return absolute(reverse("manage_link", args=[subscriber_token("manage", subscriber)]))


def confirm_url(subscriber: Subscriber) -> str:
    return absolute(reverse("confirm", args=[subscriber_token("confirm", subscriber)]))


def sign_in_url(subscriber: Subscriber) -> str:
    return absolute(reverse("sign_in", args=[subscriber_token("login", subscriber)]))
