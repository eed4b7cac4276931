"""The benchmark's processes: Celery workers, the stand-in provider, and their peak memory.

``Fleet`` starts each process in its own session and stops every one of them (SIGTERM,
then SIGKILL) when its ``with`` block ends, whether the run finished, failed or was
interrupted with Ctrl-C. ``MemoryWatch`` samples the peak resident size (``VmHWM``) of
each process and its children (the prefork pool) from ``/proc`` while they run.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from tests.support import processes


class Fleet:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()

    def spawn(self, role: str, args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
        """Start ``args`` as ``role``, its output in ``<log_dir>/<role>.log``."""
        log = self.log_dir / f"{role}.log"
        self.logs[role] = log
        proc = processes.spawn(args, log, env, **kwargs)
        self.procs[role] = proc
        return proc

    def start_standin(self, *, latency_ms: float = 0.0) -> int:
        """Start the stand-in provider (the tests' ``tests/support/fake_provider.py``, as a
        process of its own); return its port."""
        proc = self.spawn(
            "standin",
            [sys.executable, "-m", "tests.support.fake_provider", "--latency-ms", str(latency_ms)],
            {**os.environ},
            stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if not line.startswith("listening on "):
            self.stop("standin")
            raise RuntimeError(f"the stand-in provider did not start: {line!r}")
        return int(line.split()[-1])

    def start_workers(
        self,
        count: int,
        *,
        concurrency: int,
        env: dict[str, str],
        timeout: float = 90.0,
        include: tuple[str, ...] = ("bench.timing",),
    ) -> list[str]:
        """Start ``count`` worker nodes (as on ``count`` machines) and wait until each is
        ready. Return their roles."""
        roles = []
        for number in range(1, count + 1):
            role = f"worker{number}"
            hostname = f"bench{number}-{uuid.uuid4().hex[:6]}@%h"
            queues = ("celery", "ingest")
            self.spawn(
                role, processes.celery_worker_command(hostname, concurrency, queues, include), env
            )
            roles.append(role)
        deadline = time.monotonic() + timeout
        for role in roles:
            log = self.logs[role]
            left = deadline - time.monotonic()
            try:
                processes.wait_until_ready(
                    self.procs[role], processes.log_says(log, " ready."), log, left, role
                )
            except RuntimeError:
                self.stop_all()
                raise
        return roles

    def stop(self, role: str) -> None:
        proc = self.procs.pop(role, None)
        if proc is not None:
            processes.stop(proc)

    def stop_all(self) -> None:
        for role in list(self.procs):
            self.stop(role)


def _status(pid: int) -> dict[str, str]:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def _children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


class MemoryWatch:
    """Peak resident memory per process, sampled from /proc every ``interval`` seconds.

    Keys are ``role`` for a started process and ``role/child-N`` for its children, so the
    report shows the Celery main process and each pool process separately.
    """

    def __init__(self, fleet: Fleet, interval: float = 0.5) -> None:
        self.fleet = fleet
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self._names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.sample()
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        for role, proc in list(self.fleet.procs.items()):
            self._record(role, proc.pid)
            for number, child in enumerate(sorted(_children(proc.pid)), 1):
                self._record(self._names.setdefault(child, f"{role}/child-{number}"), child)

    def _record(self, name: str, pid: int) -> None:
        peak = _status(pid).get("VmHWM", "0 kB").split()[0]
        self.peaks[name] = max(self.peaks.get(name, 0), int(peak) * 1024)
