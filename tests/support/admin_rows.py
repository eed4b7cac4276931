"""Rows of every model the admin shows, for the admin tests.

``add_rows(model, n)`` creates ``n`` more rows of ``model``, each linked to fresh
related rows (a digest to its own subscriber, a listing to its own paper), so a
changelist that loaded a related row per line would show it in its query count.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable

from django.contrib.auth.models import Group
from django.db.models import Model
from django.utils import timezone

from accounts.models import Consent, Subscriber, User
from digest.models import (
    Digest,
    DigestItem,
    EmailEvent,
    Feedback,
    Listing,
    Paper,
    Source,
    SourceRun,
    Suppression,
    Topic,
)

_serial = itertools.count(1)
TODAY = dt.date(2026, 8, 20)


def _n() -> int:
    return next(_serial)


def source() -> Source:
    n = _n()
    return Source.objects.create(
        name=f"Source {n}",
        kind=Source.Kind.HF_DAILY,
        last_status=Source.Status.ERROR,
        last_error="HTTP 503",
    )


def paper(**fields) -> Paper:
    n = _n()
    fields.setdefault("title", f"Knowledge distillation for small models, part {n}")
    fields.setdefault("abstract", "We distill a large teacher into a small student model.")
    fields.setdefault("authors", [{"name": "Ada Lovelace"}, {"name": f"Author {n}"}])
    fields.setdefault("categories", ["cs.LG"])
    return Paper.objects.create(key=f"arxiv:2608.{n:05d}", arxiv_id=f"2608.{n:05d}", **fields)


def listing(day: dt.date = TODAY) -> Listing:
    return Listing.objects.create(source=source(), paper=paper(), day=day, rank=1, upvotes=3)


def subscriber(**fields) -> Subscriber:
    fields.setdefault("status", Subscriber.Status.ACTIVE)
    fields.setdefault("email", f"reader{_n()}@example.org")
    person = Subscriber.objects.create(**fields)
    Consent.objects.create(subscriber=person, action=Consent.Action.SIGNUP, ip_address="192.0.2.1")
    return person


def topic() -> Topic:
    n = _n()
    made = Topic.objects.create(name=f"Topic {n}", query=f'"topic {n}", distillation')
    made.subscribers.add(subscriber())
    return made


def digest(status: str = Digest.Status.SENT, **fields) -> Digest:
    made = Digest.objects.create(
        subscriber=subscriber(),
        edition=fields.pop("edition", TODAY),
        status=status,
        message_id=f"msg-{_n()}",
        sent_at=timezone.now() if status == Digest.Status.SENT else None,
        **fields,
    )
    DigestItem.objects.create(digest=made, paper=paper(), rank=1, score=0.9, topic="distillation")
    return made


def source_run() -> SourceRun:
    return SourceRun.objects.create(source=source(), day=TODAY, status="error", error="HTTP 503")


def feedback() -> Feedback:
    return Feedback.objects.create(subscriber=subscriber(), paper=paper(), value=1)


def email_event(event_type: str = "bounced", **fields) -> EmailEvent:
    n = _n()
    sent = digest()
    fields.setdefault("description", "mailbox does not exist")
    return EmailEvent.objects.create(
        event_id=f"event-{n}",
        event_type=event_type,
        recipient=sent.subscriber.email,
        message_id=sent.message_id,
        digest=sent,
        timestamp=timezone.now(),
        **fields,
    )


def suppression() -> Suppression:
    event = email_event()
    return Suppression.objects.create(
        email=event.recipient, reason=Suppression.Reason.BOUNCED, event=event
    )


def group() -> Group:
    return Group.objects.create(name=f"Editors {_n()}")


def user() -> User:
    return User.objects.create_user(f"staff{_n()}@example.org")  # no password: hashing is slow


MAKERS: dict[type[Model], Callable[[], object]] = {
    Source: source,
    SourceRun: source_run,
    Paper: listing,
    Topic: topic,
    Digest: digest,
    EmailEvent: email_event,
    Suppression: suppression,
    Feedback: feedback,
    Subscriber: subscriber,
    User: user,
    Group: group,
}


def add_rows(model, count: int) -> None:
    for _ in range(count):
        MAKERS[model]()
