"""The two emails the subscriber pages send, each built from three templates
(``accounts/email/<name>-subject.txt``, ``-body.txt``, ``-body.html``).

Neither carries text a visitor typed: whoever fills in the form chooses only
the recipient, so the form cannot be used to send someone a message.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from accounts import links
from accounts.models import Subscriber


def send(name: str, to: str, context: dict) -> None:
    context = {"site_name": settings.SITE_NAME, "manage_url": links.manage_url(), **context}
    subject = render_to_string(f"accounts/email/{name}-subject.txt", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=render_to_string(f"accounts/email/{name}-body.txt", context),
        to=[to],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(
        render_to_string(f"accounts/email/{name}-body.html", context), "text/html"
    )
    message.tags = [name]  # read by Anymail backends, ignored by others
    message.send()


def send_confirmation(subscriber: Subscriber) -> None:
    send("confirm", subscriber.email, {"link": links.confirm_url(subscriber), "days": 7})


def send_sign_in_link(subscriber: Subscriber) -> None:
    send("sign-in", subscriber.email, {"link": links.sign_in_url(subscriber), "minutes": 60})
