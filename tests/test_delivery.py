"""Claiming and sending digests through the real Anymail Postmark backend, against a
loopback server standing in for Postmark."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Subscriber
from digest import matching
from digest.mail import delivery
from digest.mail.handoff import Result, hand_off
from digest.models import Digest, DigestItem, Listing, Paper, Suppression
from digest.tasks import dispatch_due
from tests.support.delivery_world import (
    DAY,
    NOW,
    TOPIC_QUERY,
    due_subscribers,
    list_papers,
    sending_to,
)
from tests.support.fake_provider import running
from tests.support.workers import purge_queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider():
    with running() as fake, sending_to(fake.url):
        yield fake


def test_it_sends_a_due_subscriber_one_digest_through_postmark(provider):
    list_papers()
    (ada,) = due_subscribers(1)

    report = delivery.send_chunk([ada.pk], NOW)

    assert report.counts == {"sent": 1}
    (call,) = provider.calls
    assert call.path == "/email"
    assert call.headers["X-Postmark-Server-Token"] == "test-server-token"
    payload = call.payload
    assert payload["To"] == "reader0@example.org"
    assert payload["Subject"]
    assert payload["TextBody"] and payload["HtmlBody"]
    headers = {h["Name"]: h["Value"] for h in payload["Headers"]}
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Unsubscribe"].startswith("<http")
    digest = Digest.objects.get(subscriber=ada)
    assert payload["Metadata"] == {"digest_id": digest.pk}
    assert payload["Tag"] == "digest"
    assert digest.status == Digest.Status.SENT
    assert digest.edition == DAY
    assert digest.message_id and digest.subject == payload["Subject"]
    assert 0 < digest.items.count() <= ada.max_papers
    ada.refresh_from_db()
    assert ada.next_send_at == NOW + dt.timedelta(days=1)


def test_running_a_chunk_again_sends_nothing_more(provider):
    list_papers()
    people = due_subscribers(3)
    ids = [p.pk for p in people]

    delivery.send_chunk(ids, NOW)
    again = delivery.send_chunk(ids, NOW)

    assert again.counts == {}  # nobody is due any more
    assert sorted(provider.recipients().values()) == [1, 1, 1]


def test_a_subscriber_with_nothing_new_gets_no_email_and_a_skipped_digest(provider):
    (ada,) = due_subscribers(1)  # no papers listed at all

    report = delivery.send_chunk([ada.pk], NOW)

    assert report.counts == {"skipped": 1}
    assert provider.calls == []
    assert Digest.objects.get(subscriber=ada).status == Digest.Status.SKIPPED
    ada.refresh_from_db()
    assert ada.next_send_at is not None and ada.next_send_at > NOW


def test_a_paper_is_never_sent_to_the_same_subscriber_twice(provider):
    list_papers()
    (ada,) = due_subscribers(1, max_papers=50)
    delivery.send_chunk([ada.pk], NOW)
    # The same papers are listed again the next day (trending two days running).
    tomorrow = NOW + dt.timedelta(days=1)
    list_papers(DAY + dt.timedelta(days=1))

    delivery.send_chunk([ada.pk], tomorrow)

    assert Digest.objects.get(subscriber=ada, edition=tomorrow.date()).status == "skipped"
    sent = DigestItem.objects.filter(digest__subscriber=ada).values_list("paper_id", flat=True)
    assert len(sent) == len(set(sent))
    assert len(provider.calls) == 1


def test_a_first_digest_draws_on_papers_listed_since_the_day_before(provider):
    papers = list_papers()
    # Move every listing three days back: too old for a first digest.
    Listing.objects.update(day=DAY - dt.timedelta(days=3))
    (ada,) = due_subscribers(1)
    assert delivery.send_chunk([ada.pk], NOW).counts == {"skipped": 1}

    Listing.objects.filter(paper=papers[0]).update(day=DAY - dt.timedelta(days=1))
    (bob,) = due_subscribers(1, prefix="bob")
    delivery.send_chunk([bob.pk], NOW)
    assert list(DigestItem.objects.filter(digest__subscriber=bob).values_list("paper", flat=True))
    assert set(
        DigestItem.objects.filter(digest__subscriber=bob).values_list("paper", flat=True)
    ) <= {papers[0].pk}


def test_a_later_digest_draws_on_papers_listed_since_the_previous_edition(provider):
    list_papers()
    (ada,) = due_subscribers(1, max_papers=50)
    Digest.objects.create(
        subscriber=ada, edition=DAY - dt.timedelta(days=5), status=Digest.Status.SENT
    )
    Listing.objects.update(day=DAY - dt.timedelta(days=4))

    delivery.send_chunk([ada.pk], NOW)

    assert Digest.objects.get(subscriber=ada, edition=DAY).status == Digest.Status.SENT
    # Eight days without a digest: the window stops at seven days back.
    Digest.objects.filter(subscriber=ada).delete()
    Digest.objects.create(
        subscriber=ada, edition=DAY - dt.timedelta(days=10), status=Digest.Status.SENT
    )
    Listing.objects.update(day=DAY - dt.timedelta(days=8))
    ada.next_send_at = NOW
    ada.save()
    assert delivery.send_chunk([ada.pk], NOW).counts == {"skipped": 1}


def test_a_chunk_with_different_windows_builds_one_index_and_cuts_each_to_its_window(provider):
    list_papers()
    # The 15 papers spread over four listing days, newest first.
    days = [DAY - dt.timedelta(days=back) for back in (0, 1, 3, 6)]
    for n, paper in enumerate(Paper.objects.order_by("pk")):
        Listing.objects.filter(paper=paper).update(day=days[n % 4])
    (first,) = due_subscribers(1, prefix="first", max_papers=50)  # since the day before
    (recent,) = due_subscribers(1, prefix="recent", max_papers=3)  # since three days ago
    (weekly,) = due_subscribers(1, prefix="weekly", max_papers=5)  # the last seven days
    for person, back in ((recent, 3), (weekly, 7)):
        Digest.objects.create(
            subscriber=person, edition=DAY - dt.timedelta(days=back), status=Digest.Status.SENT
        )
    matching._cache.clear()  # so the indexes this chunk builds can be counted

    report = delivery.send_chunk([first.pk, recent.pk, weekly.pk], NOW)

    assert report.counts == {"sent": 3}
    (index,) = matching._cache.values()
    assert len(index.number) == Paper.objects.count()
    best = matching.match_topic(TOPIC_QUERY, Paper.objects.all())  # the same papers' scores
    listed = dict(Listing.objects.values_list("paper_id", "day"))
    for person, since in ((first, days[1]), (recent, days[2]), (weekly, days[3])):
        eligible = {m.paper.pk: m.score for m in best if listed[m.paper.pk] >= since}
        items = list(
            DigestItem.objects.filter(digest__subscriber=person).values_list("paper_id", "score")
        )
        scores = [score for _, score in items]
        assert len(items) == min(person.max_papers, len(eligible)) > 0
        assert {paper for paper, _ in items} <= eligible.keys()
        assert scores == sorted(scores, reverse=True)
        left_out = [s for paper, s in eligible.items() if paper not in dict(items)]
        assert max(left_out, default=0) <= min(scores)
    assert len(DigestItem.objects.filter(digest__subscriber=first)) < len(best)


def test_an_unsubscribed_paused_or_suppressed_subscriber_is_not_sent_to(provider):
    list_papers()
    people = due_subscribers(4)
    Subscriber.objects.filter(pk=people[0].pk).update(status=Subscriber.Status.UNSUBSCRIBED)
    Subscriber.objects.filter(pk=people[1].pk).update(status=Subscriber.Status.PAUSED)
    Suppression.objects.create(email=people[2].email, reason=Suppression.Reason.BOUNCED)

    report = delivery.send_chunk([p.pk for p in people], NOW)

    assert report.counts == {"sent": 1}
    assert list(provider.recipients()) == [people[3].email]


def test_a_subscriber_not_yet_due_is_left_for_later(provider):
    list_papers()
    (ada,) = due_subscribers(1, next_send_at=NOW + dt.timedelta(hours=1))

    assert delivery.send_chunk([ada.pk], NOW).counts == {}
    assert provider.calls == []
    assert delivery.due_subscriber_ids(NOW) == []
    assert delivery.due_subscriber_ids(NOW + dt.timedelta(hours=1)) == [ada.pk]


def test_a_digest_more_than_a_day_late_is_todays_edition_with_todays_papers(provider):
    list_papers()
    (ada,) = due_subscribers(1, next_send_at=NOW - dt.timedelta(days=9))

    assert delivery.send_chunk([ada.pk], NOW).counts == {"sent": 1}

    assert Digest.objects.get(subscriber=ada).edition == DAY
    ada.refresh_from_db()
    assert ada.next_send_at == NOW + dt.timedelta(days=1)


def test_forcing_sends_todays_edition_once_even_before_it_is_due(provider):
    list_papers()
    (ada,) = due_subscribers(1, send_hour=8, next_send_at=NOW + dt.timedelta(hours=1))

    assert delivery.send_chunk([ada.pk], NOW, force=True).counts == {"sent": 1}
    # At the scheduled hour the edition is already done: rescheduled, not sent again.
    ada.refresh_from_db()
    assert ada.next_send_at == NOW + dt.timedelta(hours=1)
    delivery.send_chunk([ada.pk], ada.next_send_at)
    assert len(provider.calls) == 1
    ada.refresh_from_db()
    assert ada.next_send_at == NOW + dt.timedelta(days=1, hours=1)


@pytest.mark.parametrize("count", [1, 50])
def test_a_chunk_takes_the_same_number_of_queries_for_1_or_50_subscribers(provider, count):
    list_papers()
    # Two papers each keeps the item insert (8 values an item) under SQLite's 999
    # parameters, the one thing that grows with the chunk: Django splits bulk inserts
    # above it (PostgreSQL has no such split), which is per ~120 items, never per subscriber.
    people = due_subscribers(count, max_papers=2)

    with CaptureQueriesContext(connection) as queries:
        report = delivery.send_chunk([p.pk for p in people], NOW)

    assert report.counts == {"sent": count}
    marks = [q for q in queries if _is_mark(q["sql"])]
    assert len(queries) - len(marks) == QUERIES_PER_CHUNK
    # "Leaving" and "accepted" marks are written as the sending threads get there: one
    # small UPDATE per batch of messages, never more than one per message.
    assert 2 <= len(marks) <= 2 * count


def _is_mark(sql: str) -> bool:
    return sql.startswith("UPDATE") and ('SET "sending_at"' in sql or 'SET "sent_at"' in sql)


# Load and their topics, claim (savepoint, insert, take-over, read back, release), last
# sent editions, papers, matching (3), subjects and items before the hand-off (2), final
# write (savepoint, digests' own values, their status, subscribers, release).
QUERIES_PER_CHUNK = 19


def test_a_later_chunk_reads_only_the_keys_of_papers_already_indexed(provider):
    list_papers()
    (ada,) = due_subscribers(1)
    (bob,) = due_subscribers(1, prefix="bob")
    delivery.send_chunk([ada.pk], NOW)  # builds the day's index in this process

    # The same queries, less the one reading whole papers (abstracts and all).
    with CaptureQueriesContext(connection) as queries:
        report = delivery.send_chunk([bob.pk], NOW)

    assert report.counts == {"sent": 1}
    assert len([q for q in queries if not _is_mark(q["sql"])]) == QUERIES_PER_CHUNK - 1
    assert list(Digest.objects.get(subscriber=bob).items.values_list("rank", flat=True))


@pytest.mark.parametrize("count", [1, 500])
def test_dispatch_takes_the_same_number_of_queries_for_1_or_500_due_subscribers(
    count, django_assert_num_queries
):
    due_subscribers(count)
    purge_queue()
    try:
        # Active subscribers without a send time, then the due ones; the chunk tasks go to
        # the broker, not the database.
        with django_assert_num_queries(2):
            queued = dispatch_due(NOW.isoformat())
    finally:
        purge_queue()  # no worker of another test should take these chunks

    assert queued == count


def test_dispatch_finds_due_subscribers_in_chunks_and_skips_live_claims(provider, settings):
    settings.DIGEST_CHUNK_SIZE = 2
    people = due_subscribers(5)
    Digest.objects.create(
        subscriber=people[0], edition=DAY, lease_expires_at=NOW + dt.timedelta(minutes=5)
    )

    ids = delivery.due_subscriber_ids(NOW)

    assert ids == [p.pk for p in people[1:]]
    assert delivery.chunks(ids) == [ids[:2], ids[2:]]


def test_preview_shows_what_would_be_sent_and_records_nothing(provider):
    list_papers()
    (ada,) = due_subscribers(1)

    rendered = delivery.preview_digest(ada, NOW)

    assert rendered is not None and rendered.subject and rendered.html and rendered.text
    assert not Digest.objects.exists()
    assert provider.calls == []


def test_preview_is_none_when_nothing_matches(provider):
    (ada,) = due_subscribers(1)
    assert delivery.preview_digest(ada, NOW) is None


def test_a_test_digest_goes_to_the_given_address_only_and_records_nothing(provider):
    list_papers(dt.date.today())
    (ada,) = due_subscribers(1)

    delivery.send_test_digest(ada, "operator@example.net")

    (call,) = provider.calls
    assert call.payload["To"] == "operator@example.net"
    assert not Digest.objects.exists()


def test_a_test_digest_with_nothing_to_show_says_so(provider):
    (ada,) = due_subscribers(1)
    with pytest.raises(delivery.NothingToSend):
        delivery.send_test_digest(ada, "operator@example.net")


def test_a_subscriber_with_a_broken_time_zone_is_still_sent_to(provider):
    list_papers()
    (ada,) = due_subscribers(1, time_zone="Mars/Olympus_Mons")

    assert delivery.send_chunk([ada.pk], NOW).counts == {"sent": 1}
    ada.refresh_from_db()
    assert ada.next_send_at is not None and ada.next_send_at > NOW


def test_papers_of_a_sent_digest_are_recorded_in_rank_order(provider):
    list_papers()
    (ada,) = due_subscribers(1)
    delivery.send_chunk([ada.pk], NOW)
    items = list(DigestItem.objects.filter(digest__subscriber=ada))
    assert [item.rank for item in items] == list(range(1, len(items) + 1))
    assert all(item.why for item in items)
    assert Paper.objects.filter(pk__in=[i.paper_id for i in items]).count() == len(items)
    assert json.loads(json.dumps(provider.calls[0].payload))  # the payload is plain JSON


def test_dispatch_gives_an_active_subscriber_without_a_send_time_one():
    (ada,) = due_subscribers(1, next_send_at=None)

    assert delivery.schedule_unscheduled(NOW) == 1

    ada.refresh_from_db()
    assert ada.next_send_at == NOW + dt.timedelta(days=1)


def test_it_sends_through_whichever_backend_is_configured(mailoutbox, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    list_papers()
    people = due_subscribers(3)

    assert delivery.send_chunk([p.pk for p in people], NOW).counts == {"sent": 3}

    assert sorted(m.to[0] for m in mailoutbox) == sorted(p.email for p in people)


class RecordingBackend(BaseEmailBackend):
    """Records which connection object sent from which thread."""

    used: list[tuple[int, int]] = []

    def send_messages(self, messages) -> int:
        RecordingBackend.used.append((id(self), threading.get_ident()))
        time.sleep(0.02)  # long enough for the threads to overlap
        return len(messages)


def test_each_sending_thread_has_its_own_connection(settings):
    settings.EMAIL_BACKEND = "tests.test_delivery.RecordingBackend"
    RecordingBackend.used = []
    messages = [(n, EmailMessage("s", "b", to=[f"r{n}@example.org"])) for n in range(12)]

    outcomes = hand_off(messages, concurrency=4)

    assert {o.result for o in outcomes.values()} == {Result.SENT}
    connections = {connection for connection, _ in RecordingBackend.used}
    threads = {thread for _, thread in RecordingBackend.used}
    # Shared by nobody: as many connections as threads, each used by one thread only.
    assert len(connections) == len(threads) > 1
    assert len(set(RecordingBackend.used)) == len(connections)
