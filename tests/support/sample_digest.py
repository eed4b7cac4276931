"""Test helpers for the digest email: real sample papers, a subscriber, matches.

Papers come from a real Hugging Face Daily Papers capture through the real ingest code.
"""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from pathlib import Path

from accounts.models import Subscriber
from digest.ingest.store import ingest_file
from digest.matching import Match
from digest.models import Digest, DigestItem, Paper, Topic

SAMPLE = Path(__file__).parent.parent / "data" / "hf_daily_papers_2026-08-20.json"


def sample_papers(limit: int = 10) -> list[Paper]:
    """Up to 15 real papers, most upvoted first."""
    ingest_file(SAMPLE)
    return list(Paper.objects.order_by("-upvotes", "pk")[:limit])


def subscriber(email: str = "ada@example.org", **fields) -> Subscriber:
    fields.setdefault("status", Subscriber.Status.ACTIVE)
    person = Subscriber.objects.create(email=email, **fields)
    topic, _ = Topic.objects.get_or_create(name="Embodied agents", defaults={"query": "robot"})
    person.topics.add(topic)
    return person


def match(
    paper: Paper, topic: str = "Embodied agents", terms: tuple[str, ...] = (), **why
) -> Match:
    """A Match as digest.matching makes them (``why``: kind and sentence)."""
    return Match(paper=paper, score=1.0, topic=topic, terms=terms, **why)


def sent_digest(person: Subscriber, matches: list[Match]) -> Digest:
    """A digest recorded as sent with its items, as delivery stores it."""
    digest = Digest.objects.create(
        subscriber=person, edition=dt.date(2026, 8, 20), status=Digest.Status.SENT
    )
    DigestItem.objects.bulk_create(
        DigestItem(
            digest=digest,
            paper=m.paper,
            rank=rank,
            score=m.score,
            topic=m.topic,
            terms=list(m.terms),
            kind=m.kind,
            sentence=m.sentence,
        )
        for rank, m in enumerate(matches, start=1)
    )
    return digest


class Tags(HTMLParser):
    """Every start tag with its attributes, in order."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
