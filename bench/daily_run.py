"""The daily run at scale, end to end, with the real parts.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pw_bench REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python bench/daily_run.py --subscribers 1000,10000,100000

For each size: 2,500 papers shaped like the real samples are served as an arXiv listing and
a Hugging Face page from a loopback server and ingested by the real ingest code; the
subscribers are inserted in bulk (COPY); real Celery workers (``celery -A config worker``,
started here) run ``digest.tasks.dispatch_due`` and its ``send_digest_chunk`` tasks, which
match, store, render and hand each message to the real Anymail Postmark backend, pointed at a
loopback stand-in provider (``tests/support/fake_provider.py``, the tests' own). It prints
each stage's time, the peak memory of every process, what the stand-in received, and the
naive one-at-a-time figures beside them; then it runs the hand-off with one and with two
worker processes.

Stage times: "ingest" is wall time here; the others are worker-seconds summed over every task,
measured inside the workers by ``bench/timing.py``. "end to end" is wall time from the start
of ingest until every due subscriber's digest is finished.

The database is emptied first (staff logins kept): the script refuses a database whose name
does not contain "bench" or "test" unless given --force. The Redis database is flushed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOALS = {10_000: 60.0, 100_000: 600.0}  # subscribers -> seconds, end to end
MEMORY_GOAL = 1024**3
LABELS = {"handoff": "hand-off"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Needs DATABASE_URL and REDIS_URL (PostgreSQL and Redis); see docs/benchmarks.md.",
    )
    sizes = parser.add_argument
    sizes("--subscribers", default="1000,10000", help="comma-separated sizes (default 1000,10000)")
    sizes("--papers", type=int, default=2500, help="papers in the day's listing (default 2500)")
    sizes("--workers", type=int, default=2, help="worker processes (nodes) to start (default 2)")
    sizes("--concurrency", type=int, default=1, help="--concurrency of each worker (default 1)")
    sizes("--chunk-size", type=int, default=200, help="DIGEST_CHUNK_SIZE (default 200)")
    sizes("--latency-ms", type=float, default=0.0, help="stand-in delay per request (default 0)")
    sizes("--naive-slice", type=int, default=200, help="subscribers in the naive slice")
    sizes(
        "--compare-at",
        type=int,
        default=10000,
        help="size at which to run the hand-off with 1 and 2 worker processes (0: skip)",
    )
    sizes("--timeout", type=float, default=3600, help="give up on one size after this")
    sizes("--force", action="store_true", help="empty a database not named *bench* or *test*")
    return parser.parse_args(argv)


def setup_django(force: bool) -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Settings fail closed; a bench signs nothing that outlives it.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    # The listings are served from loopback, which fetching refuses by default.
    os.environ["FETCH_ALLOW_PRIVATE"] = "1"
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    if not force and "bench" not in name and "test" not in name:
        raise SystemExit(f"refusing to empty database {name!r}: use a *bench* one or --force")
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        print("note: the goals are for PostgreSQL and Redis; this run uses", connection.vendor)
    call_command("migrate", verbosity=0)
    cache.clear()
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _mib(size: int) -> str:
    return f"{size / 1024**2:,.0f} MiB"


def report(result, naive: dict[str, float] | None, say=print) -> None:
    due = result.mix.due
    say(
        f"\n== {result.subscribers:,} subscribers ({due:,} due), {result.papers:,} papers; "
        f"{result.workers} worker process(es) x concurrency {result.concurrency}, "
        f"chunks of {result.chunk_size}, provider latency {result.latency_ms:g} ms"
    )
    say("   setup, not timed: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.setup.items()))
    say(f"   {'stage':<10} {'worker wall':>11} {'worker CPU':>11}   {'naive, one at a time':>20}")
    say(f"   {'ingest':<10} {result.ingest_seconds:>9.2f} s {'':>11}   {'':>20}")
    for stage, seconds in result.stages.items():
        naive_s = "-" if not naive or stage not in naive else f"{naive[stage] * due:,.1f} s"
        cpu = result.stages_cpu.get(stage, 0.0)
        say(f"   {LABELS.get(stage, stage):<10} {seconds:>9.2f} s {cpu:>9.2f} s   {naive_s:>20}")
    if naive:
        total = sum(naive.values()) * due
        say(
            f"   naive total {total:,.0f} s (extrapolated from a slice, one process) vs "
            f"{sum(result.stages.values()):,.1f} worker-s: "
            f"{total / max(sum(result.stages.values()), 1e-9):,.0f}x"
        )
    goal = GOALS.get(result.subscribers)
    verdict = ""
    if goal:
        met = result.end_to_end <= goal
        verdict = f"   goal <= {goal:.0f} s: {'met' if met else 'MISSED'}"
    say(
        f"   end to end {result.end_to_end:.1f} s (ingest {result.ingest_seconds:.1f} s + "
        f"dispatch to last digest {result.pipeline_seconds:.1f} s){verdict}"
    )
    say(
        f"   throughput {due / max(result.pipeline_seconds, 1e-9):,.0f} subscribers/s; "
        f"hand-off {result.handoff_rate:,.0f} messages/s at the provider; "
        f"tasks {dict(result.tasks)}; dispatch ticks {result.ticks}; "
        f"machine load {result.load[0]} -> {result.load[1]} (2 means both cores busy)"
    )
    workers = {k: v for k, v in result.memory.items() if k.startswith("worker")}
    worst = max(workers.values(), default=0)
    say(
        "   peak memory (VmHWM): "
        + ", ".join(f"{k} {_mib(v)}" for k, v in sorted(result.memory.items()))
        + f"   goal <= 1 GiB per worker: {'met' if worst <= MEMORY_GOAL else 'MISSED'}"
    )
    received = result.received
    say(
        f"   the stand-in received {received.get('messages', 0):,} messages "
        f"({received.get('distinct', 0):,} recipients, {received.get('duplicates', 0):,} "
        f"duplicates); digests {result.statuses}; non-empty {result.nonempty:,}"
    )
    if result.problems:
        for problem in result.problems:
            say(f"   PROBLEM: {problem}")
    else:
        say("   check: every due subscriber got exactly one message (or none when nothing new)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    database_url = setup_django(args.force)
    from accounts.models import Subscriber
    from bench import naive
    from bench.pipeline import run_daily
    from digest.models import Paper

    def slice_baseline():
        figures = {}

        def measure(port: int) -> None:
            subscribers = list(Subscriber.objects.active().order_by("pk")[: args.naive_slice])
            papers = list(Paper.objects.all())
            print(f"  naive baseline on {len(subscribers)} subscribers, one at a time")
            figures.update(naive.measure(subscribers, papers, port))

        return figures, measure

    common = {
        "papers": args.papers,
        "database_url": database_url,
        "chunk_size": args.chunk_size,
        "latency_ms": args.latency_ms,
        "timeout": args.timeout,
    }
    failed = False
    try:
        for size in [int(s) for s in args.subscribers.split(",") if s.strip()]:
            print(f"\n-- {size:,} subscribers")
            figures, measure = slice_baseline()
            started = time.perf_counter()
            result = run_daily(
                subscribers=size,
                workers=args.workers,
                concurrency=args.concurrency,
                before_dispatch=measure,
                **common,
            )
            report(result, figures)
            print(f"   (this size took {time.perf_counter() - started:.0f} s with setup)")
            failed |= bool(result.problems)
        if args.compare_at:
            print(f"\n-- hand-off with 1 and 2 worker processes, {args.compare_at:,} subscribers")
            rates = {}
            for workers in (1, 2):
                result = run_daily(
                    subscribers=args.compare_at, workers=workers, concurrency=1, **common
                )
                report(result, None)
                rates[workers] = result
                failed |= bool(result.problems)
            one, two = rates[1], rates[2]
            print(
                f"\n   at the provider: 1 worker process {one.handoff_rate:,.0f} msg/s, "
                f"2 worker processes {two.handoff_rate:,.0f} msg/s "
                f"({two.handoff_rate / max(one.handoff_rate, 1e-9):.2f}x); dispatch to last "
                f"digest {one.pipeline_seconds:.1f} s -> {two.pipeline_seconds:.1f} s"
            )
            # The hand-off stage alone: messages over the time the processes spent in it,
            # taking the processes' shares as equal (Celery hands out chunks as they free up).
            alone = {
                n: r.received.get("messages", 0) / max(r.stages["handoff"] / n, 1e-9)
                for n, r in rates.items()
            }
            print(
                f"   hand-off stage alone: 1 worker process {alone[1]:,.0f} msg/s, "
                f"2 worker processes {alone[2]:,.0f} msg/s ({alone[2] / max(alone[1], 1e-9):.2f}x)"
            )
    except KeyboardInterrupt:
        print("\ninterrupted: workers and servers stopped")
        return 130
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
