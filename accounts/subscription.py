"""What a signed-in subscriber (or an unsubscribe link) can do to a subscription."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.forms import PreferencesForm
from accounts.models import Consent, Subscriber
from accounts.signup import Visitor, is_suppressed
from digest.models import EmailEvent, Suppression

Status = Subscriber.Status


def save_preferences(form: PreferencesForm) -> Subscriber:
    """Save a valid preferences form and move the next send to the new hour and zone."""
    subscriber = form.save(commit=False)
    if subscriber.status == Status.ACTIVE:
        subscriber.schedule_next()
    with transaction.atomic():
        subscriber.save()
        form.save_m2m()
    return subscriber


def pause(subscriber: Subscriber) -> None:
    if subscriber.status == Status.ACTIVE:
        subscriber.status = Status.PAUSED
        subscriber.next_send_at = None
        subscriber.save(update_fields=["status", "next_send_at"])


def resume(subscriber: Subscriber) -> None:
    if subscriber.status == Status.PAUSED:
        subscriber.status = Status.ACTIVE
        subscriber.schedule_next()
        subscriber.save(update_fields=["status", "next_send_at"])


def unsubscribe(subscriber: Subscriber) -> None:
    """Stop every email at once. Idempotent; a suppressed address stays suppressed."""
    if subscriber.status in (Status.UNSUBSCRIBED, Status.SUPPRESSED):
        return
    # A conditional UPDATE, so a worker dispatching right now sees it too.
    Subscriber.objects.filter(pk=subscriber.pk).exclude(status=Status.SUPPRESSED).update(
        status=Status.UNSUBSCRIBED, unsubscribed_at=timezone.now(), next_send_at=None
    )
    subscriber.refresh_from_db(fields=["status", "unsubscribed_at", "next_send_at"])


def resubscribe(subscriber: Subscriber, visitor: Visitor) -> bool:
    """Undo an unsubscribe from the unsubscribe page; False when it cannot be undone."""
    if subscriber.status != Status.UNSUBSCRIBED or is_suppressed(subscriber.email):
        return False
    with transaction.atomic():
        subscriber.status = Status.ACTIVE
        subscriber.unsubscribed_at = None
        subscriber.schedule_next()
        subscriber.save(update_fields=["status", "unsubscribed_at", "next_send_at"])
        visitor.record_consent(subscriber, Consent.Action.RESUBSCRIBE)
    return True


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def export(subscriber: Subscriber) -> dict:
    """Everything stored about this subscriber, for "download my data"."""
    subscriber = Subscriber.objects.prefetch_related(
        "topics", "consents", "digests__items__paper", "feedback__paper"
    ).get(pk=subscriber.pk)
    return {
        "email": subscriber.email,
        "status": subscriber.status,
        "created_at": _iso(subscriber.created_at),
        "confirmed_at": _iso(subscriber.confirmed_at),
        "unsubscribed_at": _iso(subscriber.unsubscribed_at),
        "preferences": {
            "topics": [topic.name for topic in subscriber.topics.all()],
            "own_topics": subscriber.own_topics.splitlines(),
            "frequency": subscriber.frequency,
            "weekday": subscriber.get_weekday_display(),
            "send_hour": subscriber.send_hour,
            "time_zone": subscriber.time_zone,
            "max_papers": subscriber.max_papers,
        },
        "consents": [
            {
                "action": consent.action,
                "at": _iso(consent.created_at),
                "ip_address": consent.ip_address,
                "user_agent": consent.user_agent,
                "form_version": consent.form_version,
            }
            for consent in subscriber.consents.all()
        ],
        "digests": [
            {
                "edition": digest.edition.isoformat(),
                "status": digest.status,
                "sent_at": _iso(digest.sent_at),
                "subject": digest.subject,
                "papers": [item.paper.title for item in digest.items.all()],
            }
            for digest in subscriber.digests.all()
        ],
        "feedback": [
            {"paper": item.paper.title, "value": item.value, "at": _iso(item.created_at)}
            for item in subscriber.feedback.all()
        ],
        "email_events": [
            {
                "type": event.event_type,
                "recipient": event.recipient,
                "at": _iso(event.timestamp or event.received_at),
                "description": event.description,
            }
            for event in EmailEvent.objects.about(
                Subscriber.objects.filter(pk=subscriber.pk)
            ).order_by("received_at")
        ],
        # Kept after an erase too: the one record that stops us mailing the address again.
        "suppression": next(
            (
                {"reason": row.reason, "at": _iso(row.created_at)}
                for row in Suppression.objects.of(subscriber.email)
            ),
            None,
        ),
    }


def erase(subscriber: Subscriber) -> None:
    """Delete the subscriber and all we hold about them but a suppression (see
    ``SubscriberQuerySet.erase``)."""
    Subscriber.objects.filter(pk=subscriber.pk).erase()
