"""Signup and sign-in forms under abuse: enumeration, floods, bots, mail-bombing."""

from __future__ import annotations

import datetime as dt
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import tasks
from accounts.models import Consent, Subscriber
from digest.models import Suppression
from tests.support.pages import make_subscriber, make_topic, signup_data

pytestmark = pytest.mark.django_db

VICTIM = "victim@example.org"
STATES = [
    "new",
    "pending",
    "active",
    "paused",
    "unsubscribed",
    "suppressed-status",
    "suppressed-list",
]


def put_address_in(state: str) -> None:
    if state == "suppressed-list":
        Suppression.objects.create(email=VICTIM, reason="bounced")
    elif state != "new":
        make_subscriber(VICTIM, status=state.removesuffix("-status"))


def answer(response) -> tuple:
    """Everything a visitor can observe of a response, cookies included."""
    return (
        response.status_code,
        tuple(sorted(response.headers.items())),
        tuple(sorted((name, morsel.OutputString()) for name, morsel in response.cookies.items())),
        response.content,
    )


def observed(url: str, data: dict) -> tuple:
    client = Client()
    first = client.post(url, data)
    return answer(first), answer(client.get(first["Location"]))


@pytest.mark.parametrize(
    ("url", "data"), [("/subscribe/", signup_data(VICTIM)), ("/manage/", {"email": VICTIM})]
)
def test_it_answers_byte_for_byte_the_same_whatever_state_the_address_is_in(url, data):
    answers = {}
    # One instant for every state: the Expires header and cookie dates tell the second,
    # and a loaded machine crossing one must not look like a difference between states.
    with time_machine.travel(timezone.now(), tick=False):
        for state in STATES:
            Subscriber.objects.all().delete()
            Suppression.objects.all().delete()
            put_address_in(state)
            answers[state] = observed(url, data)
    assert len(set(answers.values())) == 1, {s: a[0][:2] for s, a in answers.items()}


@pytest.mark.parametrize(
    ("url", "data"), [("/subscribe/", signup_data(VICTIM)), ("/manage/", {"email": VICTIM})]
)
def test_it_sends_nothing_to_a_suppressed_address(client, url, data):
    Suppression.objects.create(email=VICTIM, reason="complained")
    client.post(url, data)
    assert mail.outbox == []
    assert not Subscriber.objects.exists()


def test_it_rate_limits_a_signup_flood_from_one_address(client, settings):
    settings.SIGNUP_RATE_PER_IP = 5
    codes = [
        client.post("/subscribe/", signup_data(f"bot{n}@example.org")).status_code for n in range(8)
    ]
    assert codes == [302] * 5 + [429] * 3
    assert Subscriber.objects.count() == 5
    assert len(mail.outbox) == 5
    assert client.post("/manage/", {"email": "x@example.org"}).status_code == 429
    # Another address is not held back.
    assert (
        Client(REMOTE_ADDR="198.51.100.7")
        .post("/subscribe/", signup_data("a@example.org"))
        .status_code
        == 302
    )


def test_it_sends_a_victim_one_confirmation_a_day_however_many_addresses_ask():
    for n in range(12):
        Client(REMOTE_ADDR=f"203.0.113.{n + 1}").post("/subscribe/", signup_data(VICTIM))
        Client(REMOTE_ADDR=f"198.51.100.{n + 1}").post("/manage/", {"email": VICTIM})
    assert len(mail.outbox) == 1
    # A day later the address owner can get a new one.
    with time_machine.travel(dt.timedelta(hours=25)):
        Client(REMOTE_ADDR="203.0.113.200").post("/subscribe/", signup_data(VICTIM))
    assert len(mail.outbox) == 2


@pytest.mark.django_db(transaction=True)
def test_it_sends_one_confirmation_when_many_signups_for_one_address_race():
    def post(n: int) -> int:
        try:
            return (
                Client(REMOTE_ADDR=f"192.0.2.{n + 1}")
                .post("/subscribe/", signup_data(VICTIM))
                .status_code
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(post, range(12)))
    assert codes == [302] * 12
    assert Subscriber.objects.count() == 1
    assert len(mail.outbox) == 1


