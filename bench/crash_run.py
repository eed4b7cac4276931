"""A worker killed mid-send, from outside, on real processes: no digest twice, none lost.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pw_bench_crash \\
    REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python bench/crash_run.py [--subscribers 3000] [--kill-at 0.3]

The day's papers are ingested by the real code from a loopback feed server; ``--subscribers``
active subscribers are due now. Two Celery workers (``celery -A config worker``, default
delivery settings) and a real beat start, with the tests' stand-in provider
(``tests/support/fake_provider.py``, its own process, answering after ``--latency-ms`` like
a remote API) which, like a real provider, keeps every request it received whole even when
its sender died before reading the answer. When the provider holds ``--kill-at`` of the
messages, one worker is killed with SIGKILL (its whole process group: requests in flight,
nothing recorded). The run then waits, with only beat's ticks to recover, until no
subscriber is due and no digest is claimed, and reports:

- duplicates: recipients the provider holds more than one message for;
- lost: due subscribers without a finished digest, or recorded sent but never received;
- held as unknown: digests recorded "maybe sent" (and whether the provider has them);
- the time from the first dispatch, and from the kill, to the last digest finished.

The database is emptied first (staff logins kept): the script refuses a database whose name
does not contain "bench" or "test" unless given --force. The Redis databases are flushed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=3000)
    parser.add_argument("--papers", type=int, default=500)
    parser.add_argument("--kill-at", type=float, default=0.3, help="share sent before the kill")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="provider's answer time")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--force", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from bench.daily_run import setup_django

    database_url = setup_django(args.force)
    from django.utils import timezone

    from accounts.models import Subscriber
    from bench import data, pipeline
    from bench.procs import Fleet
    from config.celery import app
    from digest.models import Digest
    from digest.tasks import dispatch_due

    print(f"== {args.subscribers:,} due subscribers, 2 workers, one SIGKILLed mid-send")
    pipeline.wipe()
    papers = data.make_papers(args.papers, seed=1)
    day = timezone.now().date()
    pipeline.ingest(papers, day)
    now = timezone.now()
    data.create_subscribers(args.subscribers, papers, now=now, seed=3, inactive_share=0.0)
    due = Subscriber.objects.due(now).count()
    with contextlib.suppress(Exception):
        app.control.purge()

    with tempfile.TemporaryDirectory(prefix="pw-crash-") as tmp, Fleet(Path(tmp)) as fleet:
        port = fleet.start_standin(latency_ms=args.latency_ms)
        timing = Path(tmp) / "timings"
        timing.mkdir()
        env = pipeline.worker_env(database_url, port, timing, chunk_size=200)
        env["LOG_LEVEL"] = "INFO"
        fleet.start_workers(2, concurrency=1, env=env)
        fleet.spawn(
            "beat",
            [
                sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                "--schedule", str(Path(tmp) / "celerybeat-schedule"),
            ],
            env,
        )  # fmt: skip
        started = time.monotonic()
        dispatch_due.delay()  # the first tick, as beat's would be
        target = int(due * args.kill_at)
        while pipeline.standin_stats(port)["messages"] < target:
            if time.monotonic() - started > args.timeout:
                raise SystemExit("the provider never got that far")
            time.sleep(0.05)
        # The worker sending now (its threads hold connections to the provider): killed with
        # requests in flight, as the run did.
        role, open_now = wait_for_sender(fleet, port, started + args.timeout)
        os.killpg(fleet.procs[role].pid, signal.SIGKILL)
        killed = time.monotonic()
        at_kill = pipeline.standin_stats(port)["messages"]
        print(
            f"  SIGKILL of {role} at {killed - started:.1f} s, {at_kill:,} messages in, "
            f"{open_now} of its requests in flight at the provider"
        )

        last_report = 0.0
        while True:
            statuses = pipeline._statuses()
            still_due = Subscriber.objects.due(now).count()
            claimed = statuses.get("claimed", 0)
            elapsed = time.monotonic() - started
            if not still_due and not claimed:
                break
            if elapsed - last_report >= 10:
                last_report = elapsed
                print(f"    {elapsed:6.1f} s  {statuses}  still due {still_due:,}")
            if elapsed > args.timeout:
                print(f"  gave up after {args.timeout:.0f} s")
                break
            time.sleep(0.5)
        finished = time.monotonic()
        received = pipeline.standin_stats(port, recipients=True)
        worker_logs = "".join(
            fleet.logs[r].read_text(errors="replace") for r in ("worker1", "worker2")
        )

    got = set(received["recipients"])
    sent = set(Digest.objects.filter(status="sent").values_list("subscriber__email", flat=True))
    unknown = set(
        Digest.objects.filter(status="unknown").values_list("subscriber__email", flat=True)
    )
    finished_ids = Digest.objects.exclude(status="claimed").values_list("subscriber", flat=True)
    unfinished = Subscriber.objects.filter(status="active").exclude(pk__in=finished_ids).count()
    lost = unfinished + len(sent - got)
    takeovers = [line for line in worker_logs.splitlines() if "taking over earlier" in line]
    print(
        f"  provider holds {received['messages']:,} messages for {received['distinct']:,} "
        f"recipients; digests {pipeline._statuses()}"
    )
    print(f"  duplicates: {received['duplicates']}")
    never = len(sent - got)
    print(f"  lost: {lost} ({unfinished} unfinished, {never} recorded sent but not received)")
    print(f"  held as unknown: {len(unknown)} ({len(unknown & got)} of them at the provider)")
    for line in takeovers:
        print(f"  take-over: {line.split('chunk taking over earlier claims: ', 1)[-1]}")
    print(
        f"  last digest {finished - started:.1f} s after the first dispatch, "
        f"{finished - killed:.1f} s after the kill"
    )
    return 0 if not received["duplicates"] and not lost else 1


WORKERS = ("worker1", "worker2")


def wait_for_sender(fleet, port: int, give_up: float) -> tuple[str, int]:
    """The worker with the most requests in flight at the provider (received whole, not
    answered yet), once one has at least four."""
    from bench import pipeline

    while time.monotonic() < give_up:
        waiting = set(pipeline.standin_stats(port)["in_flight_ports"])
        counts = {role: len(_ports(fleet.procs[role].pid, port) & waiting) for role in WORKERS}
        role = max(counts, key=lambda r: counts[r])
        if counts[role] >= 4:
            return role, counts[role]
        time.sleep(0.005)
    raise SystemExit("no worker was sending")


def _ports(pid: int, port: int) -> set[int]:
    """Local ports of the TCP connections to 127.0.0.1:``port`` held by ``pid`` or its
    children."""
    inodes = set()
    for proc in [pid, *_descendants(pid)]:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{proc}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    wanted = f"0100007F:{port:04X}"
    found = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[2] == wanted and fields[9] in inodes:
                found.add(int(fields[1].split(":")[1], 16))
    return found


def _descendants(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += [int(child), *_descendants(int(child))]
    return found


if __name__ == "__main__":
    sys.exit(main())
