from __future__ import annotations

import pytest
from django.core import mail

from accounts.models import Consent, Subscriber
from tests.support.pages import emailed_link, load_real_day, make_topic, signup_data

pytestmark = pytest.mark.django_db


def test_it_shows_public_catalogue_topics_with_descriptions_and_the_syntax(client):
    make_topic()
    make_topic("Secret lab topic", query="lab", public=False, description="internal")
    html = client.get("/subscribe/?email=ada@example.org").content.decode()
    assert "Test: teachers and students" in html
    assert "Teachers, students and smaller models." in html
    assert "Secret lab topic" not in html
    assert "author:Hinton" in html  # the topic syntax, shown inline
    assert 'value="ada@example.org"' in html  # prefilled from the home page box
    for field in ("email", "own_topics", "frequency", "weekday", "send_hour", "time_zone"):
        assert f'name="{field}"' in html
    assert 'for="id_max_papers"' in html
    assert 'min="1" max="25"' in html  # the browser enforces the cap too


def test_it_signs_up_a_pending_subscriber_and_emails_a_confirmation_link(client):
    topic = make_topic()
    response = client.post(
        "/subscribe/",
        signup_data("Ada@Example.org", topics=[topic.pk], frequency="weekly", weekday="2"),
    )
    assert response.status_code == 302
    assert response["Location"] == "/subscribe/sent/"
    subscriber = Subscriber.objects.get()
    assert subscriber.email == "ada@example.org"
    assert subscriber.status == Subscriber.Status.PENDING
    assert list(subscriber.topics.all()) == [topic]
    assert subscriber.own_topics == "knowledge distillation"
    assert (subscriber.frequency, subscriber.weekday) == ("weekly", 2)
    assert subscriber.time_zone == "Europe/Paris"
    assert subscriber.next_send_at is None
    [message] = mail.outbox
    assert message.to == ["ada@example.org"]
    assert "/confirm/" in emailed_link(message)
    assert "/confirm/" in message.alternatives[0][0]
    consent = Consent.objects.get()
    assert consent.action == "signup"
    assert consent.ip_address == "127.0.0.1"
    assert consent.form_version


def test_it_confirms_only_on_post_and_records_the_consent(client):
    client.post("/subscribe/", signup_data())
    link = emailed_link()
    page = client.get(link)
    # The token moves into the session; the page with the button has none in its URL.
    assert (page.status_code, page["Location"]) == (302, "/confirm/")
    page = client.get("/confirm/")
    assert "Yes, send me papers" in page.content.decode()
    assert Subscriber.objects.get().status == "pending"  # a mail scanner's GET changes nothing

    response = client.post("/confirm/", HTTP_USER_AGENT="Firefox")
    assert response.status_code == 200
    subscriber = Subscriber.objects.get()
    assert subscriber.status == "active"
    assert subscriber.confirmed_at is not None
    assert subscriber.next_send_at is not None
    assert (
        subscriber.next_send_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris")).hour
        == 7
    )
    confirm = Consent.objects.get(action="confirm")
    assert (confirm.ip_address, confirm.user_agent) == ("127.0.0.1", "Firefox")
    # Confirming signs the subscriber in: the preferences page opens.
    assert client.get("/manage/preferences/").status_code == 200


def test_it_refuses_a_confirmation_link_a_second_time(client):
    client.post("/subscribe/", signup_data())
    link = emailed_link()
    client.post(link)
    assert client.post(link).status_code == 400
    assert client.get(link, follow=True).status_code == 400


def test_it_offers_a_new_link_when_the_confirmation_link_expired(client, monkeypatch):
    import time

    from django.core import signing

    real = time.time
    monkeypatch.setattr(signing.time, "time", lambda: real() - 8 * 86400)
    client.post("/subscribe/", signup_data())
    link = emailed_link()
    monkeypatch.setattr(signing.time, "time", real)
    Subscriber.objects.update(confirmation_sent_at=None)  # the first email was 8 days ago

    page = client.get(link, follow=True)
    assert page.status_code == 200
    assert "This link has expired" in page.content.decode()
    assert Subscriber.objects.get().status == "pending"
    assert client.post("/confirm/").status_code == 200
    assert len(mail.outbox) == 2
    client.post(emailed_link())
    assert Subscriber.objects.get().status == "active"


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("email", "not-an-address", "Enter a valid email address"),
        ("time_zone", "Mars/Olympus", "Not a time zone we know"),
        ("own_topics", 'knowledge "distillation', "Line 1:"),
        ("own_topics", "", "Pick at least one topic"),
        ("max_papers", "26", "less than or equal to 25"),
        ("send_hour", "24", "Select a valid choice"),
    ],
)
def test_it_shows_the_error_inline_and_sends_nothing_on_bad_input(client, field, value, error):
    response = client.post("/subscribe/", signup_data(**{field: value}))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Subscriber.objects.exists()
    assert not mail.outbox


def test_it_previews_how_many_of_todays_papers_typed_topics_would_find(client):
    load_real_day()
    response = client.get("/subscribe/preview.json", {"q": "diffusion\nvideo"})
    data = response.json()
    assert response.status_code == 200
    assert data["day"] == "2026-08-20"
    assert data["count"] >= 1
    assert 1 <= len(data["examples"]) <= 3
    assert data["errors"] == []


def test_it_reports_a_topic_syntax_error_by_line_in_the_preview(client):
    load_real_day()
    data = client.get("/subscribe/preview.json", {"q": 'diffusion\n"unclosed'}).json()
    assert [problem["line"] for problem in data["errors"]] == [2]


def test_it_counts_catalogue_topics_in_the_preview(client):
    load_real_day()
    topic = make_topic("Test: video", query="video")
    data = client.get("/subscribe/preview.json", {"topic": [str(topic.pk)]}).json()
    assert data["count"] >= 1
