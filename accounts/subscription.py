"""What a signed-in subscriber can do to their record besides changing its status
(``accounts.lifecycle`` does that): edit preferences, download or erase their data."""

from __future__ import annotations

from django.db import transaction

from accounts import lifecycle
from accounts.forms import PREFERENCE_FIELDS, PreferencesForm
from accounts.models import Subscriber
from digest.models import EmailEvent, Suppression

# The columns the preferences form owns (its topics are a separate table).
OWN_FIELDS = [name for name in PREFERENCE_FIELDS if name != "topics"]


def save_preferences(form: PreferencesForm) -> Subscriber:
    """Save a valid preferences form and move the next send to the new hour and zone.

    Only the form's own columns are written: the instance was read at the start of the
    request, and writing its status back would undo a pause, an unsubscribe or a
    suppression that happened meanwhile."""
    subscriber = form.save(commit=False)
    with transaction.atomic():
        subscriber.save(update_fields=OWN_FIELDS)
        form.save_m2m()
        lifecycle.reschedule([subscriber])
    return subscriber


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
            "own_topics": subscriber.own_topic_lines,
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
