from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_check(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_starts_on_the_embedded_defaults():
    env = {k: "" for k in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    result = run_check(**env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysqlx://nowhere/db"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("DEBUG", "maybe"),
        ("SITE_URL", "ftp://example.org"),
        ("EMAIL_PORT", "twenty-five"),
        ("EMAIL_BACKEND", "carrier-pigeon"),
        ("DIGEST_CHUNK_SIZE", "0"),
    ],
)
def test_it_refuses_to_start_with_a_malformed_value_naming_the_variable(name, value):
    result = run_check(**{name: value})
    assert result.returncode != 0
    assert name in result.stderr


def test_it_requires_a_secret_key_when_debug_is_off():
    result = run_check(DEBUG="false", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr
