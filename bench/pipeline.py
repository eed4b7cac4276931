"""One daily run, end to end, with the real parts; measured and checked.

``run_daily`` empties the benchmark database, generates the day's papers and the
subscribers, ingests the papers with the real ingest code from a loopback server, starts
real Celery workers (``celery -A config worker``) and the stand-in provider, sends one
``digest.tasks.dispatch_due`` through the broker, and waits until every due subscriber's
digest is finished (sent, skipped or failed). It then checks that the stand-in received
exactly one message per non-empty digest, and returns the figures.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from bench import data
from bench.procs import Fleet, MemoryWatch
from tests.support.feedserver import FeedServer, Reply

Say = Callable[[str], None]
STAGES = ("dispatch", "match", "store", "render", "handoff")


@dataclass
class RunResult:
    subscribers: int
    papers: int
    workers: int
    concurrency: int
    chunk_size: int
    latency_ms: float
    mix: data.SubscriberMix = field(default_factory=data.SubscriberMix)
    setup: dict[str, float] = field(default_factory=dict)
    ingest_seconds: float = 0.0
    ingest_counts: dict[str, dict] = field(default_factory=dict)
    pipeline_seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    stages_cpu: dict[str, float] = field(default_factory=dict)
    tasks: Counter = field(default_factory=Counter)
    instrumented: list[str] = field(default_factory=list)
    memory: dict[str, int] = field(default_factory=dict)
    received: dict = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    nonempty: int = 0
    load: tuple[str, str] = ("", "")  # /proc/loadavg before and after the pipeline
    ticks: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def end_to_end(self) -> float:
        return self.ingest_seconds + self.pipeline_seconds

    @property
    def handoff_rate(self) -> float:
        """Messages per second as the provider saw them, first to last."""
        spread = self.received.get("last_at", 0) - self.received.get("first_at", 0)
        return self.received.get("messages", 0) / spread if spread > 0 else 0.0


def wipe() -> None:
    """Empty every Paperwire table but the staff logins, fast."""
    user = apps.get_model(settings.AUTH_USER_MODEL)
    models = [
        model
        for label in ("digest", "accounts")
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
        if user not in (model, model._meta.auto_created)
    ]
    if connection.vendor == "postgresql":
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models)
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        return
    for model in reversed(models):
        model._base_manager.all().delete()


@contextlib.contextmanager
def serve_listings(papers: list[data.GenPaper], day: dt.date) -> Iterator[str]:
    """Serve the day's arXiv listing at /rss/cs.LG and the Hugging Face page at
    /api/daily_papers (any query) from the tests' loopback feed server; yield its base URL."""
    with FeedServer() as server:
        server.routes["/rss/cs.LG"] = Reply(
            data.arxiv_listing_rss(papers, day), headers={"Content-Type": "application/rss+xml"}
        )
        server.routes["/api/daily_papers"] = Reply(
            data.hf_daily_json(papers, day), headers={"Content-Type": "application/json"}
        )
        yield server.url("").rstrip("/")


def ingest(papers: list[data.GenPaper], day: dt.date) -> dict[str, dict]:
    """Ingest the day through the real ingest code; return each source's counts."""
    from digest.ingest.store import ingest_source
    from digest.models import Source

    counts = {}
    with serve_listings(papers, day) as base:
        sources = [
            Source.objects.create(
                name="arXiv cs.LG (bench)",
                kind=Source.Kind.ARXIV_LISTING,
                url=f"{base}/rss/cs.LG",
                params={"categories": ["cs.LG"]},
            ),
            Source.objects.create(
                name="Hugging Face Daily Papers (bench)",
                kind=Source.Kind.HF_DAILY,
                url=f"{base}/api/daily_papers",
            ),
        ]
        for source in sources:
            run = ingest_source(source, day=day)
            counts[source.name] = {
                "status": str(run.status),
                "new": run.new,
                "updated": run.updated,
                "rejected": run.rejected,
                "error": run.error,
            }
    return counts


def standin_stats(port: int, *, recipients: bool = False) -> dict:
    url = f"http://127.0.0.1:{port}/_stats{'?recipients=1' if recipients else ''}"
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.loads(answer.read())


def standin_reset(port: int) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/_reset", data=b"", method="POST")
    urllib.request.urlopen(request, timeout=30).close()  # noqa: S310 - loopback


