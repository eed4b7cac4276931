"""The dashboard on the admin index: its figures, and what it highlights."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Subscriber, User
from digest.admin import dashboard
from digest.models import Digest, EmailEvent, SourceRun
from tests.support import admin_rows
from tests.support.caching import clear_cache

NOW = dt.datetime(2026, 8, 20, 15, 0, tzinfo=dt.UTC)


def sent_digests(count: int, when: dt.datetime = NOW) -> None:
    person = admin_rows.subscriber()
    Digest.objects.bulk_create(
        Digest(
            subscriber=person,
            edition=when.date() - dt.timedelta(days=i),
            status=Digest.Status.SENT,
            created_at=when,
        )
        for i in range(count)
    )


def events(event_type: str, count: int, when: dt.datetime = NOW) -> None:
    EmailEvent.objects.bulk_create(
        EmailEvent(event_type=event_type, recipient=f"r{i}@example.org", received_at=when)
        for i in range(count)
    )


def test_a_rate_is_judged_against_its_lines():
    assert dashboard.Rate(0, 0, 0.001, 0.003).level == "ok"  # nothing sent: no rate
    assert dashboard.Rate(1, 2000, 0.001, 0.003).level == "ok"
    assert dashboard.Rate(2, 2000, 0.001, 0.003).level == "warning"
    assert dashboard.Rate(6, 2000, 0.001, 0.003).level == "danger"
    assert dashboard.Rate(6, 2000, 0.001, 0.003).percent == "0.30%"


@pytest.mark.django_db
def test_subscribers_are_counted_by_status_with_zeros_and_expired_confirmations():
    admin_rows.subscriber()
    admin_rows.subscriber(status="pending", confirmation_sent_at=NOW - dt.timedelta(days=8))
    admin_rows.subscriber(status="pending", confirmation_sent_at=NOW)
    counts = {status: n for status, _, n in dashboard.subscribers_by_status()}
    assert counts == {"pending": 2, "active": 1, "paused": 0, "unsubscribed": 0, "suppressed": 0}
    assert dashboard.pending_confirmations(NOW) == {"total": 2, "expired": 1}


@pytest.mark.django_db
def test_todays_digests_are_counted_by_status_since_midnight_utc():
    sent_digests(3)
    sent_digests(5, NOW - dt.timedelta(days=1))
    admin_rows.digest(Digest.Status.FAILED)
    Digest.objects.filter(status="failed").update(created_at=NOW)
    assert dashboard.digests_today(NOW) == {
        "sent": 3,
        "skipped": 0,
        "failed": 1,
        "unknown": 0,
        "in_progress": 0,
        "waiting": 0,
    }


@pytest.mark.django_db
def test_in_progress_counts_only_digests_a_live_worker_holds():
    live = admin_rows.digest(Digest.Status.CLAIMED)
    retrying = admin_rows.digest(Digest.Status.CLAIMED)
    abandoned = admin_rows.digest(Digest.Status.CLAIMED)
    Digest.objects.update(created_at=NOW)
    Digest.objects.filter(pk=live.pk).update(
        claim_token="a" * 32, lease_expires_at=NOW + dt.timedelta(seconds=30)
    )
    # Released for a retry in five minutes: nobody holds it.
    Digest.objects.filter(pk=retrying.pk).update(
        claim_token="", lease_expires_at=NOW + dt.timedelta(minutes=5), error="HTTP 503"
    )
    # Its worker died: the lease ran out without a renewal.
    Digest.objects.filter(pk=abandoned.pk).update(
        claim_token="b" * 32, lease_expires_at=NOW - dt.timedelta(seconds=1)
    )

    counts = dashboard.digests_today(NOW)

    assert (counts["in_progress"], counts["waiting"]) == (1, 2)


@pytest.mark.django_db
def test_todays_ingest_is_summed_per_source():
    source = admin_rows.source()
    for new in (4, 6):
        SourceRun.objects.create(source=source, day=NOW.date(), status="ok", new=new, rejected=1)
    SourceRun.objects.create(source=source, day=NOW.date() - dt.timedelta(days=1), new=50)
    idle = admin_rows.source()
    rows = {
        s.pk: (s.runs_today, s.new_today, s.rejected_today) for s in dashboard.ingest_today(NOW)
    }
    assert rows == {source.pk: (2, 10, 2), idle.pk: (0, 0, 0)}


@pytest.mark.django_db
def test_bounce_and_complaint_rates_cover_the_last_30_days_only():
    sent_digests(1000)
    sent_digests(1000, NOW - dt.timedelta(days=40))
    events("complained", 4)
    events("bounced", 10)
    events("complained", 50, NOW - dt.timedelta(days=40))
    events("delivered", 900)
    rates = dashboard.delivery_rates(NOW)
    assert (rates["complaint"].count, rates["complaint"].sent) == (4, 1000)
    assert rates["complaint"].level == "danger"  # 0.4% is over the 0.3% line
    assert rates["bounce"].percent == "1.00%"
    assert rates["bounce"].level == "ok"


@pytest.mark.django_db
def test_latest_errors_list_failed_runs_and_digests_newest_first():
    old = admin_rows.source_run()
    new = admin_rows.source_run()
    SourceRun.objects.filter(pk=old.pk).update(started_at=NOW - dt.timedelta(days=2))
    admin_rows.source_run()
    SourceRun.objects.create(source=admin_rows.source(), day=NOW.date(), status="ok")
    failed = admin_rows.digest(Digest.Status.FAILED, error="refused")
    errors = dashboard.latest_errors(limit=2)
    assert len(errors["runs"]) == 2 and old not in errors["runs"] and new in errors["runs"]
    assert errors["digests"] == [failed]


@pytest.mark.django_db
def test_the_admin_index_is_the_dashboard_and_flags_a_complaint_rate_over_the_line(client):
    client.force_login(User.objects.create_superuser("operator@example.org"))
    now = timezone.now()
    sent_digests(100, now)
    events("complained", 1, now)  # 1%: far over 0.3%
    admin_rows.source_run()
    page = client.get("/admin/").content.decode()
    assert 'id="pw-complaint-rate">1.00%' in page
    assert "pw-danger" in page
    assert "0.3% line that large mailbox providers enforce" in page
    assert "HTTP 503" in page  # the latest failed run
    assert "/admin/accounts/subscriber/?status__exact=pending" in page
    assert "Subscribers" in page and "Digests today" in page


@pytest.mark.django_db
def test_a_healthy_complaint_rate_is_not_flagged(client):
    client.force_login(User.objects.create_superuser("operator@example.org"))
    sent_digests(2000, timezone.now())
    page = client.get("/admin/").content.decode()
    assert 'class="pw-num pw-ok" id="pw-complaint-rate">0.00%' in page
    assert "enforce: mail from this server" not in page


@pytest.mark.django_db
def test_the_dashboard_takes_the_same_queries_whatever_the_volume(
    client, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(User.objects.create_superuser("operator@example.org"))
    admin_rows.source_run()
    admin_rows.digest(Digest.Status.FAILED)
    with CaptureQueriesContext(connection) as small:
        client.get("/admin/")
    for _ in range(10):
        admin_rows.source_run()
        admin_rows.digest(Digest.Status.FAILED)
        admin_rows.subscriber(status=Subscriber.Status.PAUSED)
    clear_cache()  # the rates are cached for a few minutes: measure them again too
    with django_assert_num_queries(len(small)):
        client.get("/admin/")
