"""Signing up, confirming and asking for a sign-in link.

What a visitor sees never depends on the address they typed (new, pending,
active, unsubscribed or suppressed); only the mailbox owner learns anything,
by the email that may arrive. Emails triggered by a form are capped per
address, so the forms cannot be used to flood someone's inbox.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.forms.models import construct_instance
from django.utils import timezone

from accounts import emails, lifecycle, ratelimit, tokens
from accounts.forms import FORM_VERSION, PREFERENCE_FIELDS, SubscribeForm
from accounts.models import Consent, Subscriber
from digest.models import Suppression

log = logging.getLogger(__name__)
CONFIRMATION_INTERVAL = dt.timedelta(hours=24)
Status = Subscriber.Status


@dataclass(frozen=True)
class Visitor:
    """Where a request came from, as kept in the consent record."""

    ip: str | None
    user_agent: str

    def record_consent(self, subscriber: Subscriber, action: str) -> Consent:
        return Consent.objects.create(
            subscriber=subscriber,
            action=action,
            ip_address=self.ip or None,
            user_agent=self.user_agent[:300],
            form_version=FORM_VERSION,
        )


def is_suppressed(email: str) -> bool:
    return Suppression.objects.of(email).exists()


def _mail_once_a_day(subscriber: Subscriber, send) -> bool:
    """Call ``send(subscriber)`` unless a form-triggered email went to this address
    in the last 24 hours. One conditional UPDATE decides, so concurrent requests
    from many machines still send at most one."""
    now = timezone.now()
    claimed = (
        Subscriber.objects.filter(pk=subscriber.pk)
        .filter(
            Q(confirmation_sent_at__isnull=True)
            | Q(confirmation_sent_at__lte=now - CONFIRMATION_INTERVAL)
        )
        .update(confirmation_sent_at=now)
    )
    if not claimed:
        return False
    try:
        send(subscriber)
    except Exception:
        # Give the day's allowance back so a retry after the outage can work.
        Subscriber.objects.filter(pk=subscriber.pk, confirmation_sent_at=now).update(
            confirmation_sent_at=subscriber.confirmation_sent_at
        )
        log.exception("could not send a %s email to subscriber %s", send.__name__, subscriber.pk)
        return False
    return True


def request_signup(form: SubscribeForm, visitor: Visitor) -> None:
    """Record a valid signup form and send the confirmation email when allowed."""
    data = form.cleaned_data
    if data.get("website"):
        return  # the honeypot: a bot, answered like anyone else
    email = data["email"]
    if is_suppressed(email):
        return
    with transaction.atomic():
        subscriber, _ = Subscriber.objects.select_for_update().get_or_create(email=email)
        if subscriber.status == Status.SUPPRESSED:
            return
        # Only a signup still waiting for confirmation takes the form's settings. Anyone
        # else (active, paused or unsubscribed) changes nothing until the owner signs in
        # with their own link, sent instead: a stranger's signup must not overwrite their
        # topics or turn their record back to pending (where it would be deleted, consent
        # history and all, when left unconfirmed).
        already = subscriber.status != Status.PENDING
        if not already:
            construct_instance(form, subscriber, fields=PREFERENCE_FIELDS)
            subscriber.save(update_fields=[f for f in PREFERENCE_FIELDS if f != "topics"])
            subscriber.topics.set(data["topics"])
            visitor.record_consent(subscriber, Consent.Action.SIGNUP)
    _mail_once_a_day(subscriber, emails.send_sign_in_link if already else emails.send_confirmation)


def request_sign_in(email: str) -> None:
    """Email a sign-in link (or, for a pending address, the confirmation again)."""
    if is_suppressed(email):
        return
    subscriber = Subscriber.objects.filter(email=email).first()
    if subscriber is None or subscriber.status == Status.SUPPRESSED:
        return
    if subscriber.status == Status.PENDING:
        _mail_once_a_day(subscriber, emails.send_confirmation)
        return
    if ratelimit.allow("sign-in", email, limit=settings.SIGN_IN_LINKS_PER_DAY, window=86400):
        try:
            emails.send_sign_in_link(subscriber)
        except Exception:
            log.exception("could not send a sign-in link to subscriber %s", subscriber.pk)


def resend_confirmation(payload: dict) -> None:
    """An expired confirmation link was used: send a fresh one if still pending."""
    subscriber = Subscriber.objects.filter(pk=payload["s"], status=Status.PENDING).first()
    if subscriber is not None and not is_suppressed(subscriber.email):
        _mail_once_a_day(subscriber, emails.send_confirmation)


def confirm(subscriber: Subscriber, visitor: Visitor) -> None:
    """Spend the confirmation link and start deliveries; InvalidToken when the link
    was spent meanwhile or the address may not be mailed."""
    with transaction.atomic():
        if not (tokens.spend(subscriber) and lifecycle.confirm(subscriber, visitor)):
            raise tokens.InvalidToken()  # and the spent link is given back


def sign_in(subscriber: Subscriber) -> None:
    """Spend a sign-in link; InvalidToken when it was spent meanwhile."""
    if subscriber.status in (Status.PENDING, Status.SUPPRESSED) or not tokens.spend(subscriber):
        raise tokens.InvalidToken()
