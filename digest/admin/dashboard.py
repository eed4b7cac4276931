"""The figures on the admin dashboard, as plain functions of the database.

Each function runs a fixed, small number of aggregate queries on indexed
columns, so the dashboard stays quick on a large installation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.models import Subscriber
from digest.daily import latest_day
from digest.models import Digest, EmailEvent, Source, SourceRun

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

# Large mailbox providers (Gmail, Yahoo) ask bulk senders to stay below 0.1% of
# spam complaints and act against those who reach 0.3%.
COMPLAINT_RATE_WARNING = 0.001
COMPLAINT_RATE_LIMIT = 0.003
# Above this a sending provider usually reviews or pauses the account.
BOUNCE_RATE_WARNING = 0.02
RATE_WINDOW = dt.timedelta(days=30)
# The rates count a month of digests (millions on a big installation): computed at most
# this often, not on every visit to the dashboard.
RATES_CACHE_SECONDS = 300


@dataclass(frozen=True)
class Rate:
    """``count`` events out of ``sent`` digests, judged against two lines."""

    count: int
    sent: int
    warning: float
    limit: float | None = None

    @property
    def value(self) -> float:
        return self.count / self.sent if self.sent else 0.0

    @property
    def percent(self) -> str:
        return f"{self.value:.2%}"

    @property
    def level(self) -> str:
        """ "ok", "warning" or "danger", for the page to colour the figure."""
        if self.limit is not None and self.value >= self.limit:
            return "danger"
        if self.value >= self.warning:
            return "warning"
        return "ok"


def day_start(now: dt.datetime) -> dt.datetime:
    """Midnight UTC of ``now``'s UTC day: the dashboard's "today"."""
    return now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def subscribers_by_status() -> list[tuple[str, str, int]]:
    """(status, label, count) for every status, zeros included."""
    counts = dict(
        Subscriber.objects.order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return [(value, label, counts.get(value, 0)) for value, label in Subscriber.Status.choices]


def pending_confirmations(now: dt.datetime) -> dict[str, int]:
    """Pending subscribers, and how many of their confirmation links have expired."""
    week_ago = now - dt.timedelta(days=7)
    return Subscriber.objects.filter(status=Subscriber.Status.PENDING).aggregate(
        total=Count("id"),
        expired=Count("id", filter=Q(confirmation_sent_at__lt=week_ago)),
    )


class _RunTotals(TypedDict):
    runs_today: int
    new_today: int
    updated_today: int
    rejected_today: int


def ingest_today(now: dt.datetime) -> list[WithAnnotations[Source, _RunTotals]]:
    """Every source with today's (UTC) run totals annotated, and its last run's status."""
    today = Q(runs__day=now.astimezone(dt.UTC).date())
    return list(
        Source.objects.annotate(
            runs_today=Count("runs", filter=today),
            new_today=Sum("runs__new", filter=today, default=0),
            updated_today=Sum("runs__updated", filter=today, default=0),
            rejected_today=Sum("runs__rejected", filter=today, default=0),
        ).order_by("name")
    )


def digests_today(now: dt.datetime) -> dict[str, int]:
    """Digests created since midnight UTC: finished ones by status; claimed ones split into
    those a live worker holds now (its lease renewed, not yet run out) and those waiting
    for a dispatch tick (released for a retry, or left by a worker that died)."""
    claimed = Q(status=Digest.Status.CLAIMED)
    held = claimed & Q(lease_expires_at__gt=now) & ~Q(claim_token="")
    counts = {
        value: Count("id", filter=Q(status=value))
        for value in Digest.Status.values
        if value != Digest.Status.CLAIMED
    }
    return Digest.objects.filter(created_at__gte=day_start(now)).aggregate(
        **counts,
        in_progress=Count("id", filter=held),
        waiting=Count("id", filter=claimed & ~held),
    )


def delivery_rates(now: dt.datetime, window: dt.timedelta = RATE_WINDOW) -> dict[str, Rate]:
    """Bounce and complaint rates over ``window``: provider events per sent digest."""
    since = now - window
    sent = Digest.objects.filter(status=Digest.Status.SENT, created_at__gte=since).count()
    # Filtered on the indexed type first: "delivered" and "opened" rows outnumber these.
    events = EmailEvent.objects.filter(
        received_at__gte=since, event_type__in=["bounced", "complained"]
    ).aggregate(
        bounced=Count("id", filter=Q(event_type="bounced")),
        complained=Count("id", filter=Q(event_type="complained")),
    )
    return {
        "bounce": Rate(events["bounced"], sent, BOUNCE_RATE_WARNING),
        "complaint": Rate(events["complained"], sent, COMPLAINT_RATE_WARNING, COMPLAINT_RATE_LIMIT),
    }


def latest_errors(limit: int = 5) -> dict[str, list]:
    """The most recent failed or partial source runs and failed digests."""
    runs = (
        SourceRun.objects.filter(status__in=[Source.Status.ERROR, Source.Status.PARTIAL])
        .select_related("source")
        .order_by("-started_at")[:limit]
    )
    digests = (
        Digest.objects.filter(status=Digest.Status.FAILED)
        .select_related("subscriber")
        .order_by("-created_at")[:limit]
    )
    return {"runs": list(runs), "digests": list(digests)}


def summary(now: dt.datetime | None = None, *, show_addresses: bool = False) -> dict:
    """Everything the dashboard shows, for the admin index's context. Subscribers'
    addresses only for ``show_addresses`` (staff allowed to view subscribers)."""
    from accounts.signup import FORM_EMAIL_CAP_REACHED

    now = now or timezone.now()
    return {
        "now": now,
        "show_addresses": show_addresses,
        "form_email_cap_reached_at": cache.get(FORM_EMAIL_CAP_REACHED),
        "subscribers": subscribers_by_status(),
        "pending": pending_confirmations(now),
        "sources": ingest_today(now),
        "digests": digests_today(now),
        "rates": cache.get_or_set(
            "dashboard:delivery-rates", lambda: delivery_rates(now), RATES_CACHE_SECONDS
        ),
        "rate_window_days": RATE_WINDOW.days,
        "complaint_limit": f"{COMPLAINT_RATE_LIMIT:.1%}",
        "errors": latest_errors(),
        "latest_day": latest_day(),
    }
