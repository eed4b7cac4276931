"""Helpers for the subscriber-page tests: papers, subscribers, forms and emailed links."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path

from django.core import mail

from accounts.models import Subscriber
from digest.models import Listing, Paper, Source, Topic

DATA = Path(__file__).resolve().parent.parent / "data"
DAY = dt.date(2026, 8, 20)
_numbers = itertools.count()
LINK_RE = re.compile(r"https?://[^\s\"<>]+/(?:confirm|manage/sign-in)/[^\s\"<>/]+/")


def load_real_day(day: dt.date = DAY) -> dt.date:
    """Ingest the recorded Hugging Face Daily Papers of 20 Aug 2026 (15 papers),
    listed on ``day``."""
    from digest.ingest.store import ingest_file

    ingest_file(DATA / "hf_daily_papers_2026-08-20.json", day=day)
    return day


def make_papers(count: int, day: dt.date = DAY, **fields) -> list[Paper]:
    source, _ = Source.objects.get_or_create(name="Test papers", defaults={"kind": "hf_daily"})
    papers = []
    for number in range(count):
        paper = Paper.objects.create(
            key=f"test:{next(_numbers)}",
            title=fields.get("title", f"Paper number {number} on knowledge distillation"),
            abstract=fields.get("abstract", "We distill a large teacher into a small student."),
            authors=fields.get("authors", ["Ada Lovelace", "Alan Turing"]),
            abs_url=fields.get("abs_url", f"https://arxiv.org/abs/2608.{number:05d}"),
            pdf_url=fields.get("pdf_url", f"https://arxiv.org/pdf/2608.{number:05d}"),
            code_url=fields.get("code_url", ""),
            upvotes=number,
        )
        Listing.objects.create(source=source, paper=paper, day=day, rank=number, upvotes=number)
        papers.append(paper)
    return papers


def make_topic(name: str = "Test: teachers and students", **fields) -> Topic:
    fields.setdefault("query", "knowledge distillation")
    fields.setdefault("description", "Teachers, students and smaller models.")
    return Topic.objects.create(name=name, **fields)


def make_subscriber(email: str = "reader@example.org", **fields) -> Subscriber:
    fields.setdefault("status", Subscriber.Status.ACTIVE)
    fields.setdefault("own_topics", "knowledge distillation")
    return Subscriber.objects.create(email=email, **fields)


def signup_data(email: str = "reader@example.org", **fields) -> dict:
    data = {
        "email": email,
        "own_topics": "knowledge distillation",
        "frequency": "daily",
        "weekday": "0",
        "send_hour": "7",
        "time_zone": "Europe/Paris",
        "max_papers": "10",
        "website": "",
    }
    data.update(fields)
    return data


def emailed_link(message=None) -> str:
    """The confirmation or sign-in link in an email (default: the last one sent),
    as a path the test client can open."""
    message = message or mail.outbox[-1]
    found = LINK_RE.search(message.body)
    assert found, message.body
    return re.sub(r"^https?://[^/]+", "", found.group(0))
