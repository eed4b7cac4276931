"""The signup page's live "today this would have found N papers" preview.

A public endpoint anyone can call with up to 20 typed lines, so its work is bounded
whatever they hold (docs/security.md, "Previews"): lines are capped, a wildcard stands
for at most ``PREFIX_WORDS`` words, each line is evaluated once per process and cached,
the count builds no result per paper, and after ``PREVIEW_SECONDS`` the remaining lines
are reported as not previewed rather than evaluated.
"""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.core.cache import cache

from accounts.forms import MAX_OWN_TOPICS, check_topic_line
from accounts.models import topic_lines
from digest.daily import latest_day
from digest.matching import preview_topics
from digest.models import Topic

EXAMPLES = 3
CACHE_SECONDS = 600
MAX_CATALOGUE_TOPICS = 50


def _found(topics: list[tuple[str, str, str]], day) -> dict:
    found = preview_topics(topics, day, seconds=settings.PREVIEW_SECONDS, best=EXAMPLES)
    return {
        "count": found.count,
        "examples": [m.paper.title for m in found.best],
        "why": [m.why for m in found.best],
        "skipped": found.skipped,
    }


def topic_preview(typed: str, topic_ids: list[str]) -> dict:
    """Check each typed line and count the latest day's papers all topics would find.

    Returns ``{"day", "count", "examples": [titles], "why": [why of each example],
    "errors": [{"line", "error"}]}``; a line left out for time is among the errors.
    """
    topics: list[tuple[str, str, str]] = []
    errors: list[dict] = []
    numbers: dict[str, int] = {}
    for number, line in enumerate(topic_lines(typed)[:MAX_OWN_TOPICS], start=1):
        problem = check_topic_line(line)
        if problem:
            errors.append({"line": number, "error": problem})
        else:
            topics.append((line, line, ""))
            numbers.setdefault(line, number)
    ids = sorted({int(pk) for pk in topic_ids if pk.isdigit()})[:MAX_CATALOGUE_TOPICS]
    if ids:
        catalogue = Topic.objects.filter(pk__in=ids, public=True)
        topics += [(t.query, t.name, t.about) for t in catalogue]
    day = latest_day()
    result = {
        "day": day.isoformat() if day else None,
        "count": 0,
        "examples": [],
        "why": [],
        "errors": errors,
    }
    if not topics or day is None:
        return result
    signature = json.dumps([day.isoformat(), topics]).encode()
    key = "topic-preview:" + hashlib.sha256(signature).hexdigest()
    found = cache.get(key)
    if found is None:
        found = _found(topics, day)
        cache.set(key, found, CACHE_SECONDS)
    result.update(count=found["count"], examples=found["examples"], why=found["why"])
    for label in found["skipped"]:
        if label in numbers:
            errors.append({"line": numbers[label], "error": "Not previewed: too much at once."})
    return result