def test_it_answers_a_filled_honeypot_like_anyone_else_and_stores_nothing(client):
    human = observed("/subscribe/", signup_data("human@example.org"))
    bot = observed("/subscribe/", signup_data("bot@example.org", website="http://spam.example"))
    assert human == bot
    assert list(Subscriber.objects.values_list("email", flat=True)) == ["human@example.org"]
    assert [m.to for m in mail.outbox] == [["human@example.org"]]


def test_it_puts_no_visitor_text_in_the_confirmation_email(client):
    spam = "Cheap pills at spam.example"
    client.post(
        "/subscribe/",
        signup_data("target@example.org", own_topics=spam, time_zone="America/Sao_Paulo"),
        HTTP_USER_AGENT=spam,
    )
    [message] = mail.outbox
    assert isinstance(message, EmailMultiAlternatives)
    for part in (message.subject, message.body, str(message.alternatives[0][0])):
        assert "Cheap pills" not in part
        assert "Sao_Paulo" not in part


def test_it_does_not_let_the_signup_form_change_an_active_subscription(client):
    subscriber = make_subscriber(VICTIM, own_topics="knowledge distillation")
    topic = make_topic()
    client.post("/subscribe/", signup_data(VICTIM, own_topics="attacker topic", topics=[topic.pk]))
    subscriber.refresh_from_db()
    assert (subscriber.status, subscriber.own_topics) == ("active", "knowledge distillation")
    assert not subscriber.topics.exists()
    # The owner gets a sign-in link instead, once a day.
    [message] = mail.outbox
    assert "/manage/sign-in/" in message.body
    client.post("/subscribe/", signup_data(VICTIM))
    assert len(mail.outbox) == 1


def test_an_anonymous_signup_never_changes_an_unsubscribed_record(client):
    long_ago = timezone.now() - dt.timedelta(days=400)
    subscriber = make_subscriber(
        VICTIM, status="unsubscribed", created_at=long_ago, unsubscribed_at=long_ago
    )
    Consent.objects.create(subscriber=subscriber, action="signup", created_at=long_ago)
    topic = make_topic()
    client.post("/subscribe/", signup_data(VICTIM, own_topics="attacker topic", topics=[topic.pk]))
    subscriber.refresh_from_db()
    assert (subscriber.status, subscriber.own_topics) == ("unsubscribed", "knowledge distillation")
    assert subscriber.unsubscribed_at == long_ago
    assert not subscriber.topics.exists()
    assert list(subscriber.consents.values_list("action", flat=True)) == ["signup"]
    # Not turned back into a signup that the clean-up would delete, history and all.
    assert not Subscriber.objects.unconfirmed_for(30).exists()
    # The owner gets a sign-in link instead, to resubscribe from their preferences.
    [message] = mail.outbox
    assert "/manage/sign-in/" in message.body


def test_it_answers_the_same_and_allows_a_retry_when_the_mail_server_is_down(client, settings):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = closed.getsockname()
    settings.EMAIL_TIMEOUT = 2
    closed.close()  # nothing listens there now: connection refused
    response = client.post("/subscribe/", signup_data())
    assert response.status_code == 302
    assert response["Location"] == "/subscribe/sent/"
    subscriber = Subscriber.objects.get()
    assert subscriber.status == "pending"
    assert subscriber.confirmation_sent_at is None  # the day's one email is not used up


def test_it_ignores_a_forged_x_forwarded_for_so_the_ip_limit_holds(client, settings):
    settings.SIGNUP_RATE_PER_IP = 3
    codes = [
        client.post(
            "/subscribe/", signup_data(f"bot{n}@example.org"), HTTP_X_FORWARDED_FOR=f"10.0.0.{n}"
        ).status_code
        for n in range(5)
    ]
    assert codes == [302] * 3 + [429] * 2


def test_it_reads_the_client_address_our_own_proxy_saw(settings):
    from django.test import RequestFactory

    from accounts.ratelimit import client_ip

    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5")
    assert client_ip(request) == "203.0.113.5"  # the left part is whatever the client sent
    garbage = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert client_ip(garbage) == ""


