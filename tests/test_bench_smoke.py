"""The daily-run benchmark, shrunk: its data generation and pipeline still work.

One real worker process, the real ingest, dispatch and send tasks, the real Anymail Postmark
backend against the benchmark's stand-in provider, on 20 subscribers and 50 papers. Keeps
``bench/daily_run.py`` from rotting as the pipeline changes.
"""

from __future__ import annotations

import pytest

from bench.pipeline import run_daily
from tests.support import workers


@pytest.mark.worker
def test_it_sends_every_due_subscriber_exactly_one_message(transactional_db, settings):
    settings.FETCH_ALLOW_PRIVATE = True  # the listings are served from loopback
    lines: list[str] = []

    result = run_daily(
        subscribers=20,
        papers=50,
        database_url=workers.test_database_url(),
        workers=1,
        concurrency=1,
        chunk_size=8,
        timeout=90,
        say=lines.append,
    )

    assert result.problems == [], "\n".join(lines)
    assert result.ingest_counts["arXiv cs.LG (bench)"]["new"] == 50
    assert result.mix.due + result.mix.inactive == 20
    assert result.received["messages"] == result.nonempty == result.statuses["sent"]
    assert result.received["duplicates"] == 0
    assert result.nonempty + result.statuses.get("skipped", 0) == result.mix.due
    assert result.tasks["send_digest_chunk"] >= 2  # chunks of 8: the work was split
    assert result.stages["handoff"] > 0 and result.stages["render"] > 0
    assert any(role.startswith("worker1") for role in result.memory)
