from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_it_answers_200_when_database_and_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": True, "broker": True}


@pytest.mark.django_db
def test_it_answers_503_naming_a_dead_broker(client, settings):
    # Port 1 on loopback: nothing listens there, so the connection is refused.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "down: broker"
    assert response.json()["database"] is True
