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

Stage "handoff" (``--stage handoff``): ``--renders`` built messages handed through the real
Anymail Postmark backend to the loopback stand-in (``tests/support/fake_provider.py``, as its
own process), without and with 50 ms of added latency per request, in messages per second: the naive
one-at-a-time send (a connection per message), one connection one at a time, then
``digest.mail.handoff.hand_off`` as a chunk sends (one connection, a thread pool of 8, 16 or 32
requests in flight), and two forked processes as two workers. Goals: 500/s without
latency, 300/s with 50 ms.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ["hf_daily_papers_2026-08-20.json", "hf_daily_papers_2025-03-14.json"]
GOAL_MS = 2.0


@dataclass(frozen=True)
class Figures:
    median_ms: float
    p95_ms: float
    cpu_median_ms: float  # CPU time of this thread: what other processes cannot inflate

    def __str__(self) -> str:
        return (
            f"median {self.median_ms:6.3f} ms   p95 {self.p95_ms:6.3f} ms   "
            f"(CPU median {self.cpu_median_ms:6.3f} ms)"
        )


def timed(func: Callable[[], object], runs: int, warmup: int = 20) -> Figures:
    for _ in range(warmup):
        func()
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.thread_time()
        func()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    wall.sort()
    return Figures(
        statistics.median(wall), wall[min(runs - 1, runs * 95 // 100)], statistics.median(cpu)
    )


def setup_django(var_dir: Path) -> None:
    """A private SQLite database: the benchmark never writes into a configured one."""
    os.environ["VAR_DIR"] = str(var_dir)
    os.environ["DATABASE_URL"] = f"sqlite:///{var_dir / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Settings fail closed; a bench signs nothing that outlives it.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def prepare(papers: int):
    """A subscriber (topics prefetched) and their ``papers`` best matches."""
    from accounts.models import Subscriber
    from digest.ingest.store import ingest_file
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

    from digest.mail import compose

    def naive() -> None:
        compose._paper_text.cache_clear()
        compose._highlighted.cache_clear()
        context = compose._digest_context(person, matches, None)
        render_to_string("digest/email/digest-subject.txt", context)
        render_to_string("digest/email/digest-body.txt", context)
        compose._INLINER.inline(render_to_string("digest/email/digest-body.html", context))

    def first_of_the_day() -> None:
        compose._paper_text.cache_clear()
        compose._highlighted.cache_clear()
        compose.render_digest(person, matches)

    def with_message() -> None:
        compose.build_message(person, compose.render_digest(person, matches))

    return {
        "render_digest": timed(lambda: compose.render_digest(person, matches), runs),
        "render_digest, papers not seen before": timed(first_of_the_day, runs),
        "render_digest + build_message": timed(with_message, runs),
        "naive: css-inline on every email": timed(naive, runs),
    }


# The hand-off half (delivery): messages to the loopback provider through the real Anymail
# Postmark backend, as digest.mail.handoff sends a chunk, beside the one-at-a-time baseline.
HANDOFF_GOALS = {0.0: 500.0, 50.0: 300.0}  # added latency (ms) -> messages per second
HANDOFF_CONCURRENCY = (8, 16, 32)


def _standin_messages(port: int) -> int:
    import json
    from urllib.request import urlopen

    with urlopen(f"http://127.0.0.1:{port}/_stats") as response:
        return json.load(response)["messages"]


def _handoff_rate(messages: list, port: int, send: Callable[[list], None]) -> tuple[float, float]:
    """Messages per second, and this process's CPU milliseconds per message."""
    before = _standin_messages(port)
    started, started_cpu = time.perf_counter(), time.process_time()
    send(messages)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    arrived = _standin_messages(port) - before
    if arrived != len(messages):
        raise SystemExit(f"the provider received {arrived} of {len(messages)} messages")
    return len(messages) / elapsed, cpu * 1000 / len(messages)


def _processes(count: int, concurrency: int) -> Callable[[list], None]:
    """Split the messages over ``count`` forked processes, as ``count`` workers each
    sending a chunk would (the interpreter lock limits one process's threads)."""
    import multiprocessing

    from digest.mail.handoff import hand_off

    def send(batch: list) -> None:
        def run(part: list) -> None:
            hand_off(list(enumerate(part)), concurrency=concurrency)

        context = multiprocessing.get_context("fork")
        workers = [context.Process(target=run, args=(batch[i::count],)) for i in range(count)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    return send


def stage_handoff(person, matches, runs: int) -> dict[str, str]:
    """Messages per second handed to the stand-in, with and without 50 ms of latency."""
    from django.core.mail import get_connection
    from django.test import override_settings

    from bench.procs import Fleet
    from digest.mail import compose
    from digest.mail.handoff import Result, hand_off

    rendered = compose.render_digest(person, matches)
    out: dict[str, str] = {}
    for latency_ms, goal in HANDOFF_GOALS.items():
        count = runs if not latency_ms else max(runs // 2, 100)
        messages = [
            compose.build_message(person, rendered, to=f"reader{i}@example.org")
            for i in range(count)
        ]
        log_dir = Path(tempfile.mkdtemp(prefix="pw-bench-standin-"))
        with Fleet(log_dir) as fleet:
            port = fleet.start_standin(latency_ms=latency_ms)
            anymail = {
                "POSTMARK_SERVER_TOKEN": "bench",
                "POSTMARK_API_URL": f"http://127.0.0.1:{port}/",
            }
            with override_settings(
                EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
                ANYMAIL=anymail,
                SEND_RATE_PER_SECOND=0,
            ):

                def one_at_a_time(batch: list) -> None:
                    # The naive way: each message sent on its own, a connection each.
                    for message in batch:
                        message.connection = None
                        message.send()

                def one_connection(batch: list) -> None:
                    with get_connection() as connection:
                        for message in batch:
                            connection.send_messages([message])

                def chunked(concurrency: int) -> Callable[[list], None]:
                    def send(batch: list) -> None:
                        outcomes = hand_off(list(enumerate(batch)), concurrency=concurrency)
                        if any(o.result is not Result.SENT for o in outcomes.values()):
                            raise SystemExit("a message was not accepted")

                    return send

                label = f"{latency_ms:.0f} ms latency"
                baseline, cpu = _handoff_rate(messages, port, one_at_a_time)
                out[f"{label}: naive, one at a time, a connection each"] = (
                    f"{baseline:7.0f} msg/s  (CPU {cpu:.2f} ms/msg)"
                )
                single, cpu = _handoff_rate(messages, port, one_connection)
                out[f"{label}: one connection, one at a time"] = (
                    f"{single:7.0f} msg/s  (CPU {cpu:.2f} ms/msg)"
                )
                variants = [(f"hand_off, {n} in flight", chunked(n)) for n in HANDOFF_CONCURRENCY]
                variants.append(("2 worker processes, hand_off 16 in flight", _processes(2, 16)))
                for name, sender in variants:
                    rate, cpu = _handoff_rate(messages, port, sender)
                    verdict = "ok" if rate >= goal else f"below the {goal:.0f}/s goal"
                    # (CPU of forked processes is not counted here.)
                    cpu_note = f"; CPU {cpu:.2f} ms/msg" if "processes" not in name else ""
                    out[f"{label}: {name}"] = (
                        f"{rate:7.0f} msg/s  ({rate / baseline:4.1f}x naive; {verdict}{cpu_note})"
                    )
        shutil.rmtree(log_dir, ignore_errors=True)
    return out


STAGES: dict[str, Callable[..., Mapping[str, object]]] = {
    "render": stage_render,
    "handoff": stage_handoff,
}


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
