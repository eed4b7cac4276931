from __future__ import annotations

from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yml"


def load():
    return yaml.safe_load(COMPOSE.read_text())


def test_the_stack_has_every_service_and_exactly_one_beat():
    services = load()["services"]
    assert set(services) == {"postgres", "redis", "mailpit", "web", "worker", "beat"}
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
