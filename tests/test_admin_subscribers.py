"""Operators find, change, mail, preview, export and erase subscribers in the admin."""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.core import mail
from django.utils import timezone

from accounts import lifecycle
from accounts.models import Consent, Subscriber, User
from digest.models import Digest, EmailEvent, Feedback, Suppression, Topic
from tests.support import admin_rows
from tests.support.delivery_world import list_papers

LIST = "/admin/accounts/subscriber/"
Status = Subscriber.Status


@pytest.fixture
def operator(client):
    user = User.objects.create_superuser("operator@example.org")
    client.force_login(user)
    return user


def act(client, action: str, *people: Subscriber, follow: bool = False, **extra):
    data = {"action": action, "_selected_action": [p.pk for p in people], **extra}
    return client.post(LIST, data, follow=follow)


def listed(client, **params) -> list[str]:
    response = client.get(LIST, params)
    assert response.status_code == 200
    return sorted(s.email for s in response.context["cl"].result_list)


def change_form(person: Subscriber, **changes) -> dict:
    """The change form of ``person`` as the admin page would post it, with ``changes``."""
    return {
        "email": person.email,
        "status": person.status,
        "status_shown": person.status,
        "topics": [t.pk for t in person.topics.all()],
        "own_topics": person.own_topics,
        "frequency": person.frequency,
        "weekday": str(person.weekday),
        "send_hour": str(person.send_hour),
        "time_zone": person.time_zone,
        "max_papers": str(person.max_papers),
        "min_score": str(person.min_score),
        "consents-TOTAL_FORMS": "0",
        "consents-INITIAL_FORMS": "0",
        **changes,
    }


@pytest.fixture
def readers():
    """Four subscribers who differ in status, frequency, topic and time zone."""
    distill = Topic.objects.get(name="Knowledge distillation")
    ada = admin_rows.subscriber(email="ada@example.org", time_zone="Europe/London")
    ada.topics.add(distill)
    return {
        "ada": ada,
        "bob": admin_rows.subscriber(
            email="bob@example.org", status=Status.PAUSED, frequency="weekly"
        ),
        "cy": admin_rows.subscriber(email="cy@example.org", status=Status.PENDING),
        "di": admin_rows.subscriber(
            email="di@example.net", status=Status.UNSUBSCRIBED, time_zone="Asia/Tokyo"
        ),
    }


@pytest.mark.django_db
def test_subscribers_are_filtered_by_status_frequency_topic_and_time_zone(
    client, operator, readers
):
    distill = Topic.objects.get(name="Knowledge distillation")
    assert listed(client, status__exact="paused") == ["bob@example.org"]
    assert listed(client, frequency__exact="weekly") == ["bob@example.org"]
    assert listed(client, topics__id__exact=distill.pk) == ["ada@example.org"]
    assert listed(client, time_zone="Asia/Tokyo") == ["di@example.net"]
    assert listed(client, q="example.net") == ["di@example.net"]


@pytest.mark.django_db
def test_pause_and_resume_change_only_subscribers_they_apply_to(client, operator, readers):
    act(client, "pause", readers["ada"], readers["cy"])
    for person in readers.values():
        person.refresh_from_db()
    assert readers["ada"].status == Status.PAUSED
    assert readers["ada"].next_send_at is None
    assert readers["cy"].status == Status.PENDING  # nothing to pause yet

    act(client, "resume", readers["ada"], readers["bob"], readers["di"])
    for person in readers.values():
        person.refresh_from_db()
    assert readers["ada"].status == readers["bob"].status == Status.ACTIVE
    ada_next = readers["ada"].next_send_at
    assert ada_next is not None and ada_next > timezone.now()
    assert readers["di"].status == Status.UNSUBSCRIBED
    assert LogEntry.objects.filter(change_message="Resumed deliveries.").count() == 2


