"""Celery tasks about subscribers: thin wrappers around QuerySet methods."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.conf import settings

from accounts.models import Subscriber

logger = logging.getLogger(__name__)


@shared_task
def delete_unconfirmed() -> int:
    """Beat, daily: erase signups never confirmed within ``UNCONFIRMED_DELETE_AFTER_DAYS``
    (their consent record too; suppressions stay). Returns how many went; a second run
    the same day finds nothing more to delete."""
    days = settings.UNCONFIRMED_DELETE_AFTER_DAYS
    deleted = Subscriber.objects.unconfirmed_for(days).erase()
    logger.info("deleted %d signups still unconfirmed after %d days", deleted, days)
    return deleted


# The forms' emails. The views queue one of these for every valid form, whatever the
# address, and answer at once: looking the address up, writing and the provider's round
# trip all happen here, so a request's duration tells nothing about the address.


@shared_task(base=DjangoTask)  # named for delay_on_commit's types: the app default anyway
def email_signup(data: dict[str, list[str]], ip: str | None, user_agent: str) -> None:
    """Record a signup form's ``data`` (as posted) and send the confirmation if allowed."""
    from django.utils.datastructures import MultiValueDict

    from accounts import signup
    from accounts.forms import SubscribeForm

    form = SubscribeForm(MultiValueDict(data))
    if form.is_valid():  # checked again: a catalogue topic may have gone meanwhile
        signup.request_signup(form, signup.Visitor(ip=ip, user_agent=user_agent))


@shared_task(base=DjangoTask)  # named for delay_on_commit's types: the app default anyway
def email_sign_in(email: str) -> None:
    """Send a sign-in link (or the confirmation again) to ``email`` if allowed."""
    from accounts import signup

    signup.request_sign_in(email)


@shared_task(base=DjangoTask)  # named for delay_on_commit's types: the app default anyway
def email_new_confirmation(payload: dict) -> None:
    """An expired confirmation link's ``payload``: send a fresh link if allowed."""
    from accounts import signup

    signup.resend_confirmation(payload)
