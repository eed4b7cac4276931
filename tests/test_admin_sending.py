"""Sources, papers, digests and suppressions as operators handle them in the admin."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.core import mail
from django.utils import timezone

from accounts.models import Subscriber, User
from digest.models import Digest, DigestItem, Listing, Paper, Source, SourceRun, Suppression, Topic
from tests.support import admin_rows
from tests.support.delivery_world import list_papers
from tests.support.feedserver import FeedServer, Reply

FEED = Path(__file__).parent / "data" / "hf_daily_papers_community_rss_huangboming_feed.xml"


def login(client) -> User:
    user = User.objects.create_superuser("operator@example.org")
    client.force_login(user)
    return user


@pytest.fixture
def operator(client):
    return login(client)


def act(client, path: str, action: str, *objects, **extra):
    data = {"action": action, "_selected_action": [o.pk for o in objects], **extra}
    return client.post(path, data)


# Sources -------------------------------------------------------------------------------


@pytest.mark.worker
def test_fetch_now_has_a_worker_ingest_the_source_and_the_run_shows_up(transactional_db, client):
    from tests.support.processes import wait_for
    from tests.support.workers import celery_worker

    login(client)
    with FeedServer() as server:
        server.routes["/feed.xml"] = Reply(FEED.read_bytes())
        source = Source.objects.create(
            name="Feed", kind=Source.Kind.FEED, url=server.url("/feed.xml")
        )
        with celery_worker():
            response = act(client, "/admin/digest/source/", "fetch_now", source)
            assert response.status_code == 302
            run = wait_for(
                lambda: SourceRun.objects.filter(source=source, finished_at__isnull=False).first()
            )
    assert run.status == Source.Status.OK, run.error
    assert run.new == Paper.objects.count() > 0
    page = client.get(f"/admin/digest/source/{source.pk}/change/").content.decode()
    assert f"/admin/digest/sourcerun/{run.pk}/change/" in page  # the run in the history
    assert "Queued a fetch now." in LogEntry.objects.get().change_message


@pytest.mark.worker
def test_the_fetch_now_button_on_a_source_page_has_a_worker_ingest_that_source(
    transactional_db, client
):
    from tests.support.processes import wait_for
    from tests.support.workers import celery_worker

    login(client)
    with FeedServer() as server:
        server.routes["/feed.xml"] = Reply(FEED.read_bytes())
        source = Source.objects.create(
            name="Feed", kind=Source.Kind.FEED, url=server.url("/feed.xml")
        )
        page_url = f"/admin/digest/source/{source.pk}/change/"
        button = f'action="/admin/digest/source/{source.pk}/fetch/"'
        assert button in client.get(page_url).content.decode()
        # Only the button's POST fetches: a GET (a link scanner, a prefetch) does nothing.
        assert client.get(f"/admin/digest/source/{source.pk}/fetch/").status_code == 405
        with celery_worker():
            response = client.post(f"/admin/digest/source/{source.pk}/fetch/", follow=True)
            run = wait_for(
                lambda: SourceRun.objects.filter(source=source, finished_at__isnull=False).first()
            )
    assert response.redirect_chain == [(page_url, 302)]
    assert "Queued 1 source(s) for fetching" in response.content.decode()
    assert run.status == Source.Status.OK, run.error
    assert SourceRun.objects.count() == 1  # the GET queued nothing
    assert "Queued a fetch now." in LogEntry.objects.get().change_message


@pytest.mark.django_db
def test_the_source_page_shows_the_last_runs_status_and_error(client, operator):
    source = admin_rows.source()  # last run failed with HTTP 503
    SourceRun.objects.create(source=source, day=admin_rows.TODAY, status="error", error="HTTP 503")
    listing = client.get("/admin/digest/source/").content.decode()
    assert "HTTP 503" in listing
    page = client.get(f"/admin/digest/source/{source.pk}/change/").content.decode()
    assert page.count("HTTP 503") >= 2  # last error, and the run in the history
    assert f"/admin/digest/sourcerun/?source__id__exact={source.pk}" in page


# Papers --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_papers_are_found_by_title_author_and_arxiv_id_in_any_spelling(client, operator):
    paper = admin_rows.paper(
        title="Gaussian splatting at scale", authors=[{"name": "Grace Hopper"}]
    )
    admin_rows.paper()

    def found(q: str) -> list[int]:
        return [
            p.pk for p in client.get("/admin/digest/paper/", {"q": q}).context["cl"].result_list
        ]

    assert found("splatting") == [paper.pk]
    assert found("Hopper") == [paper.pk]
    assert found(paper.arxiv_id) == [paper.pk]
    assert found(f"arXiv:{paper.arxiv_id}v3") == [paper.pk]


@pytest.mark.django_db
def test_papers_are_filtered_by_source_and_listed_day(client, operator):
    early = admin_rows.listing(day=dt.date(2026, 8, 19))
    late = admin_rows.listing(day=dt.date(2026, 8, 20))

    def found(**params) -> list[int]:
        return [p.pk for p in client.get("/admin/digest/paper/", params).context["cl"].result_list]

    assert found(listed_on="2026-08-19") == [early.paper_id]
    assert found(listings__source__id__exact=late.source_id) == [late.paper_id]
    assert found(listed_on="not-a-day") == []


@pytest.mark.django_db
def test_a_paper_shows_its_listing_history_and_how_many_digests_it_went_out_in(client, operator):
    listing = admin_rows.listing()
    paper = listing.paper
    Listing.objects.create(source=listing.source, paper=paper, day=dt.date(2026, 8, 21), rank=4)
    for status in ("sent", "sent", "failed"):
        made = admin_rows.digest(status)
        DigestItem.objects.create(digest=made, paper=paper, rank=2, score=0.5)
    row = client.get("/admin/digest/paper/", {"q": paper.arxiv_id}).context["cl"].result_list[0]
    assert (row.listed, row.sent_in) == (2, 2)
    page = client.get(f"/admin/digest/paper/{paper.pk}/change/").content.decode()
    assert "2026-08-21" in page or "Aug. 21, 2026" in page
    assert page.count("/admin/digest/digest/") >= 2


# Digests -------------------------------------------------------------------------------


@pytest.fixture
def failed_today():
    """A failed digest of today's edition, for a subscriber with papers to get."""
    list_papers(timezone.now().date())
    person = admin_rows.subscriber()
    person.topics.add(Topic.objects.get(name="Robotics"))
    return Digest.objects.create(
        subscriber=person,
        edition=timezone.now().date(),
        status=Digest.Status.FAILED,
        attempts=3,
        error="provider said 500",
    )


