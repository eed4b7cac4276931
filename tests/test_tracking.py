"""Postmark tracking webhooks, posted in Postmark's own payload format (as in Anymail's
tests), through Anymail's real webhook view and our receiver."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.models import Subscriber
from digest.models import Digest, EmailEvent, Suppression
from tests.support.postmark_events import (
    SECRET,
    auth,
    delivery,
    hard_bounce,
    post,
    soft_bounce,
    spam_complaint,
    subscription_change,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _webhook_secret(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": SECRET}
    settings.TRACKING_WEBHOOK_PROVIDER = "postmark"


def person(email: str = "ada@example.org") -> Subscriber:
    return Subscriber.objects.create(email=email, status=Subscriber.Status.ACTIVE)


def test_a_hard_bounce_suppresses_the_address_at_once(client):
    ada = person()

    assert post(client, hard_bounce(ada.email), **auth()).status_code == 200

    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.SUPPRESSED
    suppression = Suppression.objects.get(email=ada.email)
    assert suppression.reason == Suppression.Reason.BOUNCED
    assert suppression.event and suppression.event.event_type == "bounced"


def test_a_spam_complaint_suppresses_the_address(client):
    ada = person()
    post(client, spam_complaint(ada.email), **auth())
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.SUPPRESSED
    assert Suppression.objects.get(email=ada.email).reason == Suppression.Reason.COMPLAINED


def test_an_unsubscribe_at_the_provider_suppresses_the_address(client):
    ada = person()
    post(client, subscription_change(ada.email), **auth())
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.SUPPRESSED
    assert Suppression.objects.get(email=ada.email).reason == Suppression.Reason.UNSUBSCRIBED


def test_soft_bounces_suppress_only_at_the_threshold(client, settings):
    settings.SOFT_BOUNCE_LIMIT = 3
    ada = person()
    for event_id in (1, 2):
        post(client, soft_bounce(ada.email, event_id), **auth())
    ada.refresh_from_db()
    assert (ada.status, ada.soft_bounces) == (Subscriber.Status.ACTIVE, 2)

    post(client, soft_bounce(ada.email, 3), **auth())

    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.SUPPRESSED
    assert Suppression.objects.get(email=ada.email).reason == Suppression.Reason.SOFT_BOUNCES


def test_a_delivery_resets_the_soft_bounce_count(client):
    ada = person()
    post(client, soft_bounce(ada.email, 1), **auth())
    post(client, delivery(ada.email, "m-1"), **auth())
    ada.refresh_from_db()
    assert ada.soft_bounces == 0


def test_every_event_is_stored_and_linked_to_its_digest(client):
    ada = person()
    digest = Digest.objects.create(
        subscriber=ada, edition=dt.date(2026, 8, 20), status="sent", message_id="m-1"
    )

    post(client, delivery(ada.email, "m-1", {"digest_id": str(digest.pk)}), **auth())
    post(client, delivery(ada.email, "m-1", {}) | {"DeliveredAt": "2026-08-20T07:00:01Z"}, **auth())

    events = list(EmailEvent.objects.order_by("pk"))
    assert [e.event_type for e in events] == ["delivered", "delivered"]
    assert all(e.digest == digest for e in events)
    assert events[0].raw["RecordType"] == "Delivery"
    assert ada.email == events[0].recipient


def test_an_event_for_an_unknown_address_is_stored_and_changes_nothing(client):
    assert post(client, hard_bounce("stranger@example.org"), **auth()).status_code == 200
    assert EmailEvent.objects.count() == 1
    # The address is still suppressed: a later signup with it must not be mailed.
    assert Suppression.objects.filter(email="stranger@example.org").exists()
