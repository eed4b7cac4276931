"""Sending benchmark. Stage "render": build 10-paper digest emails (subject, text part, HTML
part with its CSS inlined) and print the median and p95 per email beside the naive way,
which runs css-inline on every rendered email. Goal: at most 2 ms per email (median).

    .venv/bin/python -m bench.send [--renders 500] [--papers 10]

Papers are the real Hugging Face Daily Papers samples in ``tests/data/`` stored through the
real ingest; the subscriber follows catalogue and typed topics, and the matches come from
``digest.matching.select_for_subscribers``, so titles, authors, abstracts, terms and "why"
are what a real digest carries. It runs in a throwaway SQLite database under a temporary
VAR_DIR; rendering itself makes no query (topics are prefetched, as delivery does).

Each stage is a function taking the prepared data and returning its figures, so further
stages (the hand-off to a provider) sit beside it and ``main()`` runs those asked for.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ["hf_daily_papers_2026-08-20.json", "hf_daily_papers_2025-03-14.json"]
GOAL_MS = 2.0


@dataclass(frozen=True)
class Figures:
    median_ms: float
    p95_ms: float

    def __str__(self) -> str:
        return f"median {self.median_ms:6.3f} ms   p95 {self.p95_ms:6.3f} ms"


def timed(func: Callable[[], object], runs: int, warmup: int = 20) -> Figures:
    for _ in range(warmup):
        func()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return Figures(statistics.median(samples), samples[min(len(samples) - 1, runs * 95 // 100)])


def setup_django(var_dir: Path) -> None:
    """A private SQLite database: the benchmark never writes into a configured one."""
    os.environ["VAR_DIR"] = str(var_dir)
    os.environ["DATABASE_URL"] = f"sqlite:///{var_dir / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def prepare(papers: int):
    """A subscriber (topics prefetched) and their ``papers`` best matches."""
    from accounts.models import Subscriber
    from digest.ingest import ingest_file
    from digest.matching import select_for_subscribers
    from digest.models import Paper, Topic

    for name in SAMPLES:
        ingest_file(ROOT / "tests" / "data" / name)
    person = Subscriber.objects.create(
        email="bench@example.org",
        status=Subscriber.Status.ACTIVE,
        own_topics="reasoning\nvideo generation\nauthor:Wang",
        max_papers=papers,
    )
    for name, query in [("Language models", "language model"), ("Agents", "agent, robot")]:
        person.topics.add(Topic.objects.create(name=name, query=query))
    person = Subscriber.objects.prefetch_related("topics").get(pk=person.pk)
    matches = select_for_subscribers([person], list(Paper.objects.all()))[person.pk]
    if len(matches) < papers:
        raise SystemExit(f"only {len(matches)} matches in the samples, {papers} wanted")
    return person, matches


def stage_render(person, matches, runs: int) -> dict[str, Figures]:
    """Rendering as delivery calls it, against the naive way (css-inline per email)."""
    from django.template.loader import render_to_string

    from digest import compose

    def naive() -> None:
        context = compose._digest_context(person, matches, None)
        render_to_string("digest/email/digest-subject.txt", context)
        render_to_string("digest/email/digest-body.txt", context)
        compose._INLINER.inline(render_to_string("digest/email/digest-body.html", context))

    def with_message() -> None:
        compose.build_message(person, compose.render_digest(person, matches))

    return {
        "render_digest (CSS inlined once per template)": timed(
            lambda: compose.render_digest(person, matches), runs
        ),
        "naive: css-inline on every email": timed(naive, runs),
        "render_digest + build_message": timed(with_message, runs),
    }


STAGES = {"render": stage_render}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--renders", type=int, default=500, help="emails per measurement")
    parser.add_argument("--papers", type=int, default=10, help="papers per email")
    parser.add_argument("--stage", choices=sorted(STAGES), action="append")
    args = parser.parse_args(argv)
    var_dir = Path(tempfile.mkdtemp(prefix="pw-bench-send-"))
    try:
        setup_django(var_dir)
        person, matches = prepare(args.papers)
        print(f"{len(matches)}-paper digest, {args.renders} renders per figure")
        for stage in args.stage or ["render"]:
            for label, figures in STAGES[stage](person, matches, args.renders).items():
                print(f"  {label:<48} {figures}")
        print(f"  goal: median at most {GOAL_MS} ms per email")
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
