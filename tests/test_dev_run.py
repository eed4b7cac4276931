"""``python3 dev.py run``'s processes (the Procfile under honcho) stop cleanly on Ctrl-C, and
``python3 dev.py test`` runs side by side in one checkout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.processes import answers, free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# A private SQLite database and broker: never the suite's queue or database.
SHARED = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}


@pytest.mark.worker
def test_ctrl_c_stops_web_worker_and_beat_without_an_error_line(tmp_path):
    port = free_port()
    env = _private_env() | {
        "VAR_DIR": str(tmp_path),
        "PAPERWIRE_PORT": str(port),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    honcho = subprocess.Popen(
        [BIN / "honcho", "start", "-f", "Procfile"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    lines: list[str] = []
    stream = honcho.stdout
    assert stream is not None
    reader = threading.Thread(target=lambda: lines.extend(stream), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 90
        healthz = f"http://127.0.0.1:{port}/healthz"
        while not (answers(healthz) and any(" ready." in line for line in lines)):
            assert time.monotonic() < deadline, "".join(lines)
            assert honcho.poll() is None, "".join(lines)
            time.sleep(0.5)
        os.killpg(honcho.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
        assert honcho.wait(timeout=60) is not None
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()
    reader.join(timeout=5)
    output = "".join(lines)
    assert "SIGINT received" in output
    assert "ERROR" not in output and "Traceback" not in output, output


def test_two_test_runs_in_one_checkout_share_no_database_and_both_pass(tmp_path):
    # Both runs create and fill their SQLite test database at the same moment; with
    # one shared file, one of them failed with "disk I/O error".
    command = [sys.executable, "dev.py", "test", "tests/test_unsubscribe.py", "-q"]
    command += ["-p", "no:cacheprovider"]
    env = _private_env() | {"VAR_DIR": str(tmp_path)}
    runs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output
        assert " passed" in output and "error" not in output.lower(), output
    assert list((tmp_path / "test-runs").iterdir()) == []  # each run removed its own


def test_a_test_run_that_collects_no_test_fails(tmp_path):
    command = [sys.executable, "dev.py", "test", "tests/test_unsubscribe.py", "-q"]
    command += ["-p", "no:cacheprovider", "-k", "no_test_has_this_name"]
    env = _private_env() | {"VAR_DIR": str(tmp_path)}
    assert subprocess.run(command, cwd=ROOT, env=env, capture_output=True).returncode == 5


def _private_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in SHARED}
