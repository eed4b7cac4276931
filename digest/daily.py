"""The day's papers as the public pages show them: ranked by popularity."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Max, Min, Q, QuerySet

from digest.models import Listing, Paper

PAPERS_PER_PAGE = 100


def latest_day() -> dt.date | None:
    """The most recent day any source listed papers for."""
    return Listing.objects.aggregate(day=Max("day"))["day"]


def papers_of_day(day: dt.date, limit: int = PAPERS_PER_PAGE) -> QuerySet[Paper]:
    """One query (lazy): each paper listed on ``day`` once, most upvoted that day
    first, then in the sources' own order."""
    return (
        Paper.objects.filter(listings__day=day)
        .annotate(day_upvotes=Max("listings__upvotes"), day_rank=Min("listings__rank"))
        .order_by("-day_upvotes", "day_rank", "id")[:limit]
    )


@dataclass(frozen=True)
class Neighbours:
    earlier: dt.date | None
    later: dt.date | None


def neighbours(day: dt.date) -> Neighbours:
    """The closest days before and after ``day`` that have papers (one query)."""
    found = Listing.objects.aggregate(
        earlier=Max("day", filter=Q(day__lt=day)),
        later=Min("day", filter=Q(day__gt=day)),
    )
    return Neighbours(found["earlier"], found["later"])
