from __future__ import annotations

import pytest

from config.celery import app


@pytest.mark.django_db
def test_it_answers_200_when_database_and_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": True, "broker": True}


@pytest.mark.django_db
def test_it_answers_503_naming_a_dead_broker(client, monkeypatch):
    # Port 1 on loopback: nothing listens there, so the connection is refused.
    # Celery reads CELERY_BROKER_URL from the environment before its own config.
    dead = "redis://127.0.0.1:1/0"
    monkeypatch.setenv("CELERY_BROKER_URL", dead)
    monkeypatch.setattr(app.conf, "broker_url", dead)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "down: broker"
    assert response.json()["database"] is True