def worker_env(database_url: str, port: int, timing_dir: Path, chunk_size: int) -> dict:
    import os

    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
        "VAR_DIR": str(settings.VAR_DIR),  # the local cache is a folder there
        "EMAIL_BACKEND": "postmark",
        "POSTMARK_SERVER_TOKEN": "bench-token",
        "POSTMARK_API_URL": f"http://127.0.0.1:{port}/",
        "DIGEST_CHUNK_SIZE": str(chunk_size),
        "SEND_RATE_PER_SECOND": "0",
        "BENCH_TIMING_DIR": str(timing_dir),
        "LOG_LEVEL": "WARNING",
    }
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    return env


def _loadavg() -> str:
    """The machine's 1-minute load: other work on it slows the run down."""
    with contextlib.suppress(OSError):
        return Path("/proc/loadavg").read_text().split()[0]
    return "?"


def _statuses() -> dict[str, int]:
    from digest.models import Digest

    rows = Digest.objects.values_list("status").annotate(n=Count("id")).order_by()
    return dict(rows)


def _still_due(now: dt.datetime) -> int:
    from accounts.models import Subscriber

    return Subscriber.objects.due(now).count()


def _wait(due: int, now: dt.datetime, timeout: float, say: Say) -> int:
    """Poll until no subscriber is due at ``now`` and no digest is claimed. Dispatch
    again (as the next beat tick would) when work stalls with subscribers still due.
    Return the number of dispatch ticks."""
    from digest.tasks import dispatch_due

    started = last_report = last_change = time.monotonic()
    ticks, seen = 1, None
    while True:
        statuses, still_due = _statuses(), _still_due(now)
        claimed = statuses.get("claimed", 0)
        if not still_due and not claimed:
            return ticks
        elapsed = time.monotonic() - started
        done = sum(statuses.values()) - claimed
        if (done, claimed, still_due) != seen:
            seen, last_change = (done, claimed, still_due), time.monotonic()
        if time.monotonic() - last_report >= 5:
            last_report = time.monotonic()
            say(
                f"    {elapsed:6.1f} s  finished {done:,}/{due:,}  (sent "
                f"{statuses.get('sent', 0):,}, skipped {statuses.get('skipped', 0):,}, "
                f"failed {statuses.get('failed', 0):,}), in progress {claimed:,}"
            )
        if elapsed > timeout:
            raise TimeoutError(f"{still_due:,} subscribers still due after {timeout:.0f} s")
        if time.monotonic() - last_change > 20 and not claimed:
            say("    no progress for 20 s with subscribers still due: one more dispatch tick")
            dispatch_due.delay()
            ticks, last_change = ticks + 1, time.monotonic()
        # Polling costs the database too: often at first, then once a second.
        time.sleep(0.25 if elapsed < 10 else 1.0)


def _timings(folder: Path, result: RunResult) -> None:
    wall: Counter = Counter()
    cpu: Counter = Counter()
    for path in folder.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            name = entry["task"].rsplit(".", 1)[-1]
            result.tasks[name] += 1
            result.instrumented = entry["instrumented"]
            if name == "dispatch_due":
                wall["dispatch"] += entry["seconds"]
                cpu["dispatch"] += entry["cpu"]
            elif name == "send_digest_chunk":
                wall.update(entry["stages"])
                cpu.update(entry["stages_cpu"])
                wall["store"] += entry["seconds"] - sum(entry["stages"].values())
                cpu["store"] += entry["cpu"] - sum(entry["stages_cpu"].values())
    result.stages = {stage: wall.get(stage, 0.0) for stage in STAGES}
    result.stages_cpu = {stage: cpu.get(stage, 0.0) for stage in STAGES}


