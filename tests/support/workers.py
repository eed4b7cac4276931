"""Real Celery worker processes for tests whose behaviour depends on them.

Tests using these need the ``transactional_db`` fixture: a worker is another
process and sees only committed rows.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from config.celery import app
from tests.support import processes


def test_database_url() -> str:
    """The URL of the database the running tests use (not the configured one)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = quote(db.get("USER") or "postgres", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{user}{password}@{host}/{quote(db['NAME'], safe='')}"


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
    handle, log = tempfile.mkstemp(prefix="celery-worker-", suffix=".log")  # read on failure
    os.close(handle)
    name = f"test-{uuid.uuid4().hex[:8]}@%h"
    proc = processes.spawn(
        processes.celery_worker_command(name, concurrency, settings.WORKER_QUEUES),
        Path(log),
        worker_env(**extra_env),
    )
    proc.log_path = log  # type: ignore[attr-defined]  # ours, for a test to find the log
    try:
        from digest.tasks import ping

        result = ping.delay()  # the one task that keeps its result
        if result.get(timeout=90) != "pong":
            raise RuntimeError("worker answered the ping wrongly")
        yield proc
    except Exception:
        print(processes.tail(Path(log), 5000))
        raise
    finally:
        processes.stop(proc)