def test_it_rate_limits_the_live_topic_preview(client, settings):
    settings.PREVIEW_RATE_PER_IP = 2
    codes = [client.get("/subscribe/preview.json", {"q": "video"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


@pytest.mark.parametrize("state", STATES)
def test_it_queues_every_form_email_to_a_task_on_commit_whatever_the_address_state(
    state, monkeypatch
):
    # Looking the address up, writing and the provider's round trip happen in the task,
    # so the request does the same work, and takes the same time, for every address.
    put_address_in(state)
    queued = []
    for task in (tasks.email_signup, tasks.email_sign_in):
        monkeypatch.setattr(task, "delay_on_commit", lambda *args, t=task: queued.append(t.name))
    rows = (Subscriber.objects.count(), Consent.objects.count())
    with CaptureQueriesContext(connection) as queries:
        Client(REMOTE_ADDR="203.0.113.9").post("/subscribe/", signup_data(VICTIM))
        Client(REMOTE_ADDR="203.0.113.9").post("/manage/", {"email": VICTIM})
    assert queued == ["accounts.tasks.email_signup", "accounts.tasks.email_sign_in"]
    assert mail.outbox == []
    assert (Subscriber.objects.count(), Consent.objects.count()) == rows
    assert not [query for query in queries if "subscriber" in query["sql"].lower()]


def test_it_sends_one_mailbox_one_form_email_a_day_whatever_the_spelling():
    spellings = [f"victim+{n}@example.org" for n in range(15)] + [
        "Victim@Example.org",
        "VICTIM+x@EXAMPLE.ORG",
    ]
    gmail = ["victim@gmail.com", "v.i.c.t.i.m@gmail.com", "Vic.tim+1@googlemail.com"]
    for n, address in enumerate(spellings + gmail):
        Client(REMOTE_ADDR=f"203.0.113.{n + 1}").post("/subscribe/", signup_data(address))
    assert sorted(message.to[0] for message in mail.outbox) == [
        "victim+0@example.org",
        "victim@gmail.com",
    ]
    # The address is kept as typed (lower case): only the limit counts the mailbox.
    assert Subscriber.objects.filter(email="victim+14@example.org").exists()


@pytest.mark.parametrize(
    "address",
    [
        '"a\x1cb"@victim.test',
        '"victim"@example.org',
        '"victim\\"x"@example.org',
        "vic\u202etim@example.org",
        "vic\x00tim@example.org",
    ],
)
def test_it_accepts_only_plain_addresses(client, address):
    for url, data in (("/subscribe/", signup_data(address)), ("/manage/", {"email": address})):
        response = client.post(url, data)
        assert response.status_code == 200  # the form again, with its error
    assert mail.outbox == []
    assert not Subscriber.objects.exists()


def test_it_shares_one_daily_allowance_between_both_forms():
    make_subscriber(VICTIM, status="active")
    Client(REMOTE_ADDR="203.0.113.1").post("/subscribe/", signup_data(VICTIM))
    for n in range(3):
        Client(REMOTE_ADDR=f"198.51.100.{n + 1}").post("/manage/", {"email": VICTIM})
    assert len(mail.outbox) == 1  # the README's promise: one form email a day


def test_it_limits_ipv6_clients_per_64(settings):
    settings.SIGNUP_RATE_PER_IP = 3
    codes = [
        Client(REMOTE_ADDR=f"2001:db8:5:7::{n + 1:x}")
        .post("/subscribe/", signup_data(f"bot{n}@example.org"))
        .status_code
        for n in range(5)
    ]
    assert codes == [302] * 3 + [429] * 2
    other = Client(REMOTE_ADDR="2001:db8:5:8::1").post("/subscribe/", signup_data("a@example.org"))
    assert other.status_code == 302


def test_it_caps_form_emails_per_hour_in_all_and_warns_on_the_dashboard(settings, admin_client):
    settings.FORM_EMAILS_PER_HOUR = 3
    for n in range(5):
        Client(REMOTE_ADDR=f"203.0.113.{n + 1}").post(
            "/subscribe/", signup_data(f"reader{n}@example.org")
        )
    assert len(mail.outbox) == 3
    assert Subscriber.objects.count() == 5  # recorded; their owners may ask again later
    page = admin_client.get("/admin/").content.decode()
    assert "FORM_EMAILS_PER_HOUR" in page
