from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts import links, subscription
from accounts.models import Consent, Subscriber
from digest.models import Digest, EmailEvent, Suppression
from tests.support.pages import emailed_link, load_real_day, make_subscriber, make_topic

pytestmark = pytest.mark.django_db


def sign_in(client, subscriber: Subscriber) -> None:
    client.post("/manage/", {"email": subscriber.email})
    response = client.post(emailed_link())
    assert response.status_code == 302
    assert response["Location"] == "/manage/preferences/"


def test_it_emails_a_sign_in_link_that_opens_the_preferences_once(client):
    subscriber = make_subscriber()
    response = client.post("/manage/", {"email": "Reader@example.org"})
    assert response["Location"] == "/manage/sent/"
    link = emailed_link()
    assert "/manage/sign-in/" in link
    client.cookies.pop("paperwire_asked")  # opened in another browser than the one that asked
    page = client.get(link, follow=True)
    assert page.redirect_chain == [("/manage/sign-in/", 302)]
    assert "Sign in" in page.content.decode()  # GET only shows a button
    assert client.get("/manage/preferences/")["Location"] == "/manage/"
    assert client.post("/manage/sign-in/")["Location"] == "/manage/preferences/"
    page = client.get("/manage/preferences/")
    assert subscriber.email in page.content.decode()
    client.post("/manage/sign-out/")
    assert client.post(link).status_code == 400  # spent


def test_it_signs_in_without_a_button_in_the_browser_that_asked_for_the_link(client):
    subscriber = make_subscriber()
    client.post("/manage/", {"email": subscriber.email})
    assert client.cookies["paperwire_asked"]["path"] == "/manage/sign-in/"
    assert client.cookies["paperwire_asked"]["httponly"]
    link = emailed_link()
    scanner = Client()  # a mail scanner opens the link first: it gets the button only
    assert scanner.get(link, follow=True).redirect_chain == [("/manage/sign-in/", 302)]
    assert scanner.get("/manage/preferences/").status_code == 302
    response = client.get(link)
    assert response["Location"] == "/manage/preferences/"
    assert client.cookies["paperwire_asked"].value == ""  # used up with the link
    assert client.get("/manage/preferences/").status_code == 200
    assert scanner.post("/manage/sign-in/").status_code == 400  # spent


def test_the_digests_manage_link_opens_the_preferences_after_one_press(client):
    subscriber = make_subscriber()
    link = links.manage_link(subscriber).removeprefix(settings.SITE_URL)
    page = client.get(link, follow=True)
    assert page.redirect_chain == [("/manage/open/", 302)]
    assert "Open my preferences" in page.content.decode()  # a GET changes nothing
    assert client.get("/manage/preferences/").status_code == 302
    assert client.post("/manage/open/")["Location"] == "/manage/preferences/"
    assert subscriber.email in client.get("/manage/preferences/").content.decode()
    # Again from the same browser: straight in. Not single-use: every digest carries it.
    assert client.get(link)["Location"] == "/manage/preferences/"
    assert Client().get(link, follow=True).redirect_chain == [("/manage/open/", 302)]


def test_a_forwarded_digests_manage_link_cannot_download_or_delete_the_data(client):
    subscriber = make_subscriber()
    client.get(links.manage_link(subscriber).removeprefix(settings.SITE_URL))
    client.post("/manage/open/")
    for url in ("/manage/my-data.json", "/manage/delete/"):
        response = client.get(url)
        assert response["Location"] == "/manage/"
    assert client.post("/manage/delete/")["Location"] == "/manage/"
    assert Subscriber.objects.filter(pk=subscriber.pk).exists()
    page = client.get("/manage/").content.decode()
    assert "sign in with a link we email to your address" in page
    page = client.get("/manage/preferences/").content.decode()
    assert "my-data.json" not in page and 'id="sign-in-for-data"' in page
    # A sign-in link from the mailbox proves it: then both work.
    sign_in(client, subscriber)
    assert client.get("/manage/my-data.json").status_code == 200
    assert "my-data.json" in client.get("/manage/preferences/").content.decode()