def _check(result: RunResult, now: dt.datetime, port: int) -> None:
    """Exactly one message per non-empty digest, to the right people, none twice."""
    from accounts.models import Subscriber
    from digest.models import Digest

    received = standin_stats(port, recipients=True)
    recipients = set(received.pop("recipients"))
    result.received = received
    result.statuses = _statuses()
    sent = Digest.objects.filter(status=Digest.Status.SENT)
    result.nonempty = sent.filter(items__isnull=False).distinct().count()
    sent_to = set(sent.values_list("subscriber__email", flat=True))
    rescheduled = Subscriber.objects.filter(status="active", next_send_at__gt=now).count()
    problems = result.problems
    if received["messages"] != result.nonempty:
        problems.append(
            f"the stand-in received {received['messages']:,} messages for "
            f"{result.nonempty:,} non-empty digests"
        )
    if received["duplicates"]:
        problems.append(
            f"{received['duplicates']:,} recipients got more than one message, e.g. "
            f"{', '.join(received['duplicate_examples'][:3])}"
        )
    if recipients != sent_to:
        problems.append(
            f"{len(sent_to - recipients):,} sent digests never reached the stand-in and "
            f"{len(recipients - sent_to):,} messages went to someone without a sent digest"
        )
    finished = Digest.objects.exclude(status=Digest.Status.CLAIMED)
    if finished.count() != result.mix.due or rescheduled != result.mix.due:
        problems.append(
            f"{result.mix.due:,} subscribers were due; {finished.count():,} digests finished "
            f"and {rescheduled:,} subscribers rescheduled"
        )
    inactive = Digest.objects.exclude(subscriber__status="active").count()
    if inactive:
        problems.append(f"{inactive:,} digests for subscribers who are not active")
    if result.statuses.get("failed"):
        problems.append(f"{result.statuses['failed']:,} digests failed")


def run_daily(
    *,
    subscribers: int,
    papers: int,
    database_url: str,
    workers: int = 2,
    concurrency: int = 1,
    chunk_size: int = 200,
    latency_ms: float = 0.0,
    seed: int = 1,
    timeout: float = 3600.0,
    say: Say = print,
    before_dispatch: Callable[[int], None] | None = None,
) -> RunResult:
    """Build the data and run the day once. ``before_dispatch(port)`` runs once the
    stand-in is up and the papers are in, before any worker starts (the naive baselines
    use it)."""
    result = RunResult(subscribers, papers, workers, concurrency, chunk_size, latency_ms)
    day = timezone.now().date()
    say(f"  building {papers:,} papers and {subscribers:,} subscribers")
    wipe()
    started = time.perf_counter()
    generated = data.make_papers(papers, seed=seed)
    result.setup["generate papers"] = time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="pw-bench-") as tmp, Fleet(Path(tmp)) as fleet:
        port = fleet.start_standin(latency_ms=latency_ms)
        started = time.perf_counter()
        result.ingest_counts = ingest(generated, day)
        result.ingest_seconds = time.perf_counter() - started
        say(
            f"  ingest: {result.ingest_seconds:.2f} s; "
            + "; ".join(
                f"{name}: {c['status']}, {c['new']} new, {c['updated']} updated, "
                f"{c['rejected']} rejected"
                for name, c in result.ingest_counts.items()
            )
        )

        now = timezone.now()
        started = time.perf_counter()
        result.mix = data.create_subscribers(subscribers, generated, now=now, seed=seed + 2)
        result.setup["insert subscribers"] = time.perf_counter() - started
        say(
            f"  {result.mix.due:,} due, {result.mix.inactive:,} inactive; inserted in "
            f"{result.setup['insert subscribers']:.1f} s"
        )
        if before_dispatch is not None:
            before_dispatch(port)
            standin_reset(port)

        timing_dir = Path(tmp) / "timings"
        timing_dir.mkdir()
        from config.celery import app
        from digest.tasks import dispatch_due

        with contextlib.suppress(Exception):
            app.control.purge()
        say(f"  starting {workers} worker process(es) x concurrency {concurrency}")
        fleet.start_workers(
            workers,
            concurrency=concurrency,
            env=worker_env(database_url, port, timing_dir, chunk_size),
        )
        with MemoryWatch(fleet) as memory:
            load = _loadavg()
            started = time.perf_counter()
            dispatch_due.delay()
            result.ticks = _wait(result.mix.due, now, timeout, say)
            result.pipeline_seconds = time.perf_counter() - started
            result.load = (load, _loadavg())
            time.sleep(0.5)  # the last task's timing line is written after it returns
        result.memory = memory.peaks
        for role in [r for r in fleet.procs if r.startswith("worker")]:
            fleet.stop(role)
        _timings(timing_dir, result)
        _check(result, now, port)
    return result
