from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives

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
    assert isinstance(message, EmailMultiAlternatives)
    assert "/confirm/" in str(message.alternatives[0][0])
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


def test_it_offers_a_new_link_when_the_confirmation_link_expired(client):
    with time_machine.travel(dt.timedelta(days=-8)):
        client.post("/subscribe/", signup_data())
    link = emailed_link()

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
        ("max_papers", "26", "At most 25 (Gmail cuts a longer email short)."),
        ("send_hour", "24", "Select a valid choice"),
    ],
)
def test_it_shows_the_error_inline_and_sends_nothing_on_bad_input(client, field, value, error):
    response = client.post("/subscribe/", signup_data(**{field: value}))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Subscriber.objects.exists()
    assert not mail.outbox


def test_it_previews_how_many_of_todays_papers_typed_topics_would_find(client, settings):
    # The time budget is tested in tests/test_preview_budget.py; a loaded CI machine
    # must not turn this test's second line into "not previewed".
    settings.PREVIEW_SECONDS = 10
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


def test_the_confirm_page_names_the_address_the_schedule_and_the_topics(client):
    topic = make_topic("Test: teachers and students")
    data = signup_data("ada@example.org", own_topics='"mixture of experts"\nauthor:Hinton')
    client.post("/subscribe/", {**data, "topics": [topic.pk], "frequency": "weekly"})
    client.get(emailed_link())
    page = client.get("/confirm/").content.decode()
    assert "<strong>ada@example.org</strong>, weekly on Monday at 07:00 (Europe/Paris)" in page
    for shown in ("Test: teachers and students", "&quot;mixture of experts&quot;", "author:Hinton"):
        assert shown in page


def test_the_check_your_inbox_pages_say_where_a_local_installation_puts_its_mail(client, settings):
    settings.EMAIL_BACKEND = "digest.mail.backends.ConsoleAndFileBackend"
    settings.EMAIL_FILE_PATH = settings.BASE_DIR / "var" / "mail"
    for url in ("/subscribe/sent/", "/manage/sent/"):
        page = client.get(url).content.decode()
        assert "printed in the terminal running <code>python3 dev.py run</code>" in page
        assert "saved under <code>var/mail/</code>" in page
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    assert "terminal" not in client.get("/subscribe/sent/").content.decode()


def test_a_failed_signup_shows_a_summary_at_the_top_linking_to_each_field_and_keeps_the_input(
    client,
):
    topic = make_topic("Test: teachers and students")
    data = signup_data("not an address", own_topics="graph (neural", max_papers="26")
    page = client.post("/subscribe/", {**data, "topics": [topic.pk]}).content.decode()
    summary = page[
        page.index('<div class="error-summary"') : page.index(
            "</div>", page.index('<div class="error-summary"')
        )
    ]
    assert page.index("error-summary") < page.index("<form")  # above the form, seen first
    assert 'tabindex="-1" autofocus' in summary and 'role="alert"' in summary
    anchors = re.findall(r'<a href="#([^"]+)">', summary)
    assert anchors == ["id_email", "id_own_topics", "id_max_papers"]
    for anchor in anchors:
        assert f'id="{anchor}"' in page
    assert "3 things to fix" in summary
    assert "Most papers per email: At most 25 (Gmail cuts a longer email short)." in summary
    assert "less than or equal to" not in page  # not Django's generic wording
    # What was typed is kept.
    assert 'value="not an address"' in page
    assert ">graph (neural</textarea>" in page
    assert f'value="{topic.pk}" id="id_topics_0" checked' in page


def test_a_signup_without_topics_links_its_summary_to_the_topics(client):
    page = client.post("/subscribe/", signup_data(own_topics="")).content.decode()
    assert '<a href="#id_own_topics">Pick at least one topic, or type one.</a>' in page


def test_the_confirmation_and_sign_in_emails_go_through_the_one_email_renderer(client, monkeypatch):
    from accounts import emails

    rendered = []
    real = emails.render_email

    def recording(name, ctx):
        rendered.append(name)
        return real(name, ctx)

    monkeypatch.setattr(emails, "render_email", recording)
    client.post("/subscribe/", signup_data("ada@example.org"))
    Subscriber.objects.update(status="active", confirmation_sent_at=None)
    cache.clear()  # both forms share one daily allowance, which the signup spent
    client.post("/manage/", {"email": "ada@example.org"})
    assert rendered == ["accounts/email/confirm", "accounts/email/sign-in"]
    assert [m.subject for m in mail.outbox] == [
        "Confirm your Paperwire subscription",
        "Your Paperwire sign-in link",
    ]
