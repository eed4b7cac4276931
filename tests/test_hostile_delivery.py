"""Faults while sending, each test named for the fault: the provider failing, throttling or
refusing, the database failing mid-send, concurrent senders, a beat that was down, and
daylight-saving days. Real Anymail Postmark backend against the loopback stand-in; the
unit of work (``send_digest_chunk``, ``dispatch_due``) is called directly with an explicit
clock. Faults that need real worker processes are in test_hostile_workers.py."""

from __future__ import annotations

import datetime as dt
import random
import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import OperationalError, connection

from accounts.models import Subscriber
from digest.mail import delivery, lookup, throttle
from digest.models import Digest, Suppression
from digest.tasks import send_digest_chunk
from tests.support.delivery_world import (
    NOW,
    due_subscribers,
    list_papers,
    postmark_settings,
    sending_to,
)
from tests.support.fake_provider import CUT, running
from tests.support.processes import wait_for

LEASE = dt.timedelta(seconds=60)  # DIGEST_LEASE_SECONDS' default


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
def test_a_request_cut_off_mid_body_is_retried_and_the_message_kept_once(provider, settings):
    settings.SEND_RETRY_BACKOFF = 0.01
    list_papers()
    (ada,) = due_subscribers(1)
    provider.script(CUT)  # the connection drops with half the body sent: nothing received

    assert delivery.send_chunk([ada.pk], NOW).counts == {"sent": 1}

    assert provider.cut == 1
    assert provider.recipients() == {ada.email: 1}


@pytest.mark.django_db
def test_a_read_timeout_is_not_retried_because_the_provider_may_have_accepted_it():
    list_papers()
    (ada,) = due_subscribers(1)
    with running(latency=1.0) as slow:
        anymail = {**postmark_settings(slow.url)["ANYMAIL"], "REQUESTS_TIMEOUT": 0.2}
        with sending_to(slow.url, ANYMAIL=anymail):
            report = delivery.send_chunk([ada.pk], NOW)

        assert report.counts == {"unknown": 1}
        assert len(slow.calls) == 1  # one request: sending again could deliver it twice
    digest = Digest.objects.get(subscriber=ada)
    assert digest.status == Digest.Status.UNKNOWN and "may have been sent" in digest.error


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
def test_a_chunk_outliving_its_time_starts_no_send_after_it_and_releases_the_rest(settings):
    settings.DIGEST_CHUNK_SECONDS = 1  # stop starting sends after 1 s
    list_papers()
    people = due_subscribers(5)
    with running(latency=0.5) as slow, sending_to(slow.url, SEND_CONCURRENCY=1):
        report = delivery.send_chunk([p.pk for p in people], NOW)

        assert report.counts["sent"] >= 1 and report.counts["retry"] >= 1
        assert report.counts["sent"] + report.counts["retry"] == 5
        assert len(slow.calls) == report.counts["sent"]  # the rest never reached it
    released = Digest.objects.filter(status=Digest.Status.CLAIMED)
    assert all("time ran out" in d.error for d in released)


@pytest.fixture
def crashed_chunk(monkeypatch):
    """``crashed_chunk(crash, count)``: the day's papers listed, ``count`` subscribers due,
    and their chunk sent at NOW by a worker that ``crash`` makes die mid-send. Returns the
    subscribers; the patches are gone once it returns, as in the worker that takes over."""

    def crash_a_chunk(crash, count: int = 1) -> list[Subscriber]:
        list_papers()
        people = due_subscribers(count)
        with monkeypatch.context() as patch:
            crash(patch)
            with pytest.raises((ZeroDivisionError, OperationalError)):
                delivery.send_chunk([p.pk for p in people], NOW)
        return people

    return crash_a_chunk


def crash_when_the_database_goes_before_the_mark(patch) -> None:
    """The provider accepted; the database connection dies before the answer is written."""

    def database_gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    patch.setattr(delivery, "_record", database_gone)


