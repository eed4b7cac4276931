from __future__ import annotations

import datetime

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_page

from digest import daily

# The papers pages are the same for every visitor (no session, no CSRF token) and
# change once a day, so whole responses are cached briefly in the shared cache.
PAGE_CACHE_SECONDS = 60


def _papers_page(request: HttpRequest, day: datetime.date | None) -> HttpResponse:
    asked = request.GET.get("page", "1")
    if not asked.isdigit() or not 1 <= int(asked) <= 10_000:
        raise Http404("No such page")
    page = int(asked)
    papers = list(daily.papers_of_day(day, page)) if day else []
    context = {
        "day": day,
        "page": page,
        "first": (page - 1) * daily.PAPERS_PER_PAGE,
        "papers": papers,
        "neighbours": daily.neighbours(day) if day else None,
        "is_latest": bool(request.resolver_match and request.resolver_match.url_name == "home"),
    }
    found = papers or (not day and page == 1)
    return render(request, "digest/day.html", context, status=200 if found else 404)


@cache_page(PAGE_CACHE_SECONDS)
def home(request: HttpRequest) -> HttpResponse:
    return _papers_page(request, daily.latest_day())


@cache_page(PAGE_CACHE_SECONDS)
def day(request: HttpRequest, day: str) -> HttpResponse:
    try:
        parsed = datetime.date.fromisoformat(day)
    except ValueError:
        raise Http404("Not a date") from None
    return _papers_page(request, parsed)
