"""Every change of a subscriber's status, each one conditional UPDATE.

A transition names the statuses it may start from and writes the new status, with the
fields that go with it, in one ``UPDATE ... WHERE id = ... AND status IN (...)``; it
returns whether the row changed (healthchecks claims its due work the same way). Two
requests racing, say a click on "pause" while a bounce suppresses the address, never
undo each other, and an instance loaded earlier in a request never writes its ``status``
back: nothing but this module writes ``status`` (``tests/test_lifecycle.py`` checks the
code for it), and the forms save only the fields they own.

Suppression: a ``Suppression`` row ("never mail this address") is the source of truth.
The subscriber's ``suppressed`` status mirrors it and is set and cleared only here
(``suppress``, ``lift``), so an address with a suppression has no pending, active or
paused subscriber, and no transition here makes a suppressed address active.

A subscriber starts pending: the model's default, written when the signup inserts the row.

``visitor`` is whoever asked through the subscriber pages (``accounts.signup.Visitor``);
their consent is recorded in the same transaction as the change. An operator's change
in the admin has none: the admin's own log records it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from django.db import transaction
from django.utils import timezone

from accounts.models import Consent, Subscriber
from digest.models import EmailEvent, Suppression

Status = Subscriber.Status
# The statuses a subscriber may be mailed in some way (a digest or a confirmation).
MAILABLE = (Status.PENDING, Status.ACTIVE, Status.PAUSED)


class Visitor(Protocol):
    def record_consent(self, subscriber: Subscriber, action: str) -> Consent: ...


def _move(subscriber: Subscriber, start: Iterable[str], **changes) -> bool:
    """Write ``changes`` when the subscriber's status is still one of ``start``; on
    success the instance gets the new values too."""
    rows = Subscriber.objects.filter(pk=subscriber.pk, status__in=list(start))
    if changes["status"] == Status.ACTIVE:
        rows = rows.exclude(email__in=Suppression.objects.values("email"))
    changed = bool(rows.update(**changes))
    if changed:
        for field, value in changes.items():
            setattr(subscriber, field, value)
    return changed


def confirm(subscriber: Subscriber, visitor: Visitor | None = None) -> bool:
    """Pending -> active (double opt-in done): deliveries start at the next send hour."""
    now = timezone.now()
    with transaction.atomic():
        changed = _move(
            subscriber,
            [Status.PENDING],
            status=Status.ACTIVE,
            confirmed_at=now,
            next_send_at=subscriber.next_send(now),
        )
        if changed and visitor is not None:
            visitor.record_consent(subscriber, Consent.Action.CONFIRM)
    return changed


def pause(subscriber: Subscriber) -> bool:
    """Active -> paused: no digest until resumed."""
    return _move(subscriber, [Status.ACTIVE], status=Status.PAUSED, next_send_at=None)


def resume(subscriber: Subscriber) -> bool:
    """Paused -> active, from the next send hour."""
    return _move(
        subscriber, [Status.PAUSED], status=Status.ACTIVE, next_send_at=subscriber.next_send()
    )


def unsubscribe(subscriber: Subscriber) -> bool:
    """Pending, active or paused -> unsubscribed: every email stops at once. Saying it
    twice changes nothing, and a suppressed address stays suppressed."""
    return _move(
        subscriber,
        MAILABLE,
        status=Status.UNSUBSCRIBED,
        unsubscribed_at=timezone.now(),
        next_send_at=None,
    )


def resubscribe(subscriber: Subscriber, visitor: Visitor | None = None) -> bool:
    """Unsubscribed -> active, with the topics and schedule they had. Only for someone
    who proved they own the address (signed in) or an operator."""
    with transaction.atomic():
        changed = _move(
            subscriber,
            [Status.UNSUBSCRIBED],
            status=Status.ACTIVE,
            unsubscribed_at=None,
            next_send_at=subscriber.next_send(),
        )
        if changed and visitor is not None:
            visitor.record_consent(subscriber, Consent.Action.RESUBSCRIBE)
    return changed


def suppress(email: str, reason: str, event: EmailEvent | None = None) -> bool:
    """Never mail ``email`` again: a suppression (kept after its subscriber is erased),
    and its pending, active or paused subscriber held as suppressed. True when either is
    new."""
    with transaction.atomic():
        row, created = Suppression.objects.get_or_create(
            email=Suppression.normalize(email), defaults={"reason": reason, "event": event}
        )
        held = Subscriber.objects.filter(email=row.email, status__in=MAILABLE).update(
            status=Status.SUPPRESSED, next_send_at=None
        )
    return created or bool(held)


def lift(email: str, *, reactivate: bool = False) -> bool:
    """Mail ``email`` again: its suppression goes, and its held subscriber becomes active
    (``reactivate``, only when its owner asked) or unsubscribed (they sign up again
    themselves). True when a held subscriber was released."""
    now = timezone.now()
    with transaction.atomic():
        Suppression.objects.of(email).delete()
        held = Subscriber.objects.filter(
            email=Suppression.normalize(email), status=Status.SUPPRESSED
        ).first()
        if held is None:
            return False
        if reactivate:
            return _move(
                held,
                [Status.SUPPRESSED],
                status=Status.ACTIVE,
                soft_bounces=0,
                next_send_at=held.next_send(now),
            )
        return _move(
            held,
            [Status.SUPPRESSED],
            status=Status.UNSUBSCRIBED,
            unsubscribed_at=now,
            next_send_at=None,
        )


def reschedule(subscribers: Sequence[Subscriber], after: dt.datetime | None = None) -> None:
    """Move each subscriber's next send to their send hour after ``after`` (default now),
    written only for those still active: one who paused or unsubscribed meanwhile (while
    their digest was being sent, say) keeps no schedule."""
    for subscriber in subscribers:
        subscriber.schedule_next(after)
    # bulk_update keeps the queryset's filter in its UPDATE's WHERE.
    Subscriber.objects.active().bulk_update(subscribers, ["next_send_at"])


# The admin's status field: the one transition from the current status to the chosen one.
_ROUTES: dict[tuple[str, str], Callable[[Subscriber], bool]] = {
    (Status.PENDING, Status.ACTIVE): confirm,
    (Status.PAUSED, Status.ACTIVE): resume,
    (Status.UNSUBSCRIBED, Status.ACTIVE): resubscribe,
    (Status.SUPPRESSED, Status.ACTIVE): lambda s: lift(s.email, reactivate=True),
    (Status.ACTIVE, Status.PAUSED): pause,
    **{(start, Status.UNSUBSCRIBED): unsubscribe for start in MAILABLE},
    (Status.SUPPRESSED, Status.UNSUBSCRIBED): lambda s: lift(s.email),
    **{
        (start, Status.SUPPRESSED): lambda s: suppress(s.email, Suppression.Reason.MANUAL)
        for start in MAILABLE
    },
}


def reachable(status: str) -> list[str]:
    """``status`` and every status one transition leads to from it, in the model's order."""
    return [to for to in Status.values if to == status or (status, to) in _ROUTES]


def move_to(subscriber: Subscriber, status: str) -> bool:
    """Take ``subscriber`` from its status to ``status`` by the one transition that
    leads there; False when none does or it lost a race."""
    route = _ROUTES.get((subscriber.status, status))
    return route(subscriber) if route else False
