"""Test helpers for delivery: real papers listed on a day, due subscribers, Postmark settings.

Papers come from a real Hugging Face Daily Papers capture through the real ingest code,
listed on whatever day a test needs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from django.test import override_settings

from accounts.models import Subscriber
from digest.ingest.store import ingest_file
from digest.models import Paper, Source, Topic

SAMPLE = Path(__file__).parent.parent / "data" / "hf_daily_papers_2026-08-20.json"
# 07:00 UTC on the sample's day: 07:00 for UTC subscribers, who are due at that hour.
NOW = dt.datetime(2026, 8, 20, 7, 0, tzinfo=dt.UTC)
DAY = NOW.date()
TOPIC_QUERY = "model"  # matches most of the sample's papers


def list_papers(day: dt.date = DAY, path: Path = SAMPLE) -> list[Paper]:
    """Ingest the sample as a listing on ``day``; return its papers."""
    source, _ = Source.objects.get_or_create(
        name=f"Sample {day}", defaults={"kind": Source.Kind.HF_DAILY, "enabled": False}
    )
    ingest_file(path, source=source, day=day)
    return list(Paper.objects.filter(listings__day=day).distinct())


def topic() -> Topic:
    found, _ = Topic.objects.get_or_create(name="Models", defaults={"query": TOPIC_QUERY})
    return found


def due_subscribers(
    count: int, *, now: dt.datetime = NOW, prefix: str = "reader", **fields
) -> list[Subscriber]:
    """``count`` active subscribers following the "Models" topic, due at ``now``."""
    fields.setdefault("status", Subscriber.Status.ACTIVE)
    fields.setdefault("send_hour", now.hour)
    fields.setdefault("next_send_at", now)
    fields.setdefault("max_papers", 5)
    people = Subscriber.objects.bulk_create(
        Subscriber(email=f"{prefix}{i}@example.org", **fields) for i in range(count)
    )
    people = list(Subscriber.objects.filter(email__startswith=prefix).order_by("id"))
    through = Subscriber.topics.through
    the_topic = topic()
    through.objects.bulk_create(
        through(subscriber_id=person.pk, topic_id=the_topic.pk) for person in people
    )
    return people


def postmark_settings(provider_url: str, **extra) -> dict:
    """Settings that send through the real Anymail Postmark backend to ``provider_url``."""
    return {
        "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
        "ANYMAIL": {
            "POSTMARK_SERVER_TOKEN": "test-server-token",
            "POSTMARK_API_URL": provider_url,
            "WEBHOOK_SECRET": "hook:secret",
        },
        "SEND_RETRY_BACKOFF": 0.01,
        **extra,
    }


def postmark_env(provider_url: str) -> dict[str, str]:
    """The same, as the environment of a worker process."""
    return {
        "EMAIL_BACKEND": "postmark",
        "POSTMARK_SERVER_TOKEN": "test-server-token",
        "POSTMARK_API_URL": provider_url,
        "SEND_RETRY_BACKOFF": "0.01",
        "SEND_CONCURRENCY": "4",
    }


@contextlib.contextmanager
def sending_to(provider_url: str, **extra) -> Iterator[None]:
    with override_settings(**postmark_settings(provider_url, **extra)):
        yield
