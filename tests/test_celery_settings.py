"""How Celery and Redis are set up: three Redis databases for three jobs, no stored task
results, time limits on every task, ingest on a queue of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from django.conf import settings

from config.celery import app
from digest.tasks import ingest_source_task, ping, send_digest_chunk

ROOT = Path(__file__).resolve().parent.parent


def configured(**env: str) -> dict:
    """The broker, result backend and cache a fresh process gets from this environment."""
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.CELERY_BROKER_URL, s.CELERY_RESULT_BACKEND, "
        "s.CACHES['default']['LOCATION']]))"
    )
    cleared = {k: "" for k in ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **cleared, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return dict(zip(["broker", "results", "cache"], json.loads(result.stdout), strict=True))


def test_broker_results_and_cache_are_three_databases_of_one_redis():
    # A cache's eviction policy or a cache.clear() (FLUSHDB) can never drop a queued task.
    assert configured(REDIS_URL="redis://10.0.0.5:6379/4") == {
        "broker": "redis://10.0.0.5:6379/4",
        "results": "redis://10.0.0.5:6379/5",
        "cache": "redis://10.0.0.5:6379/6",
    }


def test_each_redis_job_can_have_its_own_server():
    found = configured(
        REDIS_URL="redis://queue:6379/0",
        CELERY_RESULT_BACKEND="redis://results:6379/0",
        CACHE_URL="redis://cache:6379/0",
    )
    assert found == {
        "broker": "redis://queue:6379/0",
        "results": "redis://results:6379/0",
        "cache": "redis://cache:6379/0",
    }


def test_a_redis_url_without_room_for_three_databases_is_refused():
    code = "import django; django.setup()"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "REDIS_URL": "redis://h/14",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "REDIS_URL" in result.stderr


def test_task_results_are_not_stored_except_the_pings():
    assert settings.CELERY_TASK_IGNORE_RESULT is True
    assert send_digest_chunk.ignore_result is True
    assert ping.ignore_result is False


def test_ingest_has_its_own_queue_and_sending_the_default_one():
    def queue(name: str) -> str:
        return app.amqp.router.route({}, name)["queue"].name

    assert queue("digest.tasks.ingest_all") == "ingest"
    assert queue("digest.tasks.ingest_source_task") == "ingest"
    assert queue("digest.tasks.send_digest_chunk") == "celery"
    assert queue("digest.tasks.dispatch_due") == "celery"


def test_every_task_has_time_limits_derived_from_the_lease_and_the_fetch_deadline():
    send, ingest = send_digest_chunk, ingest_source_task
    lease = settings.DIGEST_LEASE_SECONDS
    assert send.soft_time_limit == settings.DIGEST_CHUNK_SECONDS + lease
    assert send.time_limit == send.soft_time_limit + lease
    assert ingest.soft_time_limit == settings.FETCH_TIMEOUT + 300
    assert ingest.time_limit and ingest.soft_time_limit
    assert ingest.time_limit > ingest.soft_time_limit
    assert (app.conf.task_soft_time_limit, app.conf.task_time_limit) == (300, 360)


def test_the_worker_commands_consume_both_queues():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert "-Q celery,ingest" in compose["services"]["worker"]["command"]
    procfile = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert "-Q celery,ingest" in procfile["worker"]
