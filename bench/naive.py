"""The naive daily run, one subscriber at a time, measured on a slice.

What a first version would do: for each subscriber, compile their topics to regular
expressions and scan every paper (one regex pass per subscriber); save the digest and each
of its items with one ``save()`` apiece; render the email; hand it over with one
``send()``, which opens a new connection to the provider for every message. Rendering is
the real code (there is no cheaper naive way to render). Database writes happen inside a
transaction that is rolled back, so the real run that follows starts clean.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.test import override_settings
from django.utils import timezone

if TYPE_CHECKING:
    from digest.models import Paper


@dataclass(frozen=True)
class NaiveMatch:
    paper: Paper
    score: float
    topic: str
    terms: tuple[str, ...]
    why: str
    kind: str = "words"


def _topic_regexes(query: str) -> list[tuple[str, re.Pattern, list[re.Pattern]]]:
    """A topic as (field, pattern, exclusions) alternatives, roughly as a person means it."""
    alternatives = []
    for part in query.split(","):
        words = part.split()
        field = "text"
        excluded = [re.compile(rf"\b{re.escape(w[1:])}", re.I) for w in words if w[:1] == "-"]
        words = [w.strip('"') for w in words if w[:1] != "-"]
        if words and ":" in words[0]:
            field, words[0] = words[0].split(":", 1)
        if words := [w for w in words if w]:
            pattern = r"\W+".join(rf"{re.escape(w)}\w*" for w in words)
            alternatives.append((field, re.compile(rf"\b{pattern}", re.I), excluded))
    return alternatives


def naive_match(subscriber, papers: list) -> list[NaiveMatch]:
    """One subscriber's papers, by regex over every paper's title and abstract."""
    found = []
    queries = subscriber.topic_queries()
    for paper in papers:
        text = f"{paper.title} {paper.abstract}"
        for query in queries:
            for field, pattern, excluded in _topic_regexes(query):
                haystack = {
                    "author": " ".join(paper.authors),
                    "category": " ".join(paper.categories),
                }.get(field, text)
                hit = pattern.search(haystack)
                if hit and not any(x.search(text) for x in excluded):
                    score = 1.0 + ("title" in field or bool(pattern.search(paper.title)))
                    found.append(NaiveMatch(paper, score, query, (hit.group(0),), query))
                    break
            else:
                continue
            break
    found.sort(key=lambda m: (-m.score, -m.paper.upvotes))
    return found[: subscriber.max_papers]


def measure(subscribers: list, papers: list, port: int) -> dict[str, float]:
    """Seconds per subscriber for each stage, done the naive way on ``subscribers``."""
    from digest.mail.compose import build_message, render_digest
    from digest.models import Digest, DigestItem

    spent = dict.fromkeys(("match", "store", "render", "handoff"), 0.0)
    messages = []
    with transaction.atomic():
        for subscriber in subscribers:
            started = time.perf_counter()
            matches = naive_match(subscriber, papers)
            spent["match"] += time.perf_counter() - started
            if not matches:
                continue
            started = time.perf_counter()
            digest = Digest.objects.create(subscriber=subscriber, edition=timezone.now().date())
            for rank, match in enumerate(matches, 1):
                DigestItem.objects.create(
                    digest=digest,
                    paper=match.paper,
                    rank=rank,
                    score=match.score,
                    topic=match.topic,
                    terms=list(match.terms),
                )
            spent["store"] += time.perf_counter() - started
            started = time.perf_counter()
            rendered = render_digest(subscriber, matches, digest=digest)
            messages.append(build_message(subscriber, rendered, digest=digest))
            spent["render"] += time.perf_counter() - started
        transaction.set_rollback(True)
    provider = {
        "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
        "ANYMAIL": {
            "POSTMARK_SERVER_TOKEN": "bench-token",
            "POSTMARK_API_URL": f"http://127.0.0.1:{port}/",
        },
    }
    with override_settings(**provider):
        started = time.perf_counter()
        for message in messages:
            message.send()  # a new connection to the provider for every message
        spent["handoff"] = time.perf_counter() - started
    return {stage: seconds / len(subscribers) for stage, seconds in spent.items()}
