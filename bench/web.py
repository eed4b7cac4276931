"""Load test of the public pages: `/` and `/subscribe/` served by gunicorn (2 sync
workers) on PostgreSQL, at 32 concurrent clients. Goal: at least 300 requests/s per
page with a 95th percentile under 50 ms.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pw_bench_web .venv/bin/python bench/web.py

It creates the database when missing, migrates it, loads the demo day (`manage.py demo`),
starts gunicorn on a free loopback port with Redis as the cache when REDIS_URL is set, and
drives each URL with wrk (`apt-get install wrk`; gunicorn's sync workers close each
connection, so every request also pays a TCP connect, as without keep-alive). The baseline
printed beside the pages is a static file served by the same gunicorn through WhiteNoise:
the cost of a request that runs no view and no query, i.e. the ceiling on this machine.
The load generator shares
the machine's cores with the server, so figures are a floor for a real deployment.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import processes  # noqa: E402

PAGES = ["/", "/subscribe/"]
BASELINE = "/static/paperwire/site.css"
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def start_gunicorn(
    env: dict[str, str], log: Path, workers: int, threads: int
) -> tuple[subprocess.Popen, int]:
    proc = processes.spawn(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--bind",
            "127.0.0.1:0",
            "--logger-class",
            "accounts.redact.GunicornLogger",
        ],
        log,
        env,
        cwd=ROOT,  # bench/preview_storm.py points ROOT at another checkout
    )

    def listening() -> bool:
        text = log.read_text()
        return bool(LISTENING.search(text)) and text.count("Booting worker") >= workers

    try:
        processes.wait_until_ready(proc, listening, log, 30, "gunicorn")
    except RuntimeError as error:
        processes.stop(proc, kill=True)
        raise SystemExit(str(error)) from None
    port = LISTENING.search(log.read_text())
    assert port  # listening() saw it
    return proc, int(port.group(1))


# wrk reports p50/p90/p99 by default; this prints the p95 the goal names as well.
WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def load(port: int, path: str, seconds: float, clients: int, script: Path) -> dict:
    """Drive ``path`` with wrk (Debian package ``wrk``) and return its figures."""
    url = f"http://127.0.0.1:{port}{path}"
    result = subprocess.run(
        ["wrk", "-t", "2", "-c", str(clients), "-d", f"{seconds:g}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", result.stdout)
    if not found:
        raise SystemExit(f"unexpected wrk output:\n{result.stdout}{result.stderr}")
    requests, duration_us, p50, p95, p99, errors = map(int, found.groups())
    return {
        "rps": requests / (duration_us / 1e6),
        "p50": p50 / 1000,
        "p95": p95 / 1000,
        "p99": p99 / 1000,
        "errors": errors,
    }


def measure(env: dict[str, str], var: Path, args, script: Path, paths: list[str]) -> dict:
    """Start gunicorn with ``env``, warm it up, and load each path in turn."""
    proc, port = start_gunicorn(env, var / "gunicorn.log", args.workers, args.threads)
    try:
        load(port, "/", 2, args.clients, script)  # every worker imports and connects
        return {path: load(port, path, args.seconds, args.clients, script) for path in paths}
    finally:
        processes.stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="over 1: gthread workers")
    args = parser.parse_args()

    if not shutil.which("wrk"):
        raise SystemExit("needs wrk: apt-get install wrk")
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database (created when missing)")
    ensure_database(url)
    var = Path(tempfile.mkdtemp(prefix="pw-bench-web-"))
    env = {
        **os.environ,
        "VAR_DIR": str(var),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SITE_URL": "http://127.0.0.1",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    print("==> migrating, loading the demo day, collecting static files", flush=True)
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "demo")
    manage(env, "collectstatic", "--no-input", "-v", "0")
    print(
        f"==> gunicorn, {args.workers} workers; {args.clients} clients, {args.seconds:g} s per URL",
        flush=True,
    )
    script = var / "report.lua"
    script.write_text(WRK_SCRIPT)
    naive = {**env, "DJANGO_SETTINGS_MODULE": "bench.settings_nocache"}
    rows = [
        (f"{path}  (naive: no cache)", row)
        for path, row in measure(naive, var, args, script, PAGES).items()
    ]
    rows += list(measure(env, var, args, script, [*PAGES, BASELINE]).items())
    print(f"\n{'URL':<36} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6}")
    for label, row in rows:
        label = label + ("  (ceiling: static)" if label == BASELINE else "")
        print(
            f"{label:<36} {row['rps']:>7.0f} {row['p50']:>7.1f} {row['p95']:>7.1f} "
            f"{row['p99']:>7.1f} {row['errors']:>6}"
        )
    met = all(r["rps"] >= 300 and r["p95"] < 50 for label, r in rows if label in PAGES)
    print(
        f"\ngoal (>= 300 req/s, p95 < 50 ms on {', '.join(PAGES)}): {'met' if met else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
