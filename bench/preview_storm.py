"""Preview storm: 50 hostile signup previews at once against gunicorn (2 sync workers) on
loopback, while /healthz is asked every 0.1 s. Goal: /healthz keeps answering within 1 s.

    .venv/bin/python bench/preview_storm.py [--papers 2100] [--baseline-checkout DIR]

Each hostile preview is GET /subscribe/preview.json with 20 lines of 16 short prefixes
(``con* pre* pro* ...``), the request issue 16 reported at 12 to 23 s of CPU on a day of
about 2,100 papers. A fresh SQLite database in a temporary VAR_DIR gets one generated day
(``bench/data.py``: real titles and abstracts recombined), ingested with ``manage.py
ingest --file``; each worker is warmed with one ordinary preview (its day's index built)
before the storm. Printed: /healthz latency before and during the storm, how the 50
previews were answered (200 or 429) and how long they took; and then the latency of 200
ordinary previews sent one at a time (1 to 3 lines of topics people type, drawn from
``bench/data.py``; goal: p95 under 300 ms), with the rate limit lifted for that part.

``--baseline-checkout DIR`` runs the same storm first against another checkout of the
project (for example ``git archive <commit> | tar -x -C DIR``), so today's figure prints
beside the new one; its code is imported from DIR (PYTHONPATH), with this virtualenv.
A client gives up on a preview after ``--give-up`` seconds (60), and gunicorn kills a
request after its default 30 s, so a storm that old code cannot serve still ends.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.data import hf_daily_json, make_papers, personal_topics  # noqa: E402
from bench.web import start_gunicorn  # noqa: E402
from tests.support import processes  # noqa: E402

# Common starts of English words: each hostile line takes 16 of them, drawn at random, so
# no two previews are alike and no cache answers for another.
PREFIXES = re.findall(
    r"\w+",
    (
        "con pre pro com dis inf par sta tra rep int per res exp gen mod ana app arc ass att "
        "aut bal bas cal can car cha cla col cor cou cre cur dat dec def del dem den dep des "
        "det dev dif dir ele emb eme ene est eva evi fea fil for fun gra gro ide ima imp ind "
        "ins lan lea lin loc man mat mea med met min mul net obj obs opt ori out pat pol pos "
        "pot pra pri qua ran rea rec red ref reg rel rem req rob sam sca sec sel sem sen seq "
        "sig sim sol spa spe str sub sup sur sys tas tec tem ten tes the tok top tre uni upd "
        "val var vid vis"
    ),
)
STORM = 50
DAY = dt.date(2026, 8, 20)
HEALTH_GOAL = 1.0


def get(port: int, path: str, timeout: float = 120.0) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as reply:
            reply.read()
            status = reply.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, TimeoutError):
        status = 0
    return status, time.perf_counter() - started


def preview_path(typed: str) -> str:
    return "/subscribe/preview.json?" + urllib.parse.urlencode({"q": typed})


def hostile(number: int) -> str:
    """20 lines of 16 prefixes each, different for every ``number``."""
    rng = random.Random(number)
    return "\n".join(" ".join(f"{p}*" for p in rng.sample(PREFIXES, 16)) for _ in range(20))


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def storm(port: int, limit: float) -> dict:
    before = [get(port, "/healthz")[1] for _ in range(10)]
    during: list[float] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            during.append(get(port, "/healthz")[1])
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(STORM) as pool:
        answers = list(
            pool.map(lambda n: get(port, preview_path(hostile(n)), timeout=limit), range(STORM))
        )
    took = time.perf_counter() - started
    done.set()
    watcher.join()
    ok = [seconds for status, seconds in answers if status == 200]
    return {
        "health_before_max": max(before),
        "health_during_max": max(during),
        "health_during_p95": p95(during),
        "health_checks": len(during),
        "answered_200": len(ok),
        "answered_429": sum(1 for status, _ in answers if status == 429),
        "other": sum(1 for status, _ in answers if status not in (200, 429)),
        "preview_max": max(ok, default=0.0),
        "storm_seconds": took,
    }


def ordinary(port: int, topics: list[str], count: int) -> dict:
    """``count`` previews one after another, as people type: 1 to 3 lines of real topics."""
    rng = random.Random(7)
    took = []
    for _ in range(count):
        typed = "\n".join(rng.sample(topics, rng.randint(1, 3)))
        status, seconds = get(port, preview_path(typed))
        assert status == 200, status
        took.append(seconds)
    return {"p50": sorted(took)[len(took) // 2], "p95": p95(took), "count": count}


def run(
    checkout: Path, day_file: Path, workers: int, limit: float, topics: list[str], count: int
) -> tuple[dict, dict]:
    """(the storm's figures, ordinary previews' latency) against ``checkout``."""
    with tempfile.TemporaryDirectory(prefix="pw-bench-storm-") as var:
        env = {
            **os.environ,
            "VAR_DIR": var,
            "PYTHONPATH": str(checkout),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            # Settings fail closed; a bench signs nothing that outlives it.
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        }
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)

        def manage(*args: str) -> None:
            subprocess.run(
                [sys.executable, "manage.py", *args],
                cwd=checkout,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )

        manage("migrate", "--verbosity", "0")
        manage("ingest", "--file", str(day_file), "--date", DAY.isoformat())
        proc, port = start_gunicorn_in(checkout, env, Path(var) / "gunicorn.log", workers)
        try:
            for _ in range(workers * 3):  # every worker builds its day's index
                get(port, preview_path("diffusion models"))
            found = storm(port, limit)
        finally:
            processes.stop(proc)
        # Then ordinary previews, the rate limit lifted so that one client can measure.
        unlimited = {**env, "PREVIEW_RATE_PER_IP": "1000000"}
        proc, port = start_gunicorn_in(checkout, unlimited, Path(var) / "ordinary.log", workers)
        try:
            for _ in range(workers * 3):
                get(port, preview_path("diffusion models"))
            return found, ordinary(port, topics, count)
        finally:
            processes.stop(proc)


def start_gunicorn_in(checkout: Path, env: dict, log: Path, workers: int):
    """bench.web's gunicorn, started in ``checkout`` rather than this project's root."""
    import bench.web as web

    original, web.ROOT = web.ROOT, checkout
    try:
        return start_gunicorn(env, log, workers, 1)
    finally:
        web.ROOT = original


def say(label: str, found: dict, calm: dict) -> None:
    met = "met" if calm["p95"] < 0.3 else "MISSED"
    print(
        f"{label}: {calm['count']} ordinary previews one at a time: p50 "
        f"{calm['p50'] * 1e3:.0f} ms, p95 {calm['p95'] * 1e3:.0f} ms (goal < 300 ms: {met})"
    )
    met = "met" if found["health_during_max"] <= HEALTH_GOAL else "MISSED"
    print(
        f"{label}: /healthz max {found['health_before_max'] * 1e3:.0f} ms before the storm, "
        f"{found['health_during_max']:.2f} s during it (p95 {found['health_during_p95']:.2f} s, "
        f"{found['health_checks']} checks; goal <= {HEALTH_GOAL:.0f} s: {met})"
    )
    print(
        f"  {STORM} hostile previews: {found['answered_200']} answered, "
        f"{found['answered_429']} refused (429), {found['other']} failed or timed out; "
        f"slowest answer {found['preview_max']:.2f} s; storm over in "
        f"{found['storm_seconds']:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=2100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline-checkout", type=Path)
    parser.add_argument("--ordinary", type=int, default=200, help="ordinary previews timed")
    parser.add_argument(
        "--give-up", type=float, default=60.0, help="seconds a client waits for a preview"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pw-bench-storm-day-") as folder:
        day_file = Path(folder) / "day.json"
        papers = make_papers(args.papers)
        day_file.write_bytes(hf_daily_json(papers, DAY))
        topics = personal_topics(papers, 300, seed=3)
        print(f"one day of {args.papers:,} papers; {STORM} previews of 20 lines x 16 prefixes")
        if args.baseline_checkout:
            found = run(
                args.baseline_checkout, day_file, args.workers, args.give_up, topics, args.ordinary
            )
            say(f"before ({args.baseline_checkout})", *found)
        say("now", *run(ROOT, day_file, args.workers, args.give_up, topics, args.ordinary))


if __name__ == "__main__":
    main()
