"""Benchmark data: a day's papers and a crowd of subscribers, shaped like the real thing.

Papers are recombined from the real samples in ``tests/data/`` (Hugging Face Daily Papers,
the arXiv API, a Daily Papers page): real titles, abstract sentences, author names and
categories, with upvotes drawn from the long tail the Daily Papers samples show. They are
written out as the two listings the ingest code reads (an rss.arxiv.org listing and a Hugging
Face ``daily_papers`` JSON page), so the benchmark's ingest stage runs the real parsers.

Subscribers are inserted in bulk (PostgreSQL ``COPY``, ``bulk_create`` elsewhere) with a mix
of catalogue and personal topics, time zones, hours and caps. Everything is seeded, so two
runs with the same sizes build the same data.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast
from xml.sax.saxutils import escape

from django.db import connection, models

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "data"
ATOM = "{http://www.w3.org/2005/Atom}"

# What a researcher-facing catalogue typically offers, in the topic language.
CATALOGUE = [
    ("Knowledge distillation", "knowledge distillation"),
    ("Mixture of experts", '"mixture of experts"'),
    ("Continual learning", "continual learning"),
    ("Diffusion models", "diffusion, score-based"),
    ("Machine unlearning", "unlearning -survey"),
    ("Reinforcement learning", "reinforcement learning"),
    ("Large language models", "language model"),
    ("Retrieval-augmented generation", "retrieval augmented generation"),
    ("Vision-language models", "vision language"),
    ("Embodied agents", "embodied, robot"),
    ("Speech", "speech recognition"),
    ("Efficient inference", "quantization, pruning"),
    ("Software testing", "software testing"),
    ("Graph neural networks", '"graph neural network"'),
    ("Benchmarks", "benchmark"),
    ("Reasoning", "reasoning"),
    ("Multimodal", "multimodal"),
    ("Video generation", "video generation"),
    ("Alignment", "alignment, preference"),
    ("Negative sampling", "negative sampling"),
    ("Computation and Language", "category:cs.CL"),
    ("Machine Learning", "category:cs.LG"),
    ("Computer Vision", "category:cs.CV"),
    ("Artificial Intelligence", "category:cs.AI"),
    ("Software Engineering", "category:cs.SE"),
]
# Where subscribers live, weighted roughly like a research audience.
TIME_ZONES = [
    ("America/New_York", 14),
    ("America/Los_Angeles", 10),
    ("America/Chicago", 4),
    ("America/Sao_Paulo", 3),
    ("Europe/London", 8),
    ("Europe/Berlin", 8),
    ("Europe/Paris", 6),
    ("Europe/Zurich", 3),
    ("Asia/Shanghai", 14),
    ("Asia/Tokyo", 5),
    ("Asia/Seoul", 4),
    ("Asia/Kolkata", 7),
    ("Asia/Singapore", 3),
    ("Australia/Sydney", 3),
    ("Africa/Nairobi", 1),
    ("UTC", 7),
]
EXTRA_CATEGORIES = ["cs.LG", "cs.CL", "cs.CV", "cs.AI", "cs.RO", "stat.ML", "cs.IR"]
STOP = {
    "a",
    "an",
    "and",
    "are",
    "as",
    "at",
    "for",
    "from",
    "in",
    "into",
    "of",
    "on",
    "the",
    "to",
    "with",
}


@dataclass(frozen=True)
class SamplePaper:
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    upvotes: int


@dataclass(frozen=True)
class GenPaper:
    arxiv_id: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    upvotes: int
    comments: int


@dataclass
class SubscriberMix:
    """What was inserted, for the report and for checking the run."""

    total: int = 0
    due: int = 0
    inactive: int = 0
    topic_links: int = 0
    own_topic_lines: int = 0
    time_zones: dict[str, int] = field(default_factory=dict)


def _clean(text: str) -> str:
    return " ".join((text or "").split())


def load_samples(folder: Path = SAMPLES) -> list[SamplePaper]:
    """Every paper in the real samples, with the fields the generator recombines."""
    samples: list[SamplePaper] = []
    for path in sorted(folder.glob("hf_daily_papers_*.json")):
        for entry in json.loads(path.read_text()):
            paper = entry["paper"]
            samples.append(
                SamplePaper(
                    title=_clean(paper["title"]),
                    abstract=_clean(paper.get("summary", "")),
                    authors=tuple(a["name"] for a in paper.get("authors", []) if a.get("name")),
                    categories=(),
                    upvotes=int(paper.get("upvotes") or 0),
                )
            )
    # The samples are our own committed files, not input from outside.
    api = ET.parse(folder / "arxiv_api_atom_2026_q_testing_m100.body.xml").getroot()  # noqa: S314
    for entry in api.iter(f"{ATOM}entry"):
        samples.append(
            SamplePaper(
                title=_clean(entry.findtext(f"{ATOM}title", "")),
                abstract=_clean(entry.findtext(f"{ATOM}summary", "")),
                authors=tuple(
                    _clean(a.findtext(f"{ATOM}name", "")) for a in entry.iter(f"{ATOM}author")
                ),
                categories=tuple(c.get("term", "") for c in entry.iter(f"{ATOM}category")),
                upvotes=0,
            )
        )
    page = ET.parse(folder / "daily-papers-aug29.rss").getroot()  # noqa: S314
    for item in page.iter("item"):
        samples.append(
            SamplePaper(
                title=_clean(item.findtext("title", "")),
                abstract=_clean(item.findtext("description", "")),
                authors=(),
                categories=(),
                upvotes=0,
            )
        )
    return [s for s in samples if s.title and s.abstract]


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


def make_papers(count: int, *, seed: int = 1) -> list[GenPaper]:
    """``count`` papers for one day: each takes a real title (or a real title's head joined
    to another's subtitle), the opening of one real abstract and the close of another, real
    author names and categories, and long-tailed upvotes."""
    rng = random.Random(seed)
    samples = load_samples()
    authors = sorted({name for s in samples for name in s.authors})
    papers = []
    for i in range(count):
        a, b = samples[i % len(samples)], rng.choice(samples)
        title = a.title
        if i >= len(samples) and ":" in a.title and ":" in b.title:
            title = f"{a.title.split(':', 1)[0]}: {b.title.split(':', 1)[1].strip()}"
        elif i >= len(samples):
            title = f"{a.title} ({rng.choice(['revisited', 'at scale', 'in practice'])})"
        first, second = _sentences(a.abstract), _sentences(b.abstract)
        abstract = " ".join(first[: max(1, len(first) // 2)] + second[len(second) // 2 :])
        n_authors = min(len(a.authors) or rng.randint(2, 8), 40)
        names = a.authors if i < len(samples) and a.authors else rng.sample(authors, n_authors)
        categories = a.categories or tuple(
            dict.fromkeys(["cs.LG", *rng.sample(EXTRA_CATEGORIES, rng.randint(1, 3))])
        )
        upvotes = a.upvotes if i < len(samples) else min(int(rng.paretovariate(1.1)) - 1, 400)
        papers.append(
            GenPaper(
                arxiv_id=f"2611.{10000 + i:05d}",
                title=title,
                abstract=abstract,
                authors=tuple(names),
                categories=categories,
                upvotes=upvotes,
                comments=upvotes // 7,
            )
        )
    return papers


def arxiv_listing_rss(papers: Sequence[GenPaper], day: dt.date) -> bytes:
    """The papers as one day's rss.arxiv.org listing (the shape of
    ``tests/data/arxiv_rss2_rss.arxiv.org_cs.LG_trimmed.xml``)."""
    pub = dt.datetime.combine(day, dt.time()).strftime("%a, %d %b %Y 00:00:00 -0500")
    items = []
    for p in papers:
        cats = "".join(f"<category>{escape(c)}</category>" for c in p.categories)
        items.append(
            f"<item><title>{escape(p.title)}</title>"
            f"<link>https://arxiv.org/abs/{p.arxiv_id}</link>"
            f"<description>arXiv:{p.arxiv_id}v1 Announce Type: new \n"
            f"Abstract: {escape(p.abstract)}</description>"
            f'<guid isPermaLink="false">oai:arXiv.org:{p.arxiv_id}v1</guid>{cats}'
            f"<pubDate>{pub}</pubDate><arxiv:announce_type>new</arxiv:announce_type>"
            f"<dc:rights>http://arxiv.org/licenses/nonexclusive-distrib/1.0/</dc:rights>"
            f"<dc:creator>{escape(', '.join(p.authors))}</dc:creator></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom" version="2.0"><channel>'
        "<title>cs.LG updates on arXiv.org</title><link>http://rss.arxiv.org/rss/cs.LG</link>"
        "<description>cs.LG updates on the arXiv.org e-print archive.</description>"
        f"<language>en-us</language><pubDate>{pub}</pubDate>{''.join(items)}</channel></rss>"
    ).encode()


def hf_daily_json(papers: Sequence[GenPaper], day: dt.date) -> bytes:
    """The most upvoted papers as a Hugging Face ``daily_papers`` page (2026 schema)."""
    stamp = f"{day.isoformat()}T00:00:00.000Z"
    entries = [
        {
            "paper": {
                "id": p.arxiv_id,
                "authors": [{"name": name, "hidden": False} for name in p.authors],
                "publishedAt": stamp,
                "submittedOnDailyAt": stamp,
                "title": p.title,
                "summary": p.abstract,
                "upvotes": p.upvotes,
            },
            "title": p.title,
            "summary": p.abstract,
            "publishedAt": stamp,
            "numComments": p.comments,
        }
        for p in sorted(papers, key=lambda p: -p.upvotes)
        if p.upvotes > 0
    ]
    return json.dumps(entries).encode()


def personal_topics(papers: Sequence[GenPaper], count: int, *, seed: int = 2) -> list[str]:
    """Topics people type: title phrases, quoted phrases, exclusions, authors, alternatives."""
    rng = random.Random(seed)
    pool: list[str] = []
    while len(pool) < count:
        paper = rng.choice(papers)
        words = [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z-]{3,}", paper.title)]
        words = [w for w in words if w not in STOP]
        kind = rng.random()
        if kind < 0.15 and paper.authors:
            pool.append(f"author:{rng.choice(paper.authors).split()[-1]}")
        elif len(words) < 2:
            continue
        elif kind < 0.55:
            start = rng.randrange(len(words) - 1)
            pool.append(" ".join(words[start : start + 2]))
        elif kind < 0.7:
            start = rng.randrange(len(words) - 1)
            pool.append(f'"{words[start]} {words[start + 1]}"')
        elif kind < 0.85:
            pool.append(f"{words[0]} -survey")
        else:
            pool.append(f"{words[0]}, {words[-1]}")
    return pool


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Iterable[tuple]) -> None:
    """Insert plain tuples: one ``COPY`` on PostgreSQL, ``bulk_create`` elsewhere."""
    if connection.vendor == "postgresql":
        # Each is a concrete field, with a column.
        columns = ", ".join(cast(models.Field, model._meta.get_field(f)).column for f in fields)
        with connection.cursor() as cursor:
            sql = f"COPY {model._meta.db_table} ({columns}) FROM STDIN"
            with cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        return
    objects = (model(**dict(zip(fields, row, strict=True))) for row in rows)
    batch: list[models.Model] = []
    for obj in objects:
        batch.append(obj)
        if len(batch) == 2000:
            model._default_manager.bulk_create(batch)
            batch = []
    model._default_manager.bulk_create(batch)


def create_topics() -> list[int]:
    from digest.models import Topic

    Topic.objects.bulk_create(
        [Topic(name=name, query=query, order=i) for i, (name, query) in enumerate(CATALOGUE)],
        ignore_conflicts=True,
    )
    return list(Topic.objects.order_by("order").values_list("pk", flat=True))


def create_subscribers(
    count: int,
    papers: Sequence[GenPaper],
    *,
    now: dt.datetime,
    seed: int = 3,
    inactive_share: float = 0.05,
) -> SubscriberMix:
    """``count`` subscribers, all due at ``now`` except ``inactive_share`` of them, who are
    paused, unsubscribed or unconfirmed (and due on paper, so the run must skip them).

    Each follows 1 to 6 catalogue topics (popular ones more often) and 0 to 5 personal ones
    drawn from a shared pool, as people copy each other's ideas of a topic.
    """
    from accounts.models import Subscriber

    rng = random.Random(seed)
    topic_ids = create_topics()
    own_pool = personal_topics(papers, max(50, count // 20), seed=seed)
    zones, weights = zip(*TIME_ZONES, strict=True)
    inactive = ["paused", "unsubscribed", "pending"]
    mix = SubscriberMix(total=count)
    rows, links = [], []
    for i in range(count):
        zone = rng.choices(zones, weights)[0]
        mix.time_zones[zone] = mix.time_zones.get(zone, 0) + 1
        status = rng.choice(inactive) if rng.random() < inactive_share else "active"
        mix.due += status == "active"
        mix.inactive += status != "active"
        own = [rng.choice(own_pool) for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 5]))]
        mix.own_topic_lines += len(own)
        weekly = rng.random() < 0.1
        rows.append(
            (
                f"reader{i:06d}@bench.example",
                status,
                "\n".join(dict.fromkeys(own)),
                "weekly" if weekly else "daily",
                now.weekday(),
                rng.choice([6, 7, 7, 7, 8, 8, 9]),
                zone,
                rng.choice([5, 10, 10, 10, 20]),
                0.0,
                # Due some time in the last four hours: the beat was down, or this is the
                # busiest hour; either way all of them are due at once.
                now - dt.timedelta(minutes=rng.randint(1, 240)),
                now - dt.timedelta(days=rng.randint(1, 700)),
                0,
                0,
            )
        )
        picks = {rng.choices(topic_ids, [1 / (k + 1) for k in range(len(topic_ids))])[0]}
        picks.update(rng.sample(topic_ids, rng.randint(0, 5)))
        links.append(picks)
    fields = (
        "email",
        "status",
        "own_topics",
        "frequency",
        "weekday",
        "send_hour",
        "time_zone",
        "max_papers",
        "min_score",
        "next_send_at",
        "created_at",
        "token_nonce",
        "soft_bounces",
    )
    insert_rows(Subscriber, fields, rows)
    ids = dict(
        Subscriber.objects.filter(email__endswith="@bench.example").values_list("email", "pk")
    )
    through = Subscriber.topics.through
    link_rows = [
        (ids[row[0]], topic_id)
        for row, picks in zip(rows, links, strict=True)
        for topic_id in picks
    ]
    mix.topic_links = len(link_rows)
    insert_rows(through, ("subscriber_id", "topic_id"), link_rows)
    return mix
