"""The other processes a test or a benchmark runs: web servers, Celery workers and beat,
the stand-in provider. Each starts in a session of its own with its output in a log file,
is waited for until it is ready, and is stopped with its children.

Plain Python, no Django: the benchmarks (bench/procs.py, bench/smoke_production.py) use
it as they use the stand-in provider, from ``tests.support``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def production_env(site_url: str, var: Path, **overrides: str) -> dict[str, str]:
    """This process's environment, with what a production web process has that tests and
    development turn off: DEBUG off, a random secret, the site's URL and loopback host."""
    return {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SITE_URL": site_url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "VAR_DIR": str(var),
        **overrides,
    }


def celery_worker_command(
    hostname: str, concurrency: int, queues: tuple[str, ...], include: tuple[str, ...] = ()
) -> list[str]:
    """``celery worker`` as the tests and benchmarks start it: no gossip, mingle or
    heartbeat, which only slow a start and add broker chatter on one machine."""
    return [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "--loglevel", "INFO", "--concurrency", str(concurrency),
        "--hostname", hostname, "--queues", ",".join(queues),
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        *(f"--include={module}" for module in include),
    ]  # fmt: skip


def spawn(args: list[Any], log: Path, env: dict[str, str], **popen: Any) -> subprocess.Popen:
    """Start ``args`` from the checkout (or ``cwd``), its output (stdout too, unless given)
    in ``log``.

    In a session of its own: Ctrl-C in a terminal reaches the caller, which stops it, and
    ``stop`` reaches its children (a prefork pool, gunicorn's workers) too."""
    popen.setdefault("cwd", ROOT)
    with log.open("wb") as out:
        return subprocess.Popen(
            args,
            env=env,
            stdout=popen.pop("stdout", out),
            stderr=out,
            start_new_session=True,
            **popen,
        )


def stop(proc: subprocess.Popen, *, kill: bool = False) -> None:
    """SIGTERM to the process and its children (SIGKILL with ``kill``), and SIGKILL after
    20 seconds if they are still there."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    if proc.stdout:
        proc.stdout.close()


def tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:]


def wait_for(
    predicate: Callable[[], T | None], timeout: float = 60.0, interval: float = 0.2, what: str = ""
) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that; fail with
    TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what or 'condition'} not met within {timeout:g} s")


def wait_until_ready(
    proc: subprocess.Popen,
    ready: Callable[[], bool],
    log: Path,
    timeout: float,
    what: str,
) -> None:
    """Poll ``ready`` while ``proc`` runs; RuntimeError with the end of its log if it
    exits first or is not ready within ``timeout`` seconds (the caller stops it)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start:\n{tail(log)}")


def log_says(log: Path, text: str) -> Callable[[], bool]:
    """A ``ready`` check: ``text`` is in the log (Celery's " ready.")."""
    return lambda: text in log.read_text(errors="replace")


def answers(url: str) -> bool:
    """A ``ready`` check: ``url`` answers 200 (a health check)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False
