from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.test import Client

from accounts.links import unsubscribe_url
from accounts.models import Consent, Subscriber
from tests.support.pages import emailed_link, make_subscriber

pytestmark = pytest.mark.django_db


def path(subscriber) -> str:
    return unsubscribe_url(subscriber).replace("http://127.0.0.1:8000", "")


def test_it_shows_one_button_on_get_and_changes_nothing(client):
    subscriber = make_subscriber()
    response = client.get(path(subscriber))
    assert response.status_code == 200
    assert response.content.decode().count("<button") == 1
    subscriber.refresh_from_db()
    assert subscriber.status == "active"


def test_it_unsubscribes_on_post_and_offers_to_resubscribe(client):
    subscriber = make_subscriber()
    subscriber.schedule_next()
    subscriber.save()
    response = client.post(path(subscriber))
    assert response.status_code == 200
    assert 'value="resubscribe"' in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.status == "unsubscribed"
    assert subscriber.unsubscribed_at is not None
    assert subscriber.next_send_at is None


def test_resubscribing_from_the_link_asks_the_mailbox_to_confirm_first(client):
    # The link never expires and travels with every forwarded digest: whoever holds it
    # may stop the mail, but only the mailbox's owner may turn it back on.
    subscriber = make_subscriber(status="unsubscribed")
    response = client.post(path(subscriber), {"action": "resubscribe"})
    assert response.status_code == 200
    assert "press Resubscribe" in response.content.decode()
    subscriber.refresh_from_db()
    assert (subscriber.status, subscriber.next_send_at) == ("unsubscribed", None)
    assert not Consent.objects.exists()

    [message] = mail.outbox
    assert message.to == [subscriber.email]
    link = emailed_link(message)
    client.get(link)
    client.post("/manage/sign-in/")
    client.post("/manage/resubscribe/", HTTP_USER_AGENT="Firefox")
    subscriber.refresh_from_db()
    assert subscriber.status == "active"
    assert subscriber.next_send_at is not None
    consent = Consent.objects.get()
    assert (consent.action, consent.user_agent) == ("resubscribe", "Firefox")


def test_it_takes_the_rfc_8058_one_click_post_without_cookie_or_csrf_token():
    subscriber = make_subscriber()
    mail_client = Client(enforce_csrf_checks=True)
    response = mail_client.post(
        path(subscriber),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200  # not a redirect
    subscriber.refresh_from_db()
    assert subscriber.status == "unsubscribed"


def test_it_is_idempotent_and_leaves_a_suppressed_address_suppressed(client):
    subscriber = make_subscriber(status="suppressed")
    assert client.post(path(subscriber)).status_code == 200
    assert client.post(path(subscriber)).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == "suppressed"
    client.post(path(subscriber), {"action": "resubscribe"})
    subscriber.refresh_from_db()
    assert subscriber.status == "suppressed"


def test_it_never_expires_an_unsubscribe_link(client):
    subscriber = make_subscriber()
    with time_machine.travel(dt.timedelta(days=-5 * 365)):
        old = path(subscriber)
    assert client.post(old).status_code == 200
    assert Subscriber.objects.get().status == "unsubscribed"


def test_opening_the_link_again_after_unsubscribing_says_so_and_offers_to_resubscribe(client):
    subscriber = make_subscriber()
    client.post(path(subscriber))
    page = client.get(path(subscriber)).content.decode()
    assert "You unsubscribed earlier" in page
    assert 'value="resubscribe"' in page
    page = client.post(path(subscriber), {"action": "resubscribe"}).content.decode()
    assert "open the sign-in link we are sending" in page
    subscriber.refresh_from_db()
    assert subscriber.status == "unsubscribed"  # until the mailbox's owner confirms


def test_an_erased_subscribers_link_answers_you_are_unsubscribed_on_get_and_one_click_post():
    subscriber = make_subscriber()
    link = path(subscriber)
    Subscriber.objects.filter(pk=subscriber.pk).erase()
    one_click = Client(enforce_csrf_checks=True)
    for response in (
        Client().get(link),
        one_click.post(link, {"List-Unsubscribe": "One-Click"}),
        Client().post(link, {"action": "resubscribe"}),
    ):
        assert response.status_code == 200
        page = response.content.decode()
        assert "You are unsubscribed" in page and "resubscribe" not in page
    assert not Subscriber.objects.exists()
