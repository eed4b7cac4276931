"""The day's papers as the public pages show them: ranked by popularity."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Max, Min, Q, QuerySet

from digest.models import Listing, Paper

# A busy day lists a hundred papers: a phone shows them a page at a time.
PAPERS_PER_PAGE = 20


def latest_day() -> dt.date | None:
    """The most recent day any source listed papers for."""
    return Listing.objects.aggregate(day=Max("day"))["day"]


def papers_of_day(day: dt.date, page: int = 1) -> QuerySet[Paper]:
    """One query (lazy): page ``page`` of the papers listed on ``day``, each once, most
    upvoted that day first, then in the sources' own order."""
    start = (page - 1) * PAPERS_PER_PAGE
    return (
        Paper.objects.filter(listings__day=day)
        .annotate(day_upvotes=Max("listings__upvotes"), day_rank=Min("listings__rank"))
        .order_by("-day_upvotes", "day_rank", "id")[start : start + PAPERS_PER_PAGE]
    )


@dataclass(frozen=True)
class Neighbours:
    earlier: dt.date | None
    later: dt.date | None
    papers: int  # on the day itself

    @property
    def pages(self) -> int:
        return max(1, -(-self.papers // PAPERS_PER_PAGE))


def neighbours(day: dt.date) -> Neighbours:
    """The closest days before and after ``day`` that have papers, and how many papers
    ``day`` has (one query)."""
    found = Listing.objects.aggregate(
        earlier=Max("day", filter=Q(day__lt=day)),
        later=Min("day", filter=Q(day__gt=day)),
        papers=Count("paper", distinct=True, filter=Q(day=day)),
    )
    return Neighbours(found["earlier"], found["later"], found["papers"])
