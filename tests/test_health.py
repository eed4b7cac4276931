from __future__ import annotations

import pytest

from config.celery import app


@pytest.mark.django_db
def test_it_answers_200_when_database_and_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": True, "broker": True}


@pytest.mark.django_db
def test_it_answers_503_naming_a_dead_broker(client):
    original = app.conf.broker_url
    # Port 1 on loopback: nothing listens there, so the connection is refused.
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    assert response.json()["status"] == "down: broker"
    assert response.json()["database"] is True
