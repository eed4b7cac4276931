"""Load a small, realistic demo: a source, three real Hugging Face Daily Papers days from
digest/demo/, and a few active subscribers. Run by ``python3 dev.py run``; safe to run
again (nothing is doubled).

Only Hugging Face days: each paper has an arXiv id, authors, upvotes and links, so the
pages and the first digest show papers a reader can open. The samples are listed as
today's, yesterday's and the day before's papers, so a digest previewed or sent right
away has something to show and the pages have days to move between. The demo source is
disabled, so a local service never reaches the internet unless an operator enables it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts import lifecycle
from accounts.models import Subscriber
from digest.ingest.store import ingest_file
from digest.models import Source, Topic

DEMO_DIR = Path(__file__).resolve().parent.parent.parent / "demo"

SOURCE = "Demo: Hugging Face Daily Papers"
# (file, listed this many days before today)
DAYS = [
    ("hf_daily_papers_2024-05-27.json", 2),
    ("hf_daily_papers_2025-03-14.json", 1),
    ("hf_daily_papers_2026-08-20.json", 0),
]

# Created only when the catalogue is empty (the migrations seed one; an operator's own
# catalogue is left alone).
TOPICS = [
    ("Large language models", '"language model", LLM', "Training, evaluating and using LLMs."),
    ("LLM agents", "agent*", "Agents that plan, use tools and act."),
    ("Mixture of experts", '"mixture of experts", MoE', "Sparse expert models and routing."),
    ("Knowledge distillation", "knowledge distillation", "Teacher-student training."),
    ("Vision-language models", "vision language, multimodal", "Images and text together."),
]

SUBSCRIBERS = [
    ("ada@example.com", ["Large language models", "LLM agents"], "Europe/London", 7),
    ("grace@example.com", ["Mixture of experts", "Knowledge distillation"], "America/New_York", 8),
    ("alan@example.com", ["Vision-language models", "Reasoning"], "Asia/Tokyo", 6),
]


class Command(BaseCommand):
    help = "Create demo sources, papers and subscribers (idempotent)."

    def handle(self, *args, **options):
        today = timezone.now().date()
        source, created = Source.objects.get_or_create(
            name=SOURCE, defaults={"kind": Source.Kind.HF_DAILY, "enabled": False}
        )
        self.stdout.write(f"{'Created' if created else 'Found'} source {SOURCE!r}")
        for filename, days_ago in DAYS:
            run = ingest_file(DEMO_DIR / filename, source, today - dt.timedelta(days=days_ago))
            self.stdout.write(
                f"  {filename}: {run.new} new, {run.updated} updated, "
                f"{run.unchanged} unchanged, {run.rejected} rejected ({run.status})"
            )

        if not Topic.objects.exists():
            for order, (name, query, description) in enumerate(TOPICS):
                Topic.objects.create(name=name, query=query, description=description, order=order)
            self.stdout.write(f"Created {len(TOPICS)} catalogue topics")
        topics = list(Topic.objects.order_by("order", "name"))
        by_name = {topic.name: topic for topic in topics}

        for email, names, time_zone, hour in SUBSCRIBERS:
            subscriber, created = Subscriber.objects.get_or_create(
                email=email,
                defaults={"time_zone": time_zone, "send_hour": hour},
            )
            if created:
                lifecycle.confirm(subscriber)  # demo readers need no confirmation email
                # On an operator's own catalogue, fall back to its first two topics.
                chosen = [by_name[name] for name in names if name in by_name] or topics[:2]
                subscriber.topics.set(chosen)
            self.stdout.write(
                f"{'Created' if created else 'Found'} subscriber {email} "
                f"({', '.join(t.name for t in subscriber.topics.all())}), "
                f"next digest {subscriber.next_send_at:%Y-%m-%d %H:%M} UTC"
            )
        self.stdout.write(self.style.SUCCESS("Demo ready."))
