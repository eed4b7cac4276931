"""Tracking webhooks under attack: without the secret, with a wrong one or a bad signature,
replayed, or stale. Each is refused (400, nothing stored) or processed once."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time

import pytest
from django.utils import timezone

from accounts.models import Subscriber
from digest.models import EmailEvent, Suppression
from tests.support.postmark_events import SECRET, auth, delivery, hard_bounce, post, soft_bounce

pytestmark = pytest.mark.django_db

MAILGUN_URL = "/webhooks/anymail/mailgun/tracking/"
MAILGUN_KEY = "mailgun-signing-key"


@pytest.fixture(autouse=True)
def _webhook_secrets(settings):
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "WEBHOOK_SECRET": SECRET,
        "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY,
    }
    settings.TRACKING_WEBHOOK_PROVIDER = "postmark"


def person(email: str = "ada@example.org") -> Subscriber:
    return Subscriber.objects.create(email=email, status=Subscriber.Status.ACTIVE)


def assert_nothing_changed(ada: Subscriber) -> None:
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.ACTIVE
    assert not EmailEvent.objects.exists()
    assert not Suppression.objects.exists()


def test_a_webhook_without_the_secret_is_refused_and_changes_nothing(client):
    ada = person()
    assert post(client, hard_bounce(ada.email)).status_code == 400
    assert_nothing_changed(ada)


def test_a_webhook_with_a_wrong_secret_is_refused_and_changes_nothing(client):
    ada = person()
    assert post(client, hard_bounce(ada.email), **auth("hook:guess")).status_code == 400
    assert_nothing_changed(ada)


def test_webhooks_are_refused_when_the_operator_set_no_secret(client, settings):
    # settings.py puts an unguessable secret in place of a missing ANYMAIL_WEBHOOK_SECRET,
    # so Anymail refuses everyone instead of accepting everyone.
    from config.settings import ANYMAIL

    assert ANYMAIL["WEBHOOK_SECRET"].startswith("unset:")
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": ANYMAIL["WEBHOOK_SECRET"]}
    ada = person()
    for credentials in ({}, auth("unset:"), auth(":")):
        assert post(client, hard_bounce(ada.email), **credentials).status_code == 400
    assert_nothing_changed(ada)


def mailgun_failure(email: str, *, key: str = MAILGUN_KEY) -> dict:
    timestamp, token = str(int(time.time())), "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature.hexdigest()},
        "event-data": {
            "event": "failed",
            "severity": "permanent",
            "id": "G9Bn5sl1TC6nu79C8C0bwg",
            "timestamp": time.time(),
            "recipient": email,
            "reason": "bounce",
            "delivery-status": {"code": 550, "message": "No such user", "description": ""},
            "message": {"headers": {"message-id": "20130503182626.18666.16540@example.org"}},
        },
    }


def post_mailgun(client, event: dict):
    return client.post(
        MAILGUN_URL, data=json.dumps(event), content_type="application/json", **auth()
    )


def test_a_webhook_with_a_bad_signature_is_refused_and_changes_nothing(client, settings):
    settings.TRACKING_WEBHOOK_PROVIDER = "mailgun"
    ada = person()
    forged = mailgun_failure(ada.email, key="not-the-key")
    assert post_mailgun(client, forged).status_code == 400
    assert_nothing_changed(ada)
    # The same event, signed with the right key, is accepted and acted on.
    assert post_mailgun(client, mailgun_failure(ada.email)).status_code == 200
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.SUPPRESSED


def test_a_replayed_event_is_stored_and_processed_once(client, settings):
    settings.SOFT_BOUNCE_LIMIT = 2
    ada = person()
    bounce = soft_bounce(ada.email, event_id=77)
    for _ in range(3):
        assert post(client, bounce, **auth()).status_code == 200  # the provider sees success
    ada.refresh_from_db()
    assert (ada.soft_bounces, ada.status) == (1, Subscriber.Status.ACTIVE)
    assert EmailEvent.objects.count() == 1


def test_a_replayed_event_without_an_id_is_processed_once(client):
    ada = person()
    delivered = delivery(ada.email, "m-1")
    post(client, delivered, **auth())
    post(client, delivered, **auth())
    assert EmailEvent.objects.count() == 1


def test_a_stale_event_is_stored_but_changes_nothing(client):
    ada = person()
    old = (timezone.now() - dt.timedelta(days=30)).isoformat()

    assert post(client, hard_bounce(ada.email, BouncedAt=old), **auth()).status_code == 200

    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.ACTIVE
    assert not Suppression.objects.exists()
    assert EmailEvent.objects.get().event_type == "bounced"


ANYMAIL_ENDPOINTS = [
    f"/webhooks/anymail/{name}/"
    for name in (
        "amazon_ses/inbound",
        "brevo/tracking",
        "mailgun/tracking",
        "mailgun/inbound",
        "mailjet/tracking",
        "mandrill",
        "postal/tracking",
        "postmark/inbound",
        "resend/tracking",
        "sendgrid/tracking",
        "sparkpost/tracking",
        "unisender_go/tracking",
    )
]


@pytest.mark.parametrize("url", ANYMAIL_ENDPOINTS)
def test_only_the_configured_providers_webhook_is_mounted(client, url):
    ada = person()
    # No 500 and no traceback from a provider we do not use, with or without our secret.
    assert client.post(url, data="{}", content_type="application/json").status_code == 404
    assert client.post(url, data="{}", content_type="application/json", **auth()).status_code == 404
    assert_nothing_changed(ada)
    # The configured one answers: 400 without the secret.
    assert post(client, hard_bounce(ada.email)).status_code == 400


def test_no_webhook_is_mounted_when_the_provider_has_none(client, settings):
    settings.TRACKING_WEBHOOK_PROVIDER = ""
    ada = person()
    assert post(client, hard_bounce(ada.email), **auth()).status_code == 404
    assert_nothing_changed(ada)
