"""Real Celery worker processes for tests whose behaviour depends on them.

Tests using these need the ``transactional_db`` fixture: a worker is another
process and sees only committed rows.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection

from config.celery import app

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    """The URL of the database the running tests use (not the configured one)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{user}{password}@{host}/{db['NAME']}"


def worker_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
        "FETCH_ALLOW_PRIVATE": "1",
        **extra,
    }


def purge_queue() -> None:
    with contextlib.suppress(Exception):
        app.control.purge()


@contextlib.contextmanager
def celery_worker(
    concurrency: int = 1, *, purge: bool = True, **extra_env: str
) -> Iterator[subprocess.Popen]:
    """Start ``celery -A config worker`` and wait until it answers a ping task.

    Yields the process; its output is in ``proc.log_path``. The worker is
    stopped (SIGTERM, then SIGKILL) on exit, whatever the test did.
    """
    if purge:
        purge_queue()
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - outlives this block, read on failure
        prefix="celery-worker-", suffix=".log", delete=False
    )
    name = f"test-{uuid.uuid4().hex[:8]}@%h"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(concurrency),
            "--hostname",
            name,
            "--queues",
            ",".join(settings.WORKER_QUEUES),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=worker_env(**extra_env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc.log_path = log.name  # type: ignore[attr-defined]  # ours, for a test to find the log
    try:
        from digest.tasks import ping

        result = ping.delay()  # the one task that keeps its result
        if result.get(timeout=90) != "pong":
            raise RuntimeError("worker answered the ping wrongly")
        yield proc
    except Exception:
        print(Path(log.name).read_text()[-5000:])
        raise
    finally:
        stop_worker(proc)


def stop_worker(proc: subprocess.Popen, *, kill: bool = False) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