@pytest.mark.django_db
def test_resend_confirmation_mails_pending_subscribers_only(client, operator, readers):
    Suppression.objects.create(email="sue@example.org", reason="bounced")
    sue = admin_rows.subscriber(email="sue@example.org", status=Status.PENDING)
    response = act(client, "resend_confirmation", readers["ada"], readers["cy"], sue)
    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [["cy@example.org"]]
    assert "/confirm/" in mail.outbox[0].body
    readers["cy"].refresh_from_db()
    assert readers["cy"].confirmation_sent_at is not None


@pytest.mark.django_db
def test_send_a_test_digest_now_mails_the_operator_not_the_subscriber(client, operator, readers):
    list_papers(timezone.now().date())
    readers["ada"].topics.add(Topic.objects.get(name="Robotics"))
    act(client, "send_test_digest", readers["ada"])
    assert [message.to for message in mail.outbox] == [["operator@example.org"]]
    assert "Zetta" in mail.outbox[0].body
    assert not Digest.objects.exists()  # a test send records nothing


@pytest.mark.django_db
def test_a_test_digest_with_nothing_new_says_so_and_sends_nothing(client, operator, readers):
    response = act(client, "send_test_digest", readers["bob"], follow=True)
    assert "Nothing new matches" in response.content.decode()
    assert mail.outbox == []


@pytest.mark.django_db
def test_export_csv_has_every_selected_subscriber_with_formulas_defused(client, operator, readers):
    readers["ada"].own_topics = '=HYPERLINK("http://evil")\nunlearning -survey'
    readers["ada"].save()
    response = act(client, "export_csv", readers["ada"], readers["bob"])
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["email"] for row in rows] == ["ada@example.org", "bob@example.org"]
    assert rows[0]["topics"] == "Knowledge distillation"
    assert rows[0]["own_topics"].startswith("'=HYPERLINK")
    assert rows[1]["frequency"] == "weekly"


@pytest.mark.django_db
def test_erase_asks_first_then_deletes_the_subscriber_and_their_data_but_keeps_suppressions(
    client, operator
):
    event = admin_rows.email_event("complained")
    assert event.digest is not None
    person = event.digest.subscriber
    Suppression.objects.create(email=person.email, reason="complained", event=event)
    Feedback.objects.create(subscriber=person, paper=admin_rows.paper(), value=-1)

    page = act(client, "erase", person)
    assert page.status_code == 200
    assert "Erase subscribers" in page.content.decode()
    assert Subscriber.objects.filter(pk=person.pk).exists()  # not yet

    act(client, "erase", person, confirm="yes")
    assert not Subscriber.objects.filter(pk=person.pk).exists()
    assert not Digest.objects.filter(subscriber_id=person.pk).exists()
    assert not Feedback.objects.filter(subscriber_id=person.pk).exists()
    assert not Consent.objects.filter(subscriber_id=person.pk).exists()
    assert Suppression.objects.filter(email=person.email).exists()
    assert LogEntry.objects.filter(action_flag=DELETION, object_repr=person.email).exists()


@pytest.mark.django_db
def test_the_detail_page_shows_topics_digests_feedback_events_and_consent(client, operator):
    event = admin_rows.email_event("bounced")
    assert event.digest is not None
    person = event.digest.subscriber
    person.topics.add(Topic.objects.get(name="Robotics"))
    Feedback.objects.create(
        subscriber=person, paper=admin_rows.paper(title="A liked paper"), value=1
    )
    page = client.get(f"{LIST}{person.pk}/change/").content.decode()
    assert "Robotics" in page
    assert event.digest.edition.isoformat() in page
    assert "A liked paper" in page
    assert "mailbox does not exist" in page
    assert "192.0.2.1" in page  # the consent record's IP address
    assert f"/admin/accounts/subscriber/{person.pk}/preview/" in page


@pytest.mark.django_db
def test_an_invalid_time_zone_or_own_topic_is_refused(client, operator, readers):
    ada = readers["ada"]
    ada.consents.all().delete()
    response = client.post(
        f"{LIST}{ada.pk}/change/",
        change_form(ada, own_topics="distillation\n(unclosed", time_zone="Mars/Olympus"),
    )
    errors = response.context["adminform"].form.errors
    assert "Line 2" in errors["own_topics"][0]
    assert "not a time zone" in errors["time_zone"][0]


