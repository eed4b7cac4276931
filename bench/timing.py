"""Per-stage timings from inside the benchmark's worker processes.

The benchmark starts its workers with ``celery -A config worker --include bench.timing`` and
``BENCH_TIMING_DIR`` set. In each pool process this module wraps the pipeline's contract
functions with a timer (the functions themselves run unchanged):

- match:    ``digest.matching.select_for_subscribers``
- render:   ``digest.mail.compose.render_digest`` and ``digest.mail.compose.build_message``
- hand-off: ``digest.mail.handoff.hand_off`` (else every Anymail backend's ``send_messages``)

and after every task appends one JSON line to ``$BENCH_TIMING_DIR/<pid>.jsonl``: the task's
name, its wall and CPU time, and the wall and CPU seconds spent in each stage during it (CPU
time is the whole process's, so it includes the hand-off's sending threads). "store" is what remains
of a ``send_digest_chunk`` once match, render and hand-off are taken out: claiming, reading
subscribers and papers, writing digests and their items, marking them sent.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from celery.signals import task_postrun, task_prerun, worker_process_init

TARGETS = {
    "match": ["digest.matching:select_for_subscribers"],
    "render": ["digest.mail.compose:render_digest", "digest.mail.compose:build_message"],
    "handoff": ["digest.mail.handoff:hand_off"],
}
FALLBACK_HANDOFF = "anymail.backends.base:AnymailBaseBackend.send_messages"

_spent: dict[str, float] = {}
_cpu: dict[str, float] = {}
_started: dict[str, tuple[float, float]] = {}
_local = threading.local()
_instrumented: list[str] = []


def _timed(stage: str, func: Callable) -> Callable:
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        # Only the outermost call counts, so a stage function calling another is not
        # counted twice.
        depth = getattr(_local, stage, 0)
        setattr(_local, stage, depth + 1)
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return func(*args, **kwargs)
        finally:
            setattr(_local, stage, depth)
            if depth == 0:
                _spent[stage] = _spent.get(stage, 0.0) + time.perf_counter() - started
                _cpu[stage] = _cpu.get(stage, 0.0) + time.process_time() - cpu

    wrapper.bench_original = func  # type: ignore[attr-defined]  # our mark: already patched
    return wrapper


def _wrap(stage: str, target: str) -> bool:
    module_name, _, attr_path = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False
    *owners, name = attr_path.split(".")
    holder = module
    for owner in owners:
        holder = getattr(holder, owner)
    original = getattr(holder, name, None)
    if original is None or hasattr(original, "bench_original"):
        return False
    wrapped = _timed(stage, original)
    setattr(holder, name, wrapped)
    # Modules that did ``from module import name`` hold their own reference.
    for other in list(sys.modules.values()):
        if getattr(other, "__name__", "").startswith(("digest.", "accounts.")):
            for key, value in list(vars(other).items()):
                if value is original:
                    setattr(other, key, wrapped)
    return True


@worker_process_init.connect
def _instrument(**kwargs) -> None:
    for stage, targets in TARGETS.items():
        for target in targets:
            if _wrap(stage, target):
                _instrumented.append(target)
    if "digest.mail.handoff:hand_off" not in _instrumented and _wrap("handoff", FALLBACK_HANDOFF):
        _instrumented.append(FALLBACK_HANDOFF)


@task_prerun.connect
def _start(task_id: str, **kwargs) -> None:
    _spent.clear()
    _cpu.clear()
    _started[task_id] = (time.perf_counter(), time.process_time())


@task_postrun.connect
def _finish(task_id: str, task, **kwargs) -> None:
    started = _started.pop(task_id, None)
    folder = os.environ.get("BENCH_TIMING_DIR")
    if started is None or not folder:
        return
    line = {
        "task": task.name,
        "seconds": time.perf_counter() - started[0],
        "cpu": time.process_time() - started[1],
        "stages": dict(_spent),
        "stages_cpu": dict(_cpu),
        "instrumented": _instrumented,
    }
    with (Path(folder) / f"{os.getpid()}.jsonl").open("a") as out:
        out.write(json.dumps(line) + "\n")