def test_a_manage_link_expires_after_30_days_and_offers_a_sign_in_link(client):
    subscriber = make_subscriber()
    with time_machine.travel(dt.timedelta(days=-31)):
        link = links.manage_link(subscriber).removeprefix(settings.SITE_URL)
    page = client.get(link).content.decode()
    assert "This link has expired" in page and "Email me a new sign-in link" in page


def test_it_expires_a_sign_in_link_after_an_hour(client):
    make_subscriber()
    with time_machine.travel(dt.timedelta(seconds=-3601)):
        client.post("/manage/", {"email": "reader@example.org"})
    response = client.post(emailed_link())
    assert "This link has expired" in response.content.decode()
    assert client.get("/manage/preferences/").status_code == 302


def test_it_saves_topics_schedule_and_cap_and_moves_the_next_send(client):
    subscriber = make_subscriber(time_zone="UTC", send_hour=7)
    subscriber.schedule_next()
    subscriber.save()
    sign_in(client, subscriber)
    topic = make_topic()
    response = client.post(
        "/manage/preferences/",
        {
            "topics": [topic.pk],
            "own_topics": "author:Hinton\ncategory:cs.CL",
            "frequency": "weekly",
            "weekday": "4",
            "send_hour": "18",
            "time_zone": "America/New_York",
            "max_papers": "5",
        },
    )
    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert list(subscriber.topics.all()) == [topic]
    assert subscriber.own_topics == "author:Hinton\ncategory:cs.CL"
    assert (subscriber.frequency, subscriber.weekday, subscriber.send_hour) == ("weekly", 4, 18)
    assert subscriber.max_papers == 5
    from zoneinfo import ZoneInfo

    assert subscriber.next_send_at is not None
    local = subscriber.next_send_at.astimezone(ZoneInfo("America/New_York"))
    assert (local.weekday(), local.hour) == (4, 18)
    assert "Your preferences are saved." in client.get("/manage/preferences/").content.decode()


def test_it_keeps_an_operator_given_private_topic_when_saving(client):
    subscriber = make_subscriber()
    private = make_topic("Test: lab only", public=False)
    subscriber.topics.add(private)
    sign_in(client, subscriber)
    form = client.get("/manage/preferences/").context["form"]
    assert private in form.fields["topics"].queryset


def test_it_pauses_and_resumes_deliveries(client):
    subscriber = make_subscriber()
    sign_in(client, subscriber)
    client.post("/manage/pause/")
    subscriber.refresh_from_db()
    assert (subscriber.status, subscriber.next_send_at) == ("paused", None)
    client.post("/manage/resume/")
    subscriber.refresh_from_db()
    assert subscriber.status == "active"
    assert subscriber.next_send_at is not None


def test_it_unsubscribes_and_resubscribes_from_the_preferences(client):
    subscriber = make_subscriber()
    sign_in(client, subscriber)
    client.post("/manage/unsubscribe/")
    subscriber.refresh_from_db()
    assert subscriber.status == "unsubscribed"
    client.post("/manage/resubscribe/")
    subscriber.refresh_from_db()
    assert subscriber.status == "active"
    assert Consent.objects.filter(action="resubscribe").count() == 1


def test_it_previews_todays_digest_in_a_sandboxed_page(client):
    load_real_day(timezone.now().date())
    subscriber = make_subscriber(own_topics="video\ndiffusion")
    sign_in(client, subscriber)
    response = client.get("/manage/preview/")
    assert response.status_code == 200, response.get("Location")
    assert "sandbox" in response["Content-Security-Policy"]
    assert "script-src" not in response["Content-Security-Policy"]
    assert b"<html" in response.content.lower()
    assert not Digest.objects.exists()  # a preview records nothing


def test_it_says_when_there_is_nothing_to_preview(client):
    subscriber = make_subscriber(own_topics="quantum gravity")
    sign_in(client, subscriber)
    response = client.get("/manage/preview/", follow=True)
    assert "Nothing new matches your topics today" in response.content.decode()