@pytest.mark.django_db
def test_more_papers_than_gmail_shows_unclipped_are_refused(client, operator, readers):
    ada = readers["ada"]
    ada.consents.all().delete()
    response = client.post(f"{LIST}{ada.pk}/change/", change_form(ada, max_papers="26"))
    errors = response.context["adminform"].form.errors
    assert errors["max_papers"] == ["At most 25 (Gmail cuts a longer email short)."]
    response = client.post(f"{LIST}{ada.pk}/change/", change_form(ada, max_papers="0"))
    assert response.context["adminform"].form.errors["max_papers"] == [
        "At least one paper per email."
    ]


@pytest.mark.django_db
def test_changing_the_send_hour_reschedules_the_next_digest(client, operator, readers):
    ada = readers["ada"]
    ada.consents.all().delete()
    response = client.post(f"{LIST}{ada.pk}/change/", change_form(ada, send_hour="9"))
    assert response.status_code == 302
    ada.refresh_from_db()
    assert ada.next_send_at > timezone.now()
    assert ada.next_send_at.astimezone(ZoneInfo("Europe/London")).hour == 9


@pytest.mark.django_db
def test_the_preview_shows_the_next_digest_and_mails_it_to_the_operator(client, operator):
    list_papers(timezone.now().date())
    person = admin_rows.subscriber()
    person.topics.add(Topic.objects.get(name="Robotics"))

    page = client.get(f"{LIST}{person.pk}/preview/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="pw-preview-subject"' in text
    assert "Zetta" in text  # in the text part
    assert f'src="/admin/accounts/subscriber/{person.pk}/preview/email.html"' in text

    frame = client.get(f"{LIST}{person.pk}/preview/email.html")
    assert frame.status_code == 200
    assert "Zetta" in frame.content.decode()
    assert frame["X-Frame-Options"] == "SAMEORIGIN"
    assert "sandbox" in frame["Content-Security-Policy"]

    response = client.post(f"{LIST}{person.pk}/preview/")
    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [["operator@example.org"]]
    assert not Digest.objects.exists()


@pytest.mark.django_db
def test_the_preview_says_when_nothing_would_be_sent(client, operator):
    person = admin_rows.subscriber()
    page = client.get(f"{LIST}{person.pk}/preview/")
    assert 'id="pw-preview-empty"' in page.content.decode()


@pytest.mark.django_db
def test_email_events_of_other_addresses_stay_off_the_detail_page(client, operator):
    admin_rows.email_event("bounced", description="someone else's bounce")
    person = admin_rows.subscriber()
    page = client.get(f"{LIST}{person.pk}/change/").content.decode()
    assert "someone else&#x27;s bounce" not in page
    assert EmailEvent.objects.count() == 1


@pytest.mark.django_db
def test_the_history_panels_link_to_lists_of_that_subscribers_rows_only(client, operator):
    event = admin_rows.email_event("bounced")
    assert event.digest is not None
    person = event.digest.subscriber
    Feedback.objects.create(subscriber=person, paper=admin_rows.paper(), value=1)
    admin_rows.email_event("bounced")  # someone else's digest, feedback-free, and event
    admin_rows.feedback()
    page = client.get(f"{LIST}{person.pk}/change/").content.decode()
    for path, model in [
        (f"/admin/digest/digest/?subscriber__id__exact={person.pk}", Digest),
        (f"/admin/digest/feedback/?subscriber__id__exact={person.pk}", Feedback),
        (f"/admin/digest/emailevent/?q={person.email.replace('@', '%40')}", EmailEvent),
    ]:
        assert path in page
        rows = client.get(path).context["cl"].result_list
        assert len(rows) == 1 and model._default_manager.count() == 2, path


@pytest.mark.django_db
def test_test_digests_are_capped_per_click(client, operator):
    people = [admin_rows.subscriber() for _ in range(11)]
    response = act(client, "send_test_digest", *people, follow=True)
    assert "at most 10" in response.content.decode()
    assert mail.outbox == []


@pytest.mark.django_db
def test_unsubscribing_someone_in_the_form_stops_their_schedule(client, operator, readers):
    ada = readers["ada"]
    ada.schedule_next()
    ada.save()
    ada.consents.all().delete()
    data = change_form(ada, status="unsubscribed")
    assert client.post(f"{LIST}{ada.pk}/change/", data).status_code == 302
    ada.refresh_from_db()
    assert (ada.status, ada.next_send_at) == (Status.UNSUBSCRIBED, None)
    assert ada.unsubscribed_at is not None


@pytest.mark.django_db
def test_the_status_field_offers_only_statuses_one_transition_away(client, operator, readers):
    di = readers["di"]  # unsubscribed
    page = client.get(f"{LIST}{di.pk}/change/")
    choices = [value for value, _ in page.context["adminform"].form.fields["status"].choices]
    assert choices == [Status.ACTIVE, Status.UNSUBSCRIBED]


@pytest.mark.django_db
def test_saving_a_page_opened_before_a_bounce_keeps_the_address_suppressed(
    client, operator, readers
):
    ada = readers["ada"]
    ada.consents.all().delete()
    data = change_form(ada, send_hour="9")  # the page as it was opened: "active"
    lifecycle.suppress(ada.email, Suppression.Reason.BOUNCED)
    assert client.post(f"{LIST}{ada.pk}/change/", data).status_code == 302
    ada.refresh_from_db()
    assert (ada.status, ada.next_send_at, ada.send_hour) == (Status.SUPPRESSED, None, 9)
    assert Suppression.objects.filter(email=ada.email).exists()


@pytest.mark.django_db
def test_suppressing_someone_in_the_form_adds_their_suppression(client, operator, readers):
    ada = readers["ada"]
    ada.consents.all().delete()
    data = change_form(ada, status="suppressed")
    assert client.post(f"{LIST}{ada.pk}/change/", data).status_code == 302
    ada.refresh_from_db()
    assert ada.status == Status.SUPPRESSED
    assert Suppression.objects.get(email=ada.email).reason == Suppression.Reason.MANUAL


@pytest.mark.django_db
def test_a_subscriber_added_as_active_is_confirmed_and_scheduled(client, operator):
    data = {
        "email": "new@example.org",
        "status": "active",
        "status_shown": "pending",
        "own_topics": "knowledge distillation",
        "frequency": "daily",
        "weekday": "0",
        "send_hour": "7",
        "time_zone": "UTC",
        "max_papers": "10",
        "min_score": "0",
        "consents-TOTAL_FORMS": "0",
        "consents-INITIAL_FORMS": "0",
    }
    assert client.post(f"{LIST}add/", data).status_code == 302
    person = Subscriber.objects.get(email="new@example.org")
    assert person.status == Status.ACTIVE
    assert person.confirmed_at is not None
    assert person.next_send_at is not None and person.next_send_at > timezone.now()


@pytest.mark.django_db
def test_the_subscriber_page_shows_times_with_their_zone_and_no_token_nonce(client, operator):
    import datetime as dt

    person = Subscriber.objects.create(email="ada@example.org", status=Status.ACTIVE)
    Subscriber.objects.filter(pk=person.pk).update(
        created_at=dt.datetime(2026, 8, 20, 7, 5, 9, 123456, tzinfo=dt.UTC)
    )
    Digest.objects.create(
        subscriber=person,
        edition=dt.date(2026, 8, 20),
        status="sent",
        sent_at=dt.datetime(2026, 8, 20, 7, 6, 1, 654321, tzinfo=dt.UTC),
    )
    page = client.get(f"{LIST}{person.pk}/change/").content.decode()
    assert "20 Aug 2026, 07:05 UTC" in page and "20 Aug 2026, 07:06 UTC" in page
    assert "654321" not in page and "123456" not in page and ".65" not in page
    assert "nonce" not in page.lower()