def crash_after_the_answer_before_the_mark(patch) -> None:
    """The worker dies between the provider's answer and writing it down."""
    patch.setattr(delivery, "_accepted", lambda *args: None)
    patch.setattr(delivery, "_record", lambda *args: 1 / 0)


def crash_after_leaving_before_the_request(patch) -> None:
    """The worker dies after writing "leaving", before its request went out."""

    def hand_off(messages, *, before_send, **kwargs):
        before_send([key for key, _ in messages])
        raise ZeroDivisionError

    patch.setattr(delivery, "hand_off", hand_off)


@pytest.mark.django_db
def test_a_take_over_records_what_the_provider_accepted_without_sending_it_again(
    provider, crashed_chunk, caplog
):
    people = crashed_chunk(crash_when_the_database_goes_before_the_mark, 3)
    ids = [p.pk for p in people]

    assert len(provider.accepted) == 3  # the provider has them; our commit did not happen
    assert Digest.objects.filter(status=Digest.Status.CLAIMED).count() == 3
    # Within the lease nobody touches the claims.
    assert delivery.send_chunk(ids, NOW + LEASE / 2).counts == {"not_ours": 3}

    after_lease = delivery.send_chunk(ids, NOW + LEASE + dt.timedelta(seconds=1))

    # Counted as what they are: recovered from the rows' acceptance marks, none sent now.
    assert after_lease.counts == {"recovered": 3}
    assert "chunk taking over earlier claims: 3 recovered" in caplog.text
    assert sorted(provider.recipients().values()) == [1, 1, 1]  # recorded, not sent again
    for digest in Digest.objects.all():
        assert digest.status == "sent" and digest.message_id and digest.items.exists()


@pytest.mark.django_db
def test_a_worker_lost_after_its_request_reached_the_provider_is_not_sent_twice(
    provider, crashed_chunk
):
    """The request reached the provider and the worker died before recording the answer
    (SIGKILL 0 to 163 ms into the request, in the issue): the take-over asks the provider,
    which holds it, and records it as sent without sending it again."""
    (ada,) = crashed_chunk(crash_after_the_answer_before_the_mark)
    assert provider.recipients() == {ada.email: 1}

    report = delivery.send_chunk([ada.pk], NOW + LEASE + dt.timedelta(seconds=1))

    assert report.counts == {"found": 1}
    assert provider.recipients() == {ada.email: 1}
    digest = Digest.objects.get(subscriber=ada)
    assert digest.status == "sent" and digest.message_id == provider.accepted[0].message_id
    assert digest.items.exists()


@pytest.mark.django_db
def test_a_worker_lost_before_its_request_left_is_sent_once_after_asking_the_provider(
    provider, crashed_chunk
):
    (ada,) = crashed_chunk(crash_after_leaving_before_the_request)
    assert provider.calls == []

    report = delivery.send_chunk([ada.pk], NOW + LEASE + dt.timedelta(seconds=1))

    assert report.counts == {"sent": 1}
    assert provider.recipients() == {ada.email: 1}


