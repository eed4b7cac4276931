from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"


def load():
    return yaml.safe_load(COMPOSE.read_text())


def test_the_stack_has_every_service_and_exactly_one_beat():
    services = load()["services"]
    assert set(services) == {"postgres", "redis", "mailpit", "migrate", "web", "worker", "beat"}
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "celery -A config beat" in services["beat"]["command"]
    assert "celery -A config worker" in services["worker"]["command"]
    assert "gunicorn" in services["web"]["command"]


def test_the_app_is_defined_once_and_reused_by_web_worker_and_beat():
    services = load()["services"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["EMAIL_HOST"] == "mailpit"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in services["postgres"]
    assert {"1025:1025", "8025:8025"} <= set(services["mailpit"]["ports"])


def test_it_requires_a_secret_key_and_ships_none():
    env = load()["x-app"]["environment"]
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert env["DEBUG"] == "false"


def test_it_runs_gunicorn_with_the_token_redacting_logger():
    command = load()["services"]["web"]["command"]
    assert "--logger-class accounts.redact.GunicornLogger" in command
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert '"--logger-class", "accounts.redact.GunicornLogger"' in dockerfile


def test_it_migrates_once_in_a_one_off_service_before_the_app_starts():
    services = load()["services"]
    assert services["migrate"]["command"] == "python manage.py migrate --no-input"
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert "migrate" not in services[name]["command"]
        ready = services[name]["depends_on"]["migrate"]["condition"]
        assert ready == "service_completed_successfully"


def test_it_keeps_secrets_local_data_and_git_out_of_the_image():
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", "var/", ".venv/", ".git/"} <= ignored


def test_it_installs_pinned_versions_from_the_lock_in_docker_ci_and_dev():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base, dev = project["dependencies"], project["optional-dependencies"]["dev"]
    for lock_name, requirements in [
        ("requirements.lock", base),
        ("requirements-dev.lock", base + dev),
    ]:
        pinned = {
            re.split(r"[=;\s]", line, maxsplit=1)[0].lower()
            for line in (ROOT / lock_name).read_text().splitlines()
            if "==" in line and not line.startswith((" ", "#"))
        }
        for requirement in requirements:
            name = re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0].lower()
            assert name.replace("_", "-") in pinned, (lock_name, name)
    assert "pip install --no-cache-dir -r requirements.lock" in (ROOT / "Dockerfile").read_text()
    dev_py = (ROOT / "dev.py").read_text()
    assert '"requirements-dev.lock" if extra else "requirements.lock"' in dev_py


def test_its_licence_is_an_spdx_string_so_pip_prints_no_warning():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "AGPL-3.0-or-later"
