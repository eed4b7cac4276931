"""Faults while sending, each test named for the fault: the provider failing, throttling or
refusing, the database failing mid-send, concurrent senders, a beat that was down, and
daylight-saving days. Real Anymail Postmark backend against the loopback stand-in; the
unit of work (``send_digest_chunk``, ``dispatch_due``) is called directly with an explicit
clock. Faults that need real worker processes are in test_hostile_workers.py."""

from __future__ import annotations

import datetime as dt
import random
import socket
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import OperationalError, connection

from accounts.models import Subscriber
from digest.mail import delivery
from digest.models import Digest, Suppression
from digest.tasks import send_digest_chunk
from tests.support.caching import clear_cache
from tests.support.delivery_world import (
    NOW,
    due_subscribers,
    list_papers,
    postmark_settings,
    sending_to,
)
from tests.support.fake_provider import running

LEASE = dt.timedelta(minutes=15)


@pytest.fixture
def provider():
    with running() as fake, sending_to(fake.url, SEND_CONCURRENCY=1):
        yield fake


def statuses(provider) -> list[int]:
    return [call.status for call in provider.calls]


@pytest.mark.django_db
def test_provider_answering_500_then_502_then_200_sends_one_message_after_backing_off(
    provider, settings
):
    settings.SEND_RETRY_BACKOFF = 0.2
    list_papers()
    (ada,) = due_subscribers(1)
    provider.script(500, 502)

    report = delivery.send_chunk([ada.pk], NOW)

    assert report.counts == {"sent": 1}
    assert statuses(provider) == [500, 502, 200]
    assert provider.recipients() == {ada.email: 1}
    first, second, third = (call.at for call in provider.calls)
    assert second - first >= 0.2 and third - second >= 0.4  # backoff doubles
    assert Digest.objects.get(subscriber=ada).status == Digest.Status.SENT


@pytest.mark.django_db
def test_provider_answering_429_with_retry_after_pauses_sending_and_nothing_is_marked_failed(
    provider, settings
):
    settings.SEND_RETRIES = 1
    list_papers()
    people = due_subscribers(3)
    throttled = [(429, {"Retry-After": "1"})] * 2
    provider.script(*throttled)  # the first message is throttled twice: out of retries

    report = delivery.send_chunk([p.pk for p in people], NOW)

    assert report.counts == {"sent": 2, "retry": 1}
    # No hot loop: each 429 was followed by a pause of Retry-After, and nothing more.
    assert statuses(provider) == [429, 429, 200, 200]
    gaps = [b.at - a.at for a, b in zip(provider.calls, provider.calls[1:], strict=False)]
    assert min(gaps[:2]) >= 1.0
    assert not Digest.objects.filter(status=Digest.Status.FAILED).exists()
    # The throttled digest is released, not failed: still due, taken again next tick.
    held = Digest.objects.get(status=Digest.Status.CLAIMED)
    assert held.subscriber_id in delivery.due_subscriber_ids(NOW + dt.timedelta(minutes=5))

    later = delivery.send_chunk([held.subscriber_id], NOW + dt.timedelta(minutes=5))

    assert later.counts == {"sent": 1}
    assert sorted(provider.recipients().values()) == [1, 1, 1]


@pytest.mark.django_db
def test_a_recipient_refused_permanently_is_failed_with_the_reason_and_the_rest_is_sent(
    provider,
):
    list_papers()
    people = due_subscribers(3)
    provider.refuse(people[1].email)

    report = delivery.send_chunk([p.pk for p in people], NOW)

    assert report.counts == {"sent": 2, "failed": 1}
    assert [call.to for call in provider.calls].count(people[1].email) == 1  # no retry
    failed = Digest.objects.get(subscriber=people[1])
    assert failed.status == Digest.Status.FAILED
    assert "inactive" in failed.error.lower()
    # Not retried on the next tick either: suppressed, so no longer scheduled.
    assert delivery.due_subscriber_ids(NOW + dt.timedelta(minutes=5)) == []


@pytest.mark.django_db
def test_a_recipient_the_provider_calls_inactive_is_suppressed_like_a_hard_bounce(provider):
    list_papers()
    people = due_subscribers(2)
    provider.refuse(people[1].email)

    delivery.send_chunk([p.pk for p in people], NOW)

    suppression = Suppression.objects.get()
    assert (suppression.email, suppression.reason) == (people[1].email, "bounced")
    assert Subscriber.objects.get(pk=people[1].pk).status == Subscriber.Status.SUPPRESSED
    assert Subscriber.objects.get(pk=people[0].pk).status == Subscriber.Status.ACTIVE


