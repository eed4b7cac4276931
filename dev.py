#!/usr/bin/env python3
"""The two set-up commands, needing nothing but Python 3.11+:

    python3 dev.py run    # virtualenv, install, migrate, admin login, demo data,
                          # then web + Celery worker + beat until Ctrl-C
    python3 dev.py test   # virtualenv, install with the dev extra, the whole suite

Written in plain Python rather than make or shell so it works wherever Python does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("PAPERWIRE_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def ensure_venv(extra: str) -> None:
    """Create the virtualenv and install the locked dependencies, then Paperwire itself,
    skipping pip when neither pyproject.toml nor the lock changed since the last install."""
    if not PYTHON.exists():
        say(f"creating a virtualenv in {VENV}")
        venv.create(VENV, with_pip=True)
    # The dev lock holds every base pin too (compiled with the base lock as constraint).
    lock = ROOT / ("requirements-dev.lock" if extra else "requirements.lock")
    spec = (ROOT / "pyproject.toml").read_bytes() + lock.read_bytes() + extra.encode()
    stamp = VENV / f".paperwire-installed-{extra or 'base'}"
    digest = hashlib.sha256(spec).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    say("installing Paperwire and its dependencies (first run takes a minute)")
    quiet = ["--quiet", "--disable-pip-version-check"]
    pip: list[str | Path] = [PYTHON, "-m", "pip", "install", *quiet]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-r", lock], cwd=ROOT, check=True)
    subprocess.run([*pip, "--no-deps", "-e", "."], cwd=ROOT, check=True)
    stamp.write_text(digest)


def env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env(), check=True)


def run() -> int:
    ensure_venv("")
    # Settings fail closed; development turns on what it needs: debug pages, and with
    # no SECRET_KEY given a random development key kept in var/ (settings make it).
    os.environ.setdefault("DEBUG", "true")
    say("applying database migrations")
    manage("migrate", "--no-input", "-v", "0")
    manage("ensure_admin")
    say("loading the demo papers and subscribers")
    manage("demo")
    say("starting web, worker and beat; open http://127.0.0.1:8000/ (Ctrl-C stops)")
    honcho = subprocess.Popen([BIN / "honcho", "start", "-f", "Procfile"], cwd=ROOT, env=env())
    # honcho stops web, worker and beat when it is told to; a service manager
    # or `timeout` signals only this process, so pass SIGTERM on.
    signal.signal(signal.SIGTERM, lambda *_: honcho.terminate())
    try:
        return honcho.wait()
    except KeyboardInterrupt:  # Ctrl-C reached honcho too: let it finish stopping
        return honcho.wait()


def test(args: list[str]) -> int:
    ensure_venv("dev")
    test_env = env()
    # Each run has a var directory of its own, removed at the end: the SQLite test
    # database, the SQLite Celery broker and results, the file cache and the mail folder
    # all live there (config/settings.py), so two runs in one checkout share no file, and
    # neither touches a local service's database or queue.
    var = Path(test_env.get("VAR_DIR") or ROOT / "var") / "test-runs"
    var.mkdir(parents=True, exist_ok=True)
    run_var = tempfile.mkdtemp(prefix="run-", dir=var)
    test_env["VAR_DIR"] = run_var
    try:
        return subprocess.call([PYTHON, "-m", "pytest", *args], cwd=ROOT, env=test_env)
    finally:
        shutil.rmtree(run_var, ignore_errors=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test"}:
        print(__doc__)
        return 2
    if argv[0] == "run":
        return run()
    return test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
