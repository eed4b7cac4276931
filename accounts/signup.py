"""Signing up, confirming and asking for a sign-in link.

What a visitor sees never depends on the address they typed (new, pending,
active, unsubscribed or suppressed); only the mailbox owner learns anything,
by the email that may arrive. The views hand every valid form to a task
(``accounts.tasks``), so even the time a request takes does not tell. Emails
triggered by a form are capped per mailbox and in all, so the forms cannot be
used to flood someone's inbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.forms.models import construct_instance
from django.utils import timezone

from accounts import emails, lifecycle, ratelimit, tokens
from accounts.forms import FORM_VERSION, PREFERENCE_FIELDS, SubscribeForm
from accounts.mailbox import mailbox
from accounts.models import Consent, Subscriber
from digest.models import Suppression

log = logging.getLogger(__name__)
FORM_EMAIL_WINDOW = 24 * 3600
# Set when the forms' hourly cap held an email back; the admin dashboard shows it.
FORM_EMAIL_CAP_REACHED = "form-emails:cap-reached-at"
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


def _mail_within_allowance(subscriber: Subscriber, send) -> bool:
    """Call ``send(subscriber)`` unless this mailbox (every spelling of the address)
    already had its ``FORM_EMAILS_PER_DAY`` from either form, or the forms together
    reached ``FORM_EMAILS_PER_HOUR``. The limits count atomically, so concurrent
    requests on many machines still send no more."""
    box = mailbox(subscriber.email)
    day = settings.FORM_EMAILS_PER_DAY
    if not ratelimit.allow("form-email", box, limit=day, window=FORM_EMAIL_WINDOW):
        return False
    if not ratelimit.allow("form-email", "*", limit=settings.FORM_EMAILS_PER_HOUR, window=3600):
        ratelimit.give_back("form-email", box, window=FORM_EMAIL_WINDOW)
        cache.set(FORM_EMAIL_CAP_REACHED, timezone.now(), timeout=FORM_EMAIL_WINDOW)
        log.warning("form emails reached FORM_EMAILS_PER_HOUR; holding them back")
        return False
    try:
        send(subscriber)
    except Exception:
        # Give the allowance back so a retry after the outage can work.
        ratelimit.give_back("form-email", box, window=FORM_EMAIL_WINDOW)
        ratelimit.give_back("form-email", "*", window=3600)
        log.exception("could not send a %s email to subscriber %s", send.__name__, subscriber.pk)
        return False
    Subscriber.objects.filter(pk=subscriber.pk).update(confirmation_sent_at=timezone.now())
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
    send = emails.send_sign_in_link if already else emails.send_confirmation
    _mail_within_allowance(subscriber, send)


def request_sign_in(email: str) -> None:
    """Email a sign-in link (or, for a pending address, the confirmation again)."""
    if is_suppressed(email):
        return
    subscriber = Subscriber.objects.filter(email=email).first()
    if subscriber is None or subscriber.status == Status.SUPPRESSED:
        return
    if subscriber.status == Status.PENDING:
        _mail_within_allowance(subscriber, emails.send_confirmation)
    else:
        _mail_within_allowance(subscriber, emails.send_sign_in_link)


def resend_confirmation(payload: dict) -> None:
    """An expired confirmation link was used: send a fresh one if still pending."""
    subscriber = Subscriber.objects.filter(pk=payload["s"], status=Status.PENDING).first()
    if subscriber is not None and not is_suppressed(subscriber.email):
        _mail_within_allowance(subscriber, emails.send_confirmation)


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