@pytest.mark.django_db
def test_a_digest_that_may_be_at_a_provider_that_cannot_be_asked_is_held_as_unknown(
    crashed_chunk, mailoutbox, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # no lookup
    (ada,) = crashed_chunk(crash_after_leaving_before_the_request)

    later = NOW + LEASE + dt.timedelta(seconds=1)
    report = delivery.send_chunk([ada.pk], later)

    assert report.counts == {"unknown": 1}
    assert mailoutbox == []  # never sent again by itself
    digest = Digest.objects.get(subscriber=ada)
    assert digest.status == Digest.Status.UNKNOWN and "cannot be asked" in digest.error
    assert delivery.due_subscriber_ids(later) == []  # finished: the next send is scheduled


@pytest.mark.django_db
def test_a_provider_search_that_fails_is_asked_again_next_tick_then_the_digest_is_unknown(
    provider, crashed_chunk, monkeypatch, settings
):
    settings.DIGEST_MAX_ATTEMPTS = 2
    (ada,) = crashed_chunk(crash_after_leaving_before_the_request)

    def search_down(digest_id):
        raise lookup.LookupFailed("Postmark message search: 503")

    monkeypatch.setitem(lookup.FINDERS, settings.EMAIL_BACKEND, search_down)
    ticks = [NOW + LEASE + dt.timedelta(minutes=5 * i, seconds=1) for i in range(3)]
    reports = [delivery.send_chunk([ada.pk], tick).counts for tick in ticks]

    assert reports == [{"retry": 1}, {"unknown": 1}, {}]
    assert provider.calls == []
    assert Digest.objects.get(subscriber=ada).status == Digest.Status.UNKNOWN


@pytest.mark.django_db
def test_a_killed_chunks_digests_are_taken_over_within_two_minutes_by_default(
    provider, crashed_chunk, settings
):
    # Defaults: a lease of a minute (renewed while the chunk runs) and a tick a minute.
    assert settings.DIGEST_LEASE_SECONDS + settings.DISPATCH_EVERY_SECONDS <= 120
    people = crashed_chunk(crash_after_leaving_before_the_request, 3)
    ids = [p.pk for p in people]

    tick = NOW + dt.timedelta(seconds=settings.DIGEST_LEASE_SECONDS + 1)
    assert delivery.due_subscriber_ids(tick) == ids
    assert delivery.send_chunk(ids, tick).counts == {"sent": 3}
    assert provider.recipients() == {p.email: 1 for p in people}


@pytest.mark.django_db(transaction=True)
def test_a_chunk_keeps_its_claims_while_it_runs_longer_than_its_lease(settings):
    settings.DIGEST_LEASE_SECONDS = 1
    list_papers()
    people = due_subscribers(3)
    ids = [p.pk for p in people]
    with running() as fake, sending_to(fake.url, SEND_CONCURRENCY=1):
        fake.hold_after(1)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=1) as pool:
            first = pool.submit(send_chunk_in_thread, ids)
            wait_for(lambda: fake.parked, timeout=30)
            time.sleep(2.5)  # two and a half leases: renewed meanwhile, never run out
            now = NOW + dt.timedelta(seconds=time.monotonic() - started)

            assert delivery.due_subscriber_ids(now) == []
            assert delivery.send_chunk(ids, now).counts == {"not_ours": 3}
            fake.release()
            assert first.result(timeout=30) == {"sent": 3}
        assert fake.recipients() == {p.email: 1 for p in people}


def send_chunk_in_thread(ids: list[int]) -> dict:
    try:
        return dict(delivery.send_chunk(ids, NOW).counts)
    finally:
        connection.close()


@pytest.mark.django_db
def test_a_digest_sent_on_a_later_attempt_keeps_no_earlier_error(provider, settings):
    settings.SEND_RETRIES = 0
    list_papers()
    (ada,) = due_subscribers(1)
    provider.script(503)
    assert delivery.send_chunk([ada.pk], NOW).counts == {"retry": 1}
    assert "503" in Digest.objects.get(subscriber=ada).error

    assert delivery.send_chunk([ada.pk], NOW + dt.timedelta(minutes=5)).counts == {"sent": 1}

    digest = Digest.objects.get(subscriber=ada)
    assert digest.status == "sent" and digest.error == ""


@pytest.mark.django_db
def test_the_cache_failing_mid_send_still_records_the_chunk_and_sends_nothing_twice(
    provider, monkeypatch
):
    list_papers()
    people = due_subscribers(3)
    ids = [p.pk for p in people]

    class CacheDown:
        def __getattr__(self, name):
            raise ConnectionError("Redis went away")

    # The shared rate limit fails open (and says so); the marks are in the database.
    monkeypatch.setattr(throttle, "cache", CacheDown())

    assert delivery.send_chunk(ids, NOW).counts == {"sent": 3}
    assert delivery.send_chunk(ids, NOW + LEASE * 2).counts == {}
    assert sorted(provider.recipients().values()) == [1, 1, 1]


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
        assert person.next_send_at is not None
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