@pytest.mark.django_db
def test_a_message_refused_for_its_own_fault_fails_without_suppressing_anyone(provider):
    list_papers()
    (ada,) = due_subscribers(1)
    invalid_from = {"ErrorCode": 300, "Message": "Invalid 'From' address: 'papers@localhost'."}
    provider.script((422, {}, invalid_from))

    report = delivery.send_chunk([ada.pk], NOW)

    assert report.counts == {"failed": 1}
    assert "Invalid 'From' address" in Digest.objects.get(subscriber=ada).error
    assert not Suppression.objects.exists()
    assert Subscriber.objects.get(pk=ada.pk).status == Subscriber.Status.ACTIVE


@pytest.mark.django_db
def test_a_provider_down_for_every_attempt_fails_the_digest_only_after_the_last_attempt(
    provider, settings
):
    settings.SEND_RETRIES = 0
    settings.DIGEST_MAX_ATTEMPTS = 2
    list_papers()
    (ada,) = due_subscribers(1)
    provider.script(503, 503, 503)

    ticks = [NOW + dt.timedelta(minutes=5 * i) for i in range(3)]
    reports = [delivery.send_chunk([ada.pk], tick).counts for tick in ticks]

    assert reports == [{"retry": 1}, {"retry": 1}, {"failed": 1}]
    digest = Digest.objects.get(subscriber=ada)
    assert digest.status == Digest.Status.FAILED
    assert "gave up after 2 attempts" in digest.error and "503" in digest.error
    assert provider.recipients() == {}


@pytest.mark.django_db
def test_a_read_timeout_is_not_retried_because_the_provider_may_have_accepted_it():
    list_papers()
    (ada,) = due_subscribers(1)
    with running(latency=1.0) as slow:
        anymail = {**postmark_settings(slow.url)["ANYMAIL"], "REQUESTS_TIMEOUT": 0.2}
        with sending_to(slow.url, ANYMAIL=anymail):
            report = delivery.send_chunk([ada.pk], NOW)

        assert report.counts == {"failed": 1}
        assert len(slow.calls) == 1  # one request: sending again could deliver it twice
    digest = Digest.objects.get(subscriber=ada)
    assert "may have been sent" in digest.error


@pytest.mark.django_db
def test_a_provider_refusing_connections_leaves_the_digest_for_the_next_tick():
    list_papers()
    (ada,) = due_subscribers(1)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    with sending_to(closed, SEND_RETRIES=2):
        assert delivery.send_chunk([ada.pk], NOW).counts == {"retry": 1}

    digest = Digest.objects.get(subscriber=ada)
    assert digest.status == Digest.Status.CLAIMED and "ConnectionError" in digest.error
    assert delivery.due_subscriber_ids(NOW + dt.timedelta(minutes=5)) == [ada.pk]


@pytest.mark.django_db
def test_a_chunk_outliving_its_lease_starts_no_send_after_it_and_releases_the_rest(settings):
    settings.DIGEST_LEASE_SECONDS = 1  # stop starting sends after 0.9 s
    list_papers()
    people = due_subscribers(5)
    with running(latency=0.5) as slow, sending_to(slow.url, SEND_CONCURRENCY=1):
        report = delivery.send_chunk([p.pk for p in people], NOW)

        assert report.counts["sent"] >= 1 and report.counts["retry"] >= 1
        assert report.counts["sent"] + report.counts["retry"] == 5
        assert len(slow.calls) == report.counts["sent"]  # the rest never reached it
    released = Digest.objects.filter(status=Digest.Status.CLAIMED)
    assert all("lease ran out" in d.error for d in released)


@pytest.mark.django_db
def test_a_database_error_mid_send_leaves_the_claim_to_be_taken_over_after_the_lease(
    provider, monkeypatch
):
    list_papers()
    people = due_subscribers(3)
    ids = [p.pk for p in people]

    def database_gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    with monkeypatch.context() as patch:
        patch.setattr(delivery, "_record", database_gone)
        with pytest.raises(OperationalError):
            delivery.send_chunk(ids, NOW)

    assert len(provider.accepted) == 3  # the provider has them; our commit did not happen
    assert Digest.objects.filter(status=Digest.Status.CLAIMED).count() == 3
    # Within the lease nobody touches the claims.
    assert delivery.send_chunk(ids, NOW + dt.timedelta(minutes=5)).counts == {"not_ours": 3}

    after_lease = delivery.send_chunk(ids, NOW + LEASE + dt.timedelta(seconds=1))

    assert after_lease.counts == {"sent": 3}
    assert sorted(provider.recipients().values()) == [1, 1, 1]  # recorded, not sent again
    for digest in Digest.objects.all():
        assert digest.message_id and digest.items.exists()


@pytest.mark.django_db
def test_the_cache_failing_mid_send_still_records_the_chunk_and_sends_nothing_twice(
    provider, monkeypatch
):
    list_papers()
    people = due_subscribers(3)
    ids = [p.pk for p in people]

    def cache_down(*args, **kwargs):
        raise ConnectionError("Redis went away")

    # Acceptance markers fail. (The fixture sends from one thread, this one, whose cache
    # connection is the one patched.)
    monkeypatch.setattr(delivery.cache, "set", cache_down)

    assert delivery.send_chunk(ids, NOW).counts == {"sent": 3}
    assert delivery.send_chunk(ids, NOW + LEASE * 2).counts == {}
    assert sorted(provider.recipients().values()) == [1, 1, 1]