def test_it_downloads_my_data_as_json(client):
    subscriber = make_subscriber()
    Consent.objects.create(subscriber=subscriber, action="signup", ip_address="192.0.2.1")
    sign_in(client, subscriber)
    response = client.get("/manage/my-data.json")
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["email"] == subscriber.email
    assert data["preferences"]["own_topics"] == ["knowledge distillation"]
    assert data["consents"][0]["ip_address"] == "192.0.2.1"


def test_it_puts_the_providers_events_and_any_suppression_in_my_data():
    subscriber = make_subscriber()
    digest = Digest.objects.create(subscriber=subscriber, edition=timezone.localdate())
    EmailEvent.objects.create(event_type="delivered", recipient=subscriber.email)
    EmailEvent.objects.create(event_type="opened", digest=digest)
    EmailEvent.objects.create(event_type="delivered", recipient="other@example.org")
    Suppression.objects.create(email=subscriber.email, reason="complained")
    data = subscription.export(subscriber)
    assert [event["type"] for event in data["email_events"]] == ["delivered", "opened"]
    assert data["suppression"]["reason"] == "complained"


def test_it_deletes_my_data_but_keeps_the_suppression_list(client):
    subscriber = make_subscriber()
    Suppression.objects.create(email="other@example.org", reason="bounced")
    sign_in(client, subscriber)
    assert "Delete everything" in client.get("/manage/delete/").content.decode()
    assert Subscriber.objects.exists()  # GET deletes nothing
    response = client.post("/manage/delete/")
    assert "Your data is deleted" in response.content.decode()
    assert not Subscriber.objects.exists()
    assert not Consent.objects.exists()
    assert Suppression.objects.count() == 1
    assert client.get("/manage/preferences/").status_code == 302


def test_erasing_deletes_the_providers_events_but_keeps_the_suppression_detached():
    subscriber = make_subscriber()
    digest = Digest.objects.create(subscriber=subscriber, edition=timezone.localdate())
    bounce = EmailEvent.objects.create(event_type="bounced", recipient=subscriber.email)
    EmailEvent.objects.create(event_type="opened", digest=digest)  # no recipient stored
    other = EmailEvent.objects.create(event_type="delivered", recipient="other@example.org")
    Suppression.objects.create(email=subscriber.email, reason="bounced", event=bounce)
    subscription.erase(subscriber)
    assert list(EmailEvent.objects.all()) == [other]
    suppression = Suppression.objects.get()
    assert (suppression.email, suppression.reason, suppression.event) == (
        subscriber.email,
        "bounced",
        None,
    )


def test_it_sends_a_pending_address_its_confirmation_instead_of_a_sign_in_link(client):
    make_subscriber(status="pending")
    client.post("/manage/", {"email": "reader@example.org"})
    assert "/confirm/" in emailed_link()


def test_it_caps_sign_in_links_per_address_per_day(client, settings):
    settings.FORM_EMAILS_PER_DAY = 2
    make_subscriber()
    for _ in range(4):
        client.post("/manage/", {"email": "reader@example.org"})
    assert len(mail.outbox) == 2


def test_a_failed_save_shows_the_summary_at_the_top_and_keeps_what_was_typed(client):
    subscriber = make_subscriber()
    sign_in(client, subscriber)
    data = {
        "own_topics": "diffusion\ntitle:(graph",
        "frequency": "daily",
        "weekday": "0",
        "send_hour": "7",
        "time_zone": "Mars/Olympus",
        "max_papers": "0",
    }
    page = client.post("/manage/preferences/", data).content.decode()
    summary = page[
        page.index('id="error-summary"') : page.index("</div>", page.index("error-summary"))
    ]
    assert page.index("error-summary") < page.index('action="/manage/preferences/"')
    assert re.findall(r'<a href="#([^"]+)">', summary) == [
        "id_own_topics",
        "id_time_zone",
        "id_max_papers",
    ]
    assert "Most papers per email: At least one paper per email." in summary
    assert ">diffusion\ntitle:(graph</textarea>" in page and 'value="Mars/Olympus"' in page
    subscriber.refresh_from_db()
    assert subscriber.own_topics == "knowledge distillation"
