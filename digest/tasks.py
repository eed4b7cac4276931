"""Celery tasks: thin wrappers that take ids and call plain modules."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from digest.ingest.store import ingest_source
from digest.mail import delivery
from digest.models import Source


@shared_task(ignore_result=False)
def ping() -> str:
    """Round trip check for a worker (used by tests and operators)."""
    return "pong"


@shared_task
def ingest_all(day_iso: str | None = None) -> list[int]:
    """Beat, daily: one ingest_source_task per enabled source, so a slow or broken source
    never holds up the others."""
    ids = list(Source.objects.filter(enabled=True).order_by("pk").values_list("pk", flat=True))
    for source_id in ids:
        ingest_source_task.delay(source_id, day_iso)
    return ids


@shared_task
def ingest_source_task(source_id: int, day_iso: str | None = None) -> dict:
    """Fetch and store one source (idempotent: storing the same list twice changes nothing)."""
    source = Source.objects.filter(pk=source_id).first()
    if source is None:
        return {"source": source_id, "status": "missing"}
    run = ingest_source(source, dt.date.fromisoformat(day_iso) if day_iso else None)
    return {"source": source_id, "run": run.pk, "status": run.status}


@shared_task
def dispatch_due(now_iso: str | None = None) -> int:
    """Beat, every few minutes: queue one send_digest_chunk per chunk of due subscribers.

    Idempotent: a subscriber stays due until their digest is finished, and a chunk only
    sends what it claims, so a duplicate tick or a lost queue message costs nothing.
    ``now_iso`` (tests, commands) fixes the clock; the chunks then use it too.
    """
    now = _parse_now(now_iso)
    delivery.schedule_unscheduled(now)
    ids = delivery.due_subscriber_ids(now)
    for chunk in delivery.chunks(ids):
        send_digest_chunk.delay(chunk, now_iso)
    return len(ids)


@shared_task
def send_digest_chunk(subscriber_ids: list[int], now_iso: str | None = None) -> dict[str, int]:
    """Claim, build and send these subscribers' digests (safe to run twice); returns the
    counts by outcome ("sent", "recovered", "found", "unknown", "skipped", "failed",
    "retry", "not_ours"; see docs/delivery.md)."""
    return dict(delivery.send_chunk(subscriber_ids, _parse_now(now_iso)).counts)


def _parse_now(now_iso: str | None):
    return dt.datetime.fromisoformat(now_iso) if now_iso else None
