from __future__ import annotations

import datetime

from django.http import Http404
from django.shortcuts import render

from digest.models import Listing, Paper


def _papers_page(request, day: datetime.date | None):
    if day is None:
        day = Listing.objects.order_by("-day").values_list("day", flat=True).first()
    papers = Paper.objects.listed_on(day).order_by("-upvotes", "id")[:100] if day else []
    return render(request, "digest/day.html", {"day": day, "papers": papers})


def home(request):
    return _papers_page(request, None)


def day(request, day: str):
    try:
        parsed = datetime.date.fromisoformat(day)
    except ValueError:
        raise Http404("Not a date") from None
    return _papers_page(request, parsed)