@pytest.mark.django_db
def test_resending_a_failed_digest_sends_it_once_and_records_it_sent(
    client, operator, failed_today
):
    act(client, "/admin/digest/digest/", "resend_failed", failed_today)
    failed_today.refresh_from_db()
    assert failed_today.status == Digest.Status.SENT
    assert failed_today.items.exists()
    assert [message.to for message in mail.outbox] == [[failed_today.subscriber.email]]

    act(client, "/admin/digest/digest/", "resend_failed", failed_today)  # now sent: refused
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_resending_a_digest_held_as_maybe_sent_sends_it_once(client, operator, failed_today):
    """The operator checked with the provider that a digest held as "unknown" never
    arrived, and sends it: once, from fresh papers, the earlier attempt's marks gone."""
    Digest.objects.filter(pk=failed_today.pk).update(
        status=Digest.Status.UNKNOWN, sending_at=timezone.now(), error="may have been sent"
    )
    act(client, "/admin/digest/digest/", "resend_failed", failed_today)
    failed_today.refresh_from_db()
    assert failed_today.status == Digest.Status.SENT and failed_today.error == ""
    assert [message.to for message in mail.outbox] == [[failed_today.subscriber.email]]


@pytest.mark.django_db
def test_an_earlier_failed_edition_or_a_paused_or_suppressed_subscriber_is_not_resent(
    client, operator, failed_today
):
    earlier = admin_rows.digest(Digest.Status.FAILED, edition=dt.date(2026, 1, 1))
    bounced = Digest.objects.create(
        subscriber=admin_rows.subscriber(), edition=failed_today.edition, status="failed"
    )
    Suppression.objects.create(email=bounced.subscriber.email, reason="bounced")
    Subscriber.objects.filter(pk=failed_today.subscriber_id).update(status="paused")
    response = client.post(
        "/admin/digest/digest/",
        {"action": "resend_failed", "_selected_action": [earlier.pk, failed_today.pk, bounced.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "earlier edition" in text
    assert "is paused" in text
    assert "is suppressed" in text
    assert mail.outbox == []
    assert set(Digest.objects.values_list("status", flat=True)) == {"failed"}


@pytest.mark.django_db
def test_a_digest_page_shows_its_papers_message_id_and_tracking_events(client, operator):
    event = admin_rows.email_event("delivered", description="250 OK")
    made = event.digest
    assert made is not None
    page = client.get(f"/admin/digest/digest/{made.pk}/change/").content.decode()
    assert made.message_id in page
    assert made.items.get().paper.title in page
    assert "250 OK" in page
    assert client.get("/admin/digest/digest/add/").status_code == 403


# Suppressions --------------------------------------------------------------------------


@pytest.fixture
def suppressed():
    person = admin_rows.subscriber(status=Subscriber.Status.SUPPRESSED)
    return Suppression.objects.create(email=person.email, reason="bounced"), person


@pytest.mark.django_db
def test_lifting_a_suppression_asks_first_then_logs_it(client, operator, suppressed):
    suppression, person = suppressed
    page = act(client, "/admin/digest/suppression/", "lift", suppression)
    assert page.status_code == 200
    assert "hurt this server" in page.content.decode()
    assert Suppression.objects.exists()

    act(client, "/admin/digest/suppression/", "lift", suppression, confirm="yes")
    assert not Suppression.objects.exists()
    person.refresh_from_db()
    assert person.status == Subscriber.Status.UNSUBSCRIBED  # they sign up again themselves
    entry = LogEntry.objects.get(action_flag=DELETION)
    assert (entry.object_repr, entry.change_message) == (
        str(suppression),
        "Lifted the suppression.",
    )


@pytest.mark.django_db
def test_lifting_with_resume_makes_the_subscriber_active_again(client, operator, suppressed):
    suppression, person = suppressed
    act(client, "/admin/digest/suppression/", "lift", suppression, confirm="yes", reactivate="on")
    person.refresh_from_db()
    assert person.status == Subscriber.Status.ACTIVE
    assert person.next_send_at > timezone.now()


@pytest.mark.django_db
def test_a_suppression_cannot_be_deleted_any_other_way(client, operator, suppressed):
    suppression, _ = suppressed
    assert (
        client.post(
            f"/admin/digest/suppression/{suppression.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    act(client, "/admin/digest/suppression/", "delete_selected", suppression, post="yes")
    assert Suppression.objects.filter(pk=suppression.pk).exists()


@pytest.mark.django_db
def test_a_suppression_added_with_capitals_is_stored_lower_and_holds_the_subscriber(
    client, operator
):
    person = admin_rows.subscriber(email="reader0@example.org")
    data = {"email": "Reader0@Example.org", "reason": "manual", "created_at_0": "", "event": ""}
    data.update(created_at_0="2026-08-20", created_at_1="09:00:00")
    response = client.post("/admin/digest/suppression/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Suppression.objects.get().email == "reader0@example.org"
    person.refresh_from_db()
    assert (person.status, person.next_send_at) == (Subscriber.Status.SUPPRESSED, None)

    again = client.post("/admin/digest/suppression/add/", {**data, "email": "READER0@example.org"})
    assert "already exists" in again.context["adminform"].form.errors["email"][0]
    assert Suppression.objects.count() == 1
