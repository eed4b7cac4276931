from __future__ import annotations

import os
import secrets
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


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_turns_debug_off_unless_asked():
    env = {key: value for key, value in os.environ.items() if key != "DEBUG"}
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.DEBUG)"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.parametrize(
    "key",
    [
        "short-but-random-Q7x",
        "insecure-local-development-key-do-not-use-in-production",  # the old built-in key
        "change-me-in-production-please-0123456789",  # the old compose default
        "django-insecure-" + "Zq8vR2mK9sT4wX7yB1nC5dF3gH6jL0pA8eU2iO4kM7" * 2,
        "a" * 60,
    ],
)
def test_it_refuses_a_short_built_in_or_placeholder_secret_key_when_debug_is_off(key):
    result = run_check(DEBUG="false", SECRET_KEY=key)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_it_gives_development_a_random_key_that_check_deploy_flags(tmp_path):
    env = {"DEBUG": "true", "SECRET_KEY": "", "VAR_DIR": str(tmp_path)}
    first = run_python("from django.conf import settings; print(settings.SECRET_KEY)", **env)
    again = run_python("from django.conf import settings; print(settings.SECRET_KEY)", **env)
    key = first.stdout.strip()
    assert key.startswith("django-insecure-") and len(key) > 60, first.stderr
    assert again.stdout.strip() == key  # the web process and the worker sign alike
    other = run_python(
        "from django.conf import settings; print(settings.SECRET_KEY)",
        **{**env, "VAR_DIR": str(tmp_path / "elsewhere")},
    )
    assert other.stdout.strip() != key  # made per checkout, never a published constant
    deploy = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "security.W009" in deploy.stdout + deploy.stderr


def debug_page(request) -> str:
    from django.views.debug import technical_500_response

    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        return technical_500_response(request, *sys.exc_info()).content.decode()


def test_its_debug_page_never_shows_a_connection_url(rf, settings):
    # Made at run time, and outside the failing frame, whose source and locals it shows.
    secret = [secrets.token_hex(8) for _ in range(6)]
    settings.DEBUG = True
    settings.DATABASE_URL = f"postgres://paperwire:{secret[0]}@db:5432/paperwire"
    settings.CELERY_BROKER_URL = f"redis://:{secret[1]}@redis:6379/0"
    settings.CELERY_RESULT_BACKEND = f"redis://:{secret[2]}@redis:6379/0"
    settings.REDIS_URL = f"redis://:{secret[3]}@redis:6379/0"
    # runserver copies the process environment into every request's META.
    request = rf.get(
        "/subscribe/preview.json?topic=%C2%B2",
        DATABASE_URL=f"postgres://paperwire:{secret[4]}@db/paperwire",
        CELERY_BROKER_URL=f"redis://:{secret[5]}@redis:6379/0",
    )
    page = debug_page(request)
    assert "a bug" in page
    for value in secret:
        assert value not in page
