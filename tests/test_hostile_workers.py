"""Faults that depend on real Celery worker processes and the real broker: a worker killed
with SIGKILL mid-batch, two dispatches racing on two worker processes, and queue messages
lost after dispatch. Workers send through the real Anymail Postmark backend to the
loopback stand-in, whose URL they get in their environment; like a real provider, the
stand-in keeps every request it received whole, whether or not its sender lived to read
the answer."""

from __future__ import annotations

import datetime as dt

import pytest

from config.celery import app
from digest.mail import delivery
from digest.models import Digest
from digest.tasks import dispatch_due, ping, send_digest_chunk
from tests.support.delivery_world import NOW, due_subscribers, list_papers, postmark_env, sending_to
from tests.support.fake_provider import running
from tests.support.processes import stop, wait_for
from tests.support.workers import celery_worker, purge_queue

LEASE = dt.timedelta(seconds=60)  # DIGEST_LEASE_SECONDS' default


@pytest.mark.worker
def test_a_worker_killed_with_sigkill_mid_batch_loses_nothing_and_sends_nothing_twice(
    transactional_db,
):
    list_papers()
    people = due_subscribers(12)
    ids = [p.pk for p in people]
    accepted = Digest.objects.filter(sent_at__isnull=False)
    with running() as provider, sending_to(provider.url):
        provider.hold_after(5)  # five messages are answered, the next ones hang
        with celery_worker(1, purge=True, **postmark_env(provider.url)) as worker:
            send_digest_chunk.delay(ids, NOW.isoformat())
            wait_for(lambda: provider.parked and accepted.count() == 5, timeout=60)
            in_flight = provider.parked  # received whole, waiting for their answer
            stop(worker, kill=True)  # mid-batch, requests in flight
        wait_for(lambda: provider.parked == 0, timeout=30)
        provider.release()
        # A real provider keeps a message whose sender died before reading the answer.
        assert len(provider.accepted) == 5 + in_flight
        assert Digest.objects.filter(status=Digest.Status.CLAIMED).count() == 12

        # The next dispatch tick after the lease takes the dead worker's claims over: the
        # five answered are recorded from their rows, the in-flight ones found by asking
        # the provider, and only the rest are sent.
        later = NOW + LEASE + dt.timedelta(minutes=1)
        report = delivery.send_chunk(delivery.due_subscriber_ids(later), later)

        assert report.counts == {"recovered": 5, "found": in_flight, "sent": 12 - 5 - in_flight}
        assert provider.recipients() == {p.email: 1 for p in people}
    assert Digest.objects.filter(status=Digest.Status.SENT).count() == 12


@pytest.mark.worker
def test_two_dispatches_at_once_on_two_worker_processes_send_each_digest_once(transactional_db):
    list_papers()
    people = due_subscribers(24)
    with running() as provider:
        env = {**postmark_env(provider.url), "DIGEST_CHUNK_SIZE": "8"}
        with celery_worker(2, purge=True, **env) as workers:
            # Two beats, or one tick delivered twice: both dispatch every due subscriber.
            ticks = [
                dispatch_due.apply_async((NOW.isoformat(),), ignore_result=False) for _ in range(2)
            ]
            assert [tick.get(timeout=60) for tick in ticks] != [0, 0]
            wait_for(lambda: Digest.objects.filter(status="sent").count() == 24, timeout=60)
            # Both processes answering a ping: every chunk queued before has been taken.
            assert [p.get(timeout=60) for p in [ping.delay(), ping.delay()]] == ["pong"] * 2
            wait_for(lambda: not Digest.objects.filter(status="claimed").exists(), timeout=30)
            # All work is done; a warm shutdown on the SQLite broker can take 20 s.
            stop(workers, kill=True)

        assert provider.recipients() == {p.email: 1 for p in people}


@pytest.mark.django_db
def test_lost_queue_messages_are_rebuilt_from_the_database_on_the_next_tick():
    list_papers()
    people = due_subscribers(6)
    with running() as provider, sending_to(provider.url, DIGEST_CHUNK_SIZE=2):
        purge_queue()
        assert dispatch_due(NOW.isoformat()) == 6  # three chunk tasks on the broker...
        purge_queue()  # ... lost, as when Redis restarts without persistence

        assert provider.calls == []
        assert delivery.due_subscriber_ids(NOW) == [p.pk for p in people]

        app.conf.task_always_eager = True  # the next tick's chunks run right here
        try:
            dispatch_due((NOW + dt.timedelta(minutes=5)).isoformat())
        finally:
            app.conf.task_always_eager = False

        assert provider.recipients() == {p.email: 1 for p in people}
