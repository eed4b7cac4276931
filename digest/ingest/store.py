"""Fetch, parse and store a source's papers, recording each run.

``ingest_source(source, day)`` fetches over HTTP, ``ingest_file(path)`` reads a saved
file; both end in ``store()``, which is bulk and idempotent: papers are upserted by key
(a few queries per batch of 500, not per item), a paper keeps its first-seen time, a
newer version replaces its text, popularity is refreshed, and storing the same items
twice changes nothing. Neither function raises on bad input: the run records the error.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from digest.ingest import sources
from digest.ingest.fetch import FetchError, HTTPStatusError, fetch
from digest.ingest.sources.common import Item, Parsed
from digest.matching import fill_embeddings
from digest.models import Listing, Paper, Source, SourceRun

logger = logging.getLogger(__name__)

BATCH = 500
MAX_RECORDED_ERRORS = 200
_TEXT_FIELDS = (
    "arxiv_id",
    "title",
    "abstract",
    "authors",
    "categories",
    "abs_url",
    "pdf_url",
    "code_url",
    "project_url",
    "hf_url",
    "summary",
    "keywords",
)
_POPULARITY = ("upvotes", "comments", "github_stars")
_PAPER_FIELDS = (*_TEXT_FIELDS, "version", "published_at", *_POPULARITY, "updated_at")


@dataclass
class Counts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


def ingest_source(source: Source, day: dt.date | None = None) -> SourceRun:
    """Fetch ``source`` for ``day`` (default today, UTC), store what it lists, record the run.

    The papers are listed on the day the content names when its kind names one (an arXiv
    listing's announcement day), else on ``day``. Conditional GET: a 304 answer is a
    successful run with nothing to store.
    """
    run = SourceRun.objects.create(source=source, day=day or timezone.now().date())
    parser = sources.PARSERS.get(source.kind)
    if parser is None:
        return _finish(run, Parsed(error=f"unknown source kind {source.kind!r}"))
    etag, last_modified = ("", "") if parser.DAY_IN_URL else (source.etag, source.last_modified)
    try:
        response = fetch(parser.url(source, run.day), etag=etag, last_modified=last_modified)
    except HTTPStatusError as error:
        # The arXiv API explains a 400 in an Atom error entry: keep its words.
        detail = parser.parse(error.body).error if error.body else ""
        return _finish(run, Parsed(error=f"{error}: {detail}" if detail else str(error)))
    except (FetchError, ValueError) as error:
        return _finish(run, Parsed(error=str(error)))
    if response.not_modified:
        return _finish(run, Parsed(), note="not modified since the last run")
    parsed = _parse(parser, response.body)
    if parser.NAMES_ITS_DAY and parsed.day:
        run.day = parsed.day
    run = _finish(run, parsed)
    if run.status != Source.Status.ERROR:
        Source.objects.filter(pk=source.pk).update(
            etag=response.etag, last_modified=response.last_modified
        )
    return run


def ingest_file(
    path: str | Path, source: Source | None = None, day: dt.date | None = None
) -> SourceRun:
    """Store the papers of a saved file (kind detected from its content unless ``source``
    is given), listed by ``source`` (default a disabled "Files: <kind>" source) on ``day``
    (default the day the file itself names, else today)."""
    body = Path(path).read_bytes()
    kind = source.kind if source else sources.detect(body)
    if source is None:
        source, _ = Source.objects.get_or_create(
            name=f"Files: {Source.Kind(kind).label}", defaults={"kind": kind, "enabled": False}
        )
    run = SourceRun.objects.create(source=source, day=day or timezone.now().date())
    if len(body) > settings.FETCH_MAX_BYTES:
        return _finish(run, Parsed(error=f"file is over the {settings.FETCH_MAX_BYTES} byte cap"))
    parsed = _parse(sources.for_kind(kind), body)
    run.day = day or parsed.day or run.day
    return _finish(run, parsed)


def _parse(parser, body: bytes) -> Parsed:
    """The parser's result; a parser failing on input it did not foresee fails the run
    with the reason rather than the task (items are already guarded one by one)."""
    try:
        return parser.parse(body)
    except Exception as error:
        logger.exception("parser %s failed", parser.__name__)
        return Parsed(error=f"could not parse the feed ({error.__class__.__name__}: {error})")


def _finish(run: SourceRun, parsed: Parsed, *, note: str = "") -> SourceRun:
    counts = store(parsed.items, run.source, run.day) if parsed.items else Counts()
    run.new, run.updated, run.unchanged = counts.new, counts.updated, counts.unchanged
    run.rejected = len(parsed.rejected)
    run.errors = parsed.rejected[:MAX_RECORDED_ERRORS]
    run.error = parsed.error or note
    if parsed.error and not parsed.items:
        run.status = Source.Status.ERROR
    elif parsed.error or parsed.rejected:
        run.status = Source.Status.PARTIAL
    else:
        run.status = Source.Status.OK
    run.finished_at = timezone.now()
    run.save()
    Source.objects.filter(pk=run.source_id).update(
        last_run_at=run.finished_at,
        last_status=run.status,
        last_counts={
            "new": run.new,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "rejected": run.rejected,
        },
        last_error=parsed.error,
    )
    if parsed.error:
        logger.warning("ingest of %s: %s", run.source, parsed.error)
    return run


def store(items: list[Item], source: Source, day: dt.date) -> Counts:
    """Upsert ``items`` as Papers and as ``source``'s Listings on ``day``, ranked in order.

    The same paper listed twice in one feed is stored once, at its first rank.
    """
    ranked: dict[str, tuple[int, Item]] = {}
    for rank, item in enumerate(items, 1):
        ranked.setdefault(item.key, (rank, item))
    counts = Counts()
    now = timezone.now()
    entries = list(ranked.items())
    with transaction.atomic():
        for start in range(0, len(entries), BATCH):
            _store_batch(dict(entries[start : start + BATCH]), source, day, now, counts)
    return counts


def _store_batch(
    batch: dict[str, tuple[int, Item]], source: Source, day: dt.date, now, counts: Counts
) -> None:
    existing = {paper.key: paper for paper in Paper.objects.filter(key__in=batch)}
    rows = []
    for key, (_rank, item) in batch.items():
        paper = existing.get(key)
        values = _new_values(item) if paper is None else _changed_values(paper, item)
        if paper is None:
            counts.new += 1
        elif values:
            counts.updated += 1
            values = {name: getattr(paper, name) for name in _PAPER_FIELDS} | values
        else:
            counts.unchanged += 1
            continue
        rows.append(Paper(key=key, first_seen_at=now, **(values | {"updated_at": now})))
    if rows:
        # What each paper means is worked out once, here, not by every worker that
        # matches it (docs/matching.md, "Meaning"); unchanged text keeps its embedding.
        fill_embeddings(rows, existing)
        # One upsert for new and changed papers alike; a paper another worker inserted
        # meanwhile is updated rather than failing the batch. first_seen_at is not updated.
        Paper.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["key"],
            update_fields=[*_PAPER_FIELDS, "embedding", "embedding_model"],
        )
    ids = dict(Paper.objects.filter(key__in=batch).values_list("key", "id"))
    Listing.objects.bulk_create(
        [
            Listing(
                source=source,
                paper_id=ids[key],
                day=day,
                rank=rank,
                upvotes=item.upvotes or 0,
                comments=item.comments or 0,
                announce_type=item.announce_type,
            )
            for key, (rank, item) in batch.items()
        ],
        update_conflicts=True,
        unique_fields=["source", "paper", "day"],
        update_fields=["rank", "upvotes", "comments", "announce_type"],
    )


def _new_values(item: Item) -> dict:
    values = {name: getattr(item, name) for name in _TEXT_FIELDS}
    return values | {
        "version": item.version,
        "published_at": item.published_at,
        "upvotes": item.upvotes or 0,
        "comments": item.comments or 0,
        "github_stars": item.github_stars,
    }


def _changed_values(paper: Paper, item: Item) -> dict:
    """The fields ``item`` changes on ``paper``: what it knows that the paper lacks, newer
    text from a newer version (never older text over newer), and fresh popularity. A
    source that lacks a field (Hugging Face has no categories) leaves it alone."""
    older = bool(item.version and paper.version and item.version < paper.version)
    changes = {}
    for name in _TEXT_FIELDS:
        value, current = getattr(item, name), getattr(paper, name)
        if value and value != current and not (older and current):
            changes[name] = value
    if item.version and item.version > (paper.version or 0):
        changes["version"] = item.version
    if item.published_at and paper.published_at is None:
        changes["published_at"] = item.published_at
    for name in _POPULARITY:
        value = getattr(item, name)
        if value is not None and value != getattr(paper, name):
            changes[name] = value
    return changes
