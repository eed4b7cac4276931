"""Signups never confirmed are deleted after UNCONFIRMED_DELETE_AFTER_DAYS, daily by beat."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Consent, Subscriber
from accounts.tasks import delete_unconfirmed
from config.celery import app
from digest.models import EmailEvent, Suppression

Status = Subscriber.Status


def signup(email: str, days_ago: int, **fields) -> Subscriber:
    at = timezone.now() - dt.timedelta(days=days_ago)
    subscriber = Subscriber.objects.create(email=email, created_at=at, **fields)
    Consent.objects.create(subscriber=subscriber, action="signup", created_at=at)
    return subscriber


@pytest.mark.django_db
def test_it_deletes_signups_pending_past_the_limit_with_their_data_but_keeps_suppressions(
    settings,
):
    settings.UNCONFIRMED_DELETE_AFTER_DAYS = 30
    old = signup("old@example.org", days_ago=31)
    EmailEvent.objects.create(event_type="bounced", recipient=old.email)
    Suppression.objects.create(email=old.email, reason="bounced")
    signup("recent@example.org", days_ago=29)
    # An old signup that asked for a fresh link yesterday keeps it working.
    signup("relinked@example.org", days_ago=40, confirmation_sent_at=timezone.now())
    signup("confirmed@example.org", days_ago=90, status=Status.ACTIVE)
    signup("paused@example.org", days_ago=90, status=Status.PAUSED)

    assert delete_unconfirmed() == 1
    assert delete_unconfirmed() == 0  # idempotent

    assert set(Subscriber.objects.values_list("email", flat=True)) == {
        "recent@example.org",
        "relinked@example.org",
        "confirmed@example.org",
        "paused@example.org",
    }
    assert Consent.objects.count() == 4
    assert not EmailEvent.objects.exists()
    assert Suppression.objects.get().email == "old@example.org"


def test_beat_runs_the_deletion_daily_at_the_configured_hour(settings):
    app.finalize()
    entry = app.conf.beat_schedule["delete-unconfirmed-subscribers"]
    assert entry["task"] == delete_unconfirmed.name == "accounts.tasks.delete_unconfirmed"
    assert entry["schedule"].hour == {settings.UNCONFIRMED_DELETE_HOUR_UTC}
    assert entry["task"] in app.tasks
