"""Forged, truncated, cross-purpose, cross-subscriber, spent and rotated-key links."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import signing
from django.test import override_settings

from accounts import tokens
from accounts.models import Consent, Subscriber
from accounts.redact import GunicornLogger, RedactTokens, redact
from tests.support.pages import make_subscriber

pytestmark = pytest.mark.django_db

OLD_KEY = "old-key-" + "x" * 50
NEW_KEY = "new-key-" + "y" * 50


def state() -> list[tuple]:
    return [
        *list(
            Subscriber.objects.order_by("pk").values_list(
                "pk", "status", "token_nonce", "next_send_at", "unsubscribed_at"
            )
        ),
        ("consents", Consent.objects.count()),
    ]


def hostile_tokens(subscriber: Subscriber) -> dict[str, dict[str, str]]:
    """URL prefix -> {description: token} of links that must all be refused there."""
    unsubscribe = tokens.subscriber_token("unsubscribe", subscriber)
    confirm = tokens.subscriber_token("confirm", subscriber)
    login = tokens.subscriber_token("login", subscriber)
    feedback = tokens.make_token("feedback", subscriber.pk, p=1, v=1)
    with override_settings(SECRET_KEY="a-key-we-never-had-" + "z" * 40):
        foreign = {
            p: tokens.subscriber_token(p, subscriber) for p in ("unsubscribe", "confirm", "login")
        }
    plain = {
        "random text": "hello",
        "empty-looking": "-",
        "unsigned payload": signing.b64_encode(b'{"s":1}').decode() + ":abc:def",
    }
    return {
        "/unsubscribe/": {
            **plain,
            "truncated": unsubscribe[:-4],
            "tampered": unsubscribe[:-2] + ("AA" if not unsubscribe.endswith("AA") else "BB"),
            "confirm token": confirm,
            "sign-in token": login,
            "feedback token": feedback,
            "other key": foreign["unsubscribe"],
        },
        "/confirm/": {
            **plain,
            "truncated": confirm[:-4],
            "unsubscribe token": unsubscribe,
            "sign-in token": login,
            "other key": foreign["confirm"],
        },
        "/manage/sign-in/": {
            **plain,
            "truncated": login[:-4],
            "confirm token": confirm,
            "unsubscribe token": unsubscribe,
            "other key": foreign["login"],
        },
    }


def test_it_answers_every_forged_truncated_or_cross_purpose_token_with_one_plain_page(client):
    subscriber = make_subscriber(status="pending")
    before = state()
    bodies = set()
    for prefix, cases in hostile_tokens(subscriber).items():
        for description, token in cases.items():
            for method in (client.get, client.post):
                response = method(f"{prefix}{token}/")
                assert response.status_code == 400, (prefix, description)
                bodies.add(response.content)
    assert len(bodies) == 1
    assert b"This link is not valid" in bodies.pop()
    assert state() == before


def test_it_refuses_a_token_for_a_subscriber_that_no_longer_exists(client):
    subscriber = make_subscriber()
    token = tokens.subscriber_token("login", subscriber)
    manage = tokens.subscriber_token("manage", subscriber)
    subscriber.delete()
    assert client.post(f"/manage/sign-in/{token}/").status_code == 400
    assert client.get(f"/manage/open/{manage}/").status_code == 400


def test_it_acts_only_on_the_subscriber_a_token_was_made_for(client):
    alice = make_subscriber("alice@example.org")
    bob = make_subscriber("bob@example.org")
    client.post(f"/unsubscribe/{tokens.subscriber_token('unsubscribe', alice)}/")
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert (alice.status, bob.status) == ("unsubscribed", "active")
    # Alice's payload with Bob's id cannot be signed without the key.
    forged = signing.dumps({"s": bob.pk}, salt="paperwire.tokens.unsubscribe", key="guess")
    assert client.post(f"/unsubscribe/{forged}/").status_code == 400
    bob.refresh_from_db()
    assert bob.status == "active"


def test_it_spends_a_single_use_link_once_when_two_requests_race(client):
    subscriber = make_subscriber(status="pending")
    first, second = Subscriber.objects.get(), Subscriber.objects.get()
    assert tokens.spend(first) is True
    assert tokens.spend(second) is False
    token = tokens.make_token("confirm", subscriber.pk, n=0)
    assert client.post(f"/confirm/{token}/").status_code == 400


def test_it_voids_older_sign_in_links_once_a_newer_one_is_used(client):
    subscriber = make_subscriber()
    older = tokens.subscriber_token("login", subscriber)
    newer = tokens.subscriber_token("login", subscriber)
    assert client.post(f"/manage/sign-in/{newer}/").status_code == 302
    assert client.post(f"/manage/sign-in/{older}/").status_code == 400


def test_it_keeps_old_links_working_after_a_secret_key_rotation(client):
    subscriber = make_subscriber()
    pending = make_subscriber("pending@example.org", status="pending")
    with override_settings(SECRET_KEY=OLD_KEY):
        unsubscribe = tokens.subscriber_token("unsubscribe", subscriber)
        confirm = tokens.subscriber_token("confirm", pending)
    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]):
        assert client.post(f"/unsubscribe/{unsubscribe}/").status_code == 400
    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[OLD_KEY]):
        assert client.post(f"/unsubscribe/{unsubscribe}/").status_code == 200
        assert client.post(f"/confirm/{confirm}/").status_code == 200
    assert Subscriber.objects.get(pk=subscriber.pk).status == "unsubscribed"
    assert Subscriber.objects.get(pk=pending.pk).status == "active"


def test_it_keeps_tokens_out_of_django_and_runserver_log_lines(client):
    subscriber = make_subscriber()
    token = tokens.subscriber_token("confirm", subscriber)
    [console] = [h for h in logging.getLogger().handlers if h.name == "console"]
    assert any(isinstance(f, RedactTokens) for f in console.filters)
    records = []

    class Catcher(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    catcher = Catcher()
    catcher.filters = console.filters
    for name in ("django.request", "django.server"):
        logging.getLogger(name).addHandler(catcher)
    try:
        client.get(f"/unsubscribe/{token}/")  # a confirm token here: 400, logged as a bad request
        logging.getLogger("django.server").info(
            '"%s" %s %s', f"GET /confirm/{token}/ HTTP/1.1", 200, 9
        )
    finally:
        for name in ("django.request", "django.server"):
            logging.getLogger(name).removeHandler(catcher)
    assert len(records) == 2
    assert all(token not in line and "[token]" in line for line in records), records
    # runserver's access log goes through the same filtering handler.
    assert console in logging.getLogger("django.server").handlers


def test_it_keeps_tokens_out_of_the_gunicorn_access_log():
    token = tokens.make_token("unsubscribe", 7)
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": f"/unsubscribe/{token}/",
        "PATH_INFO": f"/unsubscribe/{token}/",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.9",
    }

    class Response:
        status = "200 OK"
        sent = 10
        headers = []

    class Request:
        headers = []

    import datetime as dt

    from gunicorn.config import Config

    atoms = GunicornLogger(Config()).atoms(Response(), Request(), environ, dt.timedelta(0, 0, 5))
    assert token not in atoms["r"] and token not in atoms["U"]
    assert atoms["U"] == "/unsubscribe/[token]/"
    assert redact(f"/digests/{token}/") == "/digests/[token]/"


def read_in_new_process(token: str, **env: str) -> subprocess.CompletedProcess:
    code = f"from accounts.tokens import read_token; print(read_token('unsubscribe', {token!r}))"
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_takes_the_old_key_from_the_secret_key_fallbacks_variable():
    with override_settings(SECRET_KEY=OLD_KEY):
        token = tokens.make_token("unsubscribe", 42)
    rotated = read_in_new_process(token, SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=OLD_KEY)
    assert rotated.returncode == 0, rotated.stderr
    assert "{'s': 42}" in rotated.stdout
    forgotten = read_in_new_process(token, SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS="")
    assert "InvalidToken" in forgotten.stderr
