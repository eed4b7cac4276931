"""The signup page's live "today this would have found N papers" preview."""

from __future__ import annotations

import hashlib
import json

from django.core.cache import cache

from accounts.forms import MAX_OWN_TOPICS, check_topic_line
from accounts.models import topic_lines
from digest.daily import latest_day
from digest.matching import match_topic
from digest.models import Topic

EXAMPLES = 3
CACHE_SECONDS = 600
MAX_CATALOGUE_TOPICS = 50


def _count_matches(queries: list[str], day) -> tuple[int, list[str]]:
    best: dict[int, tuple[float, str]] = {}
    for query in queries:
        for match in match_topic(query, day=day):
            known = best.get(match.paper.pk)
            if known is None or match.score > known[0]:
                best[match.paper.pk] = (match.score, match.paper.title)
    ranked = sorted(best.values(), key=lambda pair: -pair[0])
    return len(best), [title for _, title in ranked[:EXAMPLES]]


def topic_preview(typed: str, topic_ids: list[str]) -> dict:
    """Check each typed line and count the latest day's papers all topics would find.

    Returns ``{"day", "count", "examples": [titles], "errors": [{"line", "error"}]}``.
    """
    queries, errors = [], []
    for number, line in enumerate(topic_lines(typed)[:MAX_OWN_TOPICS], start=1):
        problem = check_topic_line(line)
        if problem:
            errors.append({"line": number, "error": problem})
        else:
            queries.append(line)
    ids = sorted({int(pk) for pk in topic_ids if pk.isdigit()})[:MAX_CATALOGUE_TOPICS]
    if ids:
        queries += Topic.objects.filter(pk__in=ids, public=True).values_list("query", flat=True)
    day = latest_day()
    result = {"day": day.isoformat() if day else None, "count": 0, "examples": [], "errors": errors}
    if not queries or day is None:
        return result
    key = (
        "topic-preview:"
        + hashlib.sha256(json.dumps([day.isoformat(), queries]).encode()).hexdigest()
    )
    found = cache.get(key)
    if found is None:
        found = _count_matches(queries, day)
        cache.set(key, found, CACHE_SECONDS)
    result["count"], result["examples"] = found[0], list(found[1])
    return result