@pytest.mark.django_db
def test_the_documented_window_accepted_then_crashed_and_cache_lost_sends_again(
    provider, monkeypatch
):
    """docs/delivery.md: the one window left open. If the process dies after the provider
    accepted a message *and* the cache lost the acceptance marker, the digest is sent a
    second time after the lease: at least once, never lost."""
    list_papers()
    (ada,) = due_subscribers(1)
    with monkeypatch.context() as patch:
        patch.setattr(delivery, "_record", lambda *a, **k: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            delivery.send_chunk([ada.pk], NOW)
    clear_cache()  # the markers are lost with it

    delivery.send_chunk([ada.pk], NOW + LEASE + dt.timedelta(seconds=1))

    assert provider.recipients() == {ada.email: 2}


@pytest.mark.django_db
def test_unsubscribing_between_dispatch_and_send_means_not_sent(provider):
    list_papers()
    people = due_subscribers(2)
    dispatched = delivery.due_subscriber_ids(NOW)
    Subscriber.objects.filter(pk=people[0].pk).update(status=Subscriber.Status.UNSUBSCRIBED)

    send_digest_chunk(dispatched, NOW.isoformat())

    assert list(provider.recipients()) == [people[1].email]
    assert not Digest.objects.filter(subscriber=people[0]).exists()


@pytest.mark.django_db
def test_beat_down_for_six_hours_sends_each_missed_digest_once_not_once_per_tick(provider):
    list_papers()
    # Due at 07:00, 08:00, ... 12:00 UTC, all missed while beat was down.
    people = [
        due_subscribers(1, prefix=f"h{hour}-", send_hour=hour, next_send_at=NOW.replace(hour=hour))[
            0
        ]
        for hour in range(7, 13)
    ]
    back = NOW + dt.timedelta(hours=6, minutes=2)

    for tick in range(6):  # beat back: a tick every five minutes for half an hour
        now = back + dt.timedelta(minutes=5 * tick)
        send_digest_chunk(delivery.due_subscriber_ids(now), now.isoformat())

    assert provider.recipients() == {p.email: 1 for p in people}
    for person in people:
        person.refresh_from_db()
        assert person.next_send_at.date() == NOW.date() + dt.timedelta(days=1)
        assert list(person.digests.values_list("edition", flat=True)) == [NOW.date()]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("zone", "hour", "change"),
    [
        # 8 March 2026: 02:00 does not exist in New York (spring forward).
        ("America/New_York", 2, dt.date(2026, 3, 8)),
        # 29 March: London springs forward at 01:00.
        ("Europe/London", 1, dt.date(2026, 3, 29)),
        # 5 April: 02:00 happens twice in Sydney (fall back).
        ("Australia/Sydney", 2, dt.date(2026, 4, 5)),
    ],
)
def test_daylight_saving_days_in_three_time_zones_give_one_digest_per_local_day(
    provider, zone, hour, change
):
    start = dt.datetime.combine(change - dt.timedelta(days=2), dt.time(), tzinfo=dt.UTC)
    (person,) = due_subscribers(1, time_zone=zone, send_hour=hour)
    person.schedule_next(after=start)
    person.save()

    tick = start
    for _ in range(5 * 24):  # a beat tick every hour, at five past, for five days
        tick += dt.timedelta(hours=1)
        now = tick + dt.timedelta(minutes=5)
        due = delivery.due_subscriber_ids(now)
        if due:
            send_digest_chunk(due, now.isoformat())

    editions = list(person.digests.order_by("edition").values_list("edition", flat=True))
    first = editions[0]
    assert editions == [first + dt.timedelta(days=n) for n in range(len(editions))]
    assert change in editions and len(editions) >= 5


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_senders_racing_for_1000_due_digests_send_exactly_1000_messages(
    settings,
):
    settings.SEND_CONCURRENCY = 8
    list_papers()
    people = due_subscribers(1000, max_papers=2)
    ids = [p.pk for p in people]
    chunked = delivery.chunks(ids, 125)

    def sender(seed: int) -> Counter:
        # Each sender runs the real task over every chunk, in its own order.
        order = chunked[:]
        random.Random(seed).shuffle(order)
        try:
            return sum(
                (Counter(send_digest_chunk(chunk, NOW.isoformat())) for chunk in order), Counter()
            )
        finally:
            connection.close()

    with running() as fake, sending_to(fake.url):
        with ThreadPoolExecutor(max_workers=8) as pool:
            totals = sum(pool.map(sender, range(8)), Counter())

        assert len(fake.accepted) == 1000
        assert set(fake.recipients().values()) == {1}
    assert totals["sent"] == 1000
    assert Digest.objects.filter(status=Digest.Status.SENT).count() == 1000
