"""``python3 dev.py run``'s processes (the Procfile under honcho) stop cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.browser import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.mark.worker
def test_ctrl_c_stops_web_worker_and_beat_without_an_error_line(tmp_path):
    port = free_port()
    # A private SQLite database and broker: never the suite's queue or database.
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}
    }
    env |= {
        "VAR_DIR": str(tmp_path),
        "PAPERWIRE_PORT": str(port),
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
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
        while not (_answers(port) and any(" ready." in line for line in lines)):
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


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False
