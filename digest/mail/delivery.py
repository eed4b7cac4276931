"""Claiming and sending digests, exactly once per subscriber and edition.

The rules (docs/delivery.md explains them at length):

- A subscriber is due when active, not suppressed and ``next_send_at <= now``; the
  edition is their local date at ``next_send_at``, so a beat that was down for hours
  still sends each missed digest once, and the next send is scheduled after *now*.
- A worker claims (subscriber, edition) by inserting the unique ``Digest`` row with its
  own ``claim_token``, or by taking over a ``claimed`` row whose lease has expired (a
  conditional UPDATE); it then reads back the rows carrying its token. A row it did not
  win is someone else's.
- A subscriber stays due until their digest is finished (sent, skipped or failed), in
  the same transaction that advances ``next_send_at``: a lost queue message, a killed
  worker or a provider outage only delays the digest to a later dispatch tick.
- The moment the provider accepts a message, a marker goes into the cache; a worker
  taking over a claim finds it and records the digest as sent without sending again.
- Everything is done per chunk with a fixed number of queries, whatever its size.

Candidate papers: those with a Listing on or after the edition date of the subscriber's
previous sent digest (at most ``LOOKBACK_DAYS`` back; ``FIRST_DIGEST_DAYS`` for a first
digest), minus papers already sent to them (matching excludes those).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfoNotFoundError

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Max, OuterRef, Q, Subquery
from django.utils import timezone

from accounts.models import Subscriber
from accounts.schedule import local_date
from digest.mail.handoff import Outcome, Result, hand_off
from digest.mail.tracking import suppress
from digest.models import Digest, DigestItem, Paper, Suppression

logger = logging.getLogger(__name__)

LOOKBACK_DAYS = 7
FIRST_DIGEST_DAYS = 1  # a first digest covers the edition day and the day before
MARKER_TIMEOUT = 3 * 24 * 3600


class NothingToSend(ValueError):
    """The subscriber's topics match nothing new."""


class SendFailed(RuntimeError):
    """The provider did not accept a test digest."""


@dataclass
class ChunkReport:
    """What one chunk did, for the task's return value and the command's summary."""

    counts: Counter

    def __str__(self) -> str:
        parts = [f"{count} {name}" for name, count in sorted(self.counts.items())]
        return ", ".join(parts) or "nothing to do"


# Who is due --------------------------------------------------------------------------


def sendable() -> Iterable[Subscriber]:
    """Active subscribers whose address is not suppressed."""
    return Subscriber.objects.active().exclude(email__in=Suppression.objects.values("email"))


def due_subscriber_ids(now: dt.datetime | None = None) -> list[int]:
    """Due subscribers not already held by a live claim, oldest due first."""
    now = now or timezone.now()
    held = Digest.objects.filter(status=Digest.Status.CLAIMED, lease_expires_at__gt=now)
    return list(
        sendable()
        .filter(next_send_at__lte=now)
        .exclude(id__in=held.values("subscriber_id"))
        .order_by("next_send_at", "id")
        .values_list("id", flat=True)
    )


def schedule_unscheduled(now: dt.datetime | None = None) -> int:
    """Give active subscribers without a next send time one (e.g. activated by a script)."""
    now = now or timezone.now()
    subscribers = list(Subscriber.objects.active().filter(next_send_at=None))
    for subscriber in subscribers:
        _reschedule(subscriber, now)
    Subscriber.objects.bulk_update(subscribers, ["next_send_at", "time_zone"])
    return len(subscribers)


def chunks(ids: Sequence[int], size: int | None = None) -> list[list[int]]:
    size = size or settings.DIGEST_CHUNK_SIZE
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


# Sending one chunk ---------------------------------------------------------------------


def send_chunk(
    subscriber_ids: Sequence[int], now: dt.datetime | None = None, *, force: bool = False
) -> ChunkReport:
    """Claim, build and send the digests of these subscribers; safe to run twice.

    ``force`` sends today's edition (local date at ``now``) whether or not it is due.
    """
    started = time.monotonic()
    now = now or timezone.now()
    token = uuid.uuid4().hex
    subscribers = _load(subscriber_ids, now, force)
    editions = {s.pk: _edition(s, now, force) for s in subscribers}
    rate = settings.SEND_RATE_PER_SECOND
    lease = now + dt.timedelta(
        seconds=settings.DIGEST_LEASE_SECONDS + (len(subscribers) / rate if rate else 0)
    )
    with transaction.atomic():
        owned, finished = _claim(subscribers, editions, token, now, lease)
    counts: Counter = Counter(not_ours=len(subscribers) - len(owned) - len(finished))

    by_id = {s.pk: s for s in subscribers}
    recovered = _accepted_markers(owned)
    max_attempts = settings.DIGEST_MAX_ATTEMPTS
    exhausted = [d for d in owned if d.pk not in recovered and d.attempts > max_attempts]
    fresh = [d for d in owned if d.pk not in recovered and d not in exhausted]
    messages, outcomes, items = _compose(fresh, by_id, editions)

    built = dict(messages)

    def remember(digest_id, message_id: str) -> None:
        message = built[digest_id]
        marker = {"message_id": message_id, "subject": message.subject, "items": items[digest_id]}
        try:
            cache.set(_marker_key(digest_id), marker, MARKER_TIMEOUT)
        except Exception:  # the cache down: the chunk is still recorded below, as usual
            logger.warning("could not store the acceptance marker of digest %s", digest_id)

    # Start no request near the end of the lease: past it, another worker may take the
    # claim over while a message is still on its way.
    margin = min(60.0, settings.DIGEST_LEASE_SECONDS / 10)
    deadline = started + (lease - now).total_seconds() - margin
    outcomes.update(hand_off(messages, on_accepted=remember, deadline=deadline))
    for digest_id, marker in recovered.items():
        outcomes[digest_id] = Outcome(Result.SENT, message_id=marker["message_id"])
        items[digest_id] = [tuple(item) for item in marker["items"]]
    for digest in exhausted:
        outcomes[digest.pk] = Outcome(
            Result.FAILED, error=f"gave up after {digest.attempts - 1} attempts: {digest.error}"
        )
    subjects = {key: m.subject for key, m in built.items()}
    subjects.update({key: marker["subject"] for key, marker in recovered.items()})

    with transaction.atomic():
        counts += _record(owned, finished, by_id, outcomes, items, subjects, token, now)
    cache.delete_many([_marker_key(d.pk) for d in owned])
    return ChunkReport(+counts)


def _load(ids: Sequence[int], now: dt.datetime, force: bool) -> list[Subscriber]:
    # Status and suppression are checked here, when the chunk is sent, not only at
    # dispatch: someone who unsubscribed in between is not mailed.
    query = sendable().filter(id__in=list(ids))
    if not force:
        query = query.filter(next_send_at__lte=now)
    # The email names the topics each subscriber follows: fetched once for the chunk.
    query = query.order_by("id").prefetch_related("topics")
    return list(query.annotate(last_sent_edition=_LAST_SENT))


# A subscriber's last sent edition, read with the chunk's subscribers (see _matches).
_LAST_SENT = Subquery(
    Digest.objects.filter(subscriber=OuterRef("pk"), status=Digest.Status.SENT)
    .order_by("-edition")
    .values("edition")[:1]
)


def _edition(subscriber: Subscriber, now: dt.datetime, force: bool) -> dt.date:
    """The local date of the send time, or of now when forced or more than a day late
    (a long outage or a pause): a late digest carries today's papers, not old ones."""
    moment = subscriber.next_send_at
    if force or moment is None or now - moment > dt.timedelta(days=1):
        moment = now
    try:
        return local_date(moment, subscriber.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("subscriber %s has a bad time zone %r", subscriber.pk, subscriber.time_zone)
        return local_date(moment, "UTC")


def _reschedule(subscriber: Subscriber, now: dt.datetime) -> bool:
    """Schedule the next send; a time zone that no longer exists becomes UTC (-> True)."""
    try:
        subscriber.schedule_next(after=now)
    except (ZoneInfoNotFoundError, ValueError):
        subscriber.time_zone = "UTC"
        subscriber.schedule_next(after=now)
        return True
    return False


def _claim(
    subscribers: list[Subscriber],
    editions: dict[int, dt.date],
    token: str,
    now: dt.datetime,
    lease: dt.datetime,
) -> tuple[list[Digest], list[int]]:
    """Return (digests this worker now owns, subscriber ids whose edition is finished)."""
    if not subscribers:
        return [], []
    Digest.objects.bulk_create(
        [
            Digest(
                subscriber_id=pk,
                edition=edition,
                claim_token=token,
                lease_expires_at=lease,
                attempts=1,
                created_at=now,
            )
            for pk, edition in editions.items()
        ],
        ignore_conflicts=True,
    )
    # A chunk's subscribers share a few editions (their local dates), so this is one
    # `edition = ... AND subscriber_id IN (...)` per date, not one OR branch per subscriber.
    by_edition: dict[dt.date, list[int]] = defaultdict(list)
    for pk, edition in editions.items():
        by_edition[edition].append(pk)
    pairs = Q()
    for edition, ids in by_edition.items():
        pairs |= Q(edition=edition, subscriber_id__in=ids)
    # Take over claims whose worker died or gave up (lease expired).
    Digest.objects.filter(pairs, status=Digest.Status.CLAIMED, lease_expires_at__lte=now).update(
        claim_token=token, lease_expires_at=lease, attempts=F("attempts") + 1
    )
    owned, finished = [], []
    for digest in Digest.objects.filter(pairs):
        if digest.status == Digest.Status.CLAIMED:
            if digest.claim_token == token:
                owned.append(digest)
        else:
            finished.append(digest.subscriber_id)
    return owned, finished


def _marker_key(digest_id: int) -> str:
    return f"digest:accepted:{digest_id}"


def _accepted_markers(owned: list[Digest]) -> dict[int, dict]:
    """Digests a previous owner handed to the provider but died before recording."""
    taken_over = [d.pk for d in owned if d.attempts > 1]
    if not taken_over:
        return {}
    found = cache.get_many([_marker_key(pk) for pk in taken_over])
    return {pk: found[_marker_key(pk)] for pk in taken_over if _marker_key(pk) in found}


def _since(edition: dt.date, previous: dt.date | None) -> dt.date:
    if previous is None:
        return edition - dt.timedelta(days=FIRST_DIGEST_DAYS)
    return max(previous, edition - dt.timedelta(days=LOOKBACK_DAYS))


def _matches(subscribers: list[Subscriber], editions: dict[int, dt.date]) -> dict[int, list]:
    """Each subscriber's matches among their candidate papers, in a fixed number of queries.

    One matching call over the union of the subscribers' candidates (one index, each topic
    evaluated once), each subscriber seeing the papers listed since their own first day.
    """
    from digest.matching import indexed_papers, select_for_subscribers

    if not subscribers:
        return {}
    previous = {s.pk: s.last_sent_edition for s in subscribers if hasattr(s, "last_sent_edition")}
    if len(previous) < len(subscribers):  # not loaded by _load (a preview, a test digest)
        previous = dict(
            Digest.objects.filter(
                subscriber_id__in=[s.pk for s in subscribers], status=Digest.Status.SENT
            )
            .values("subscriber_id")
            .annotate(last=Max("edition"))
            .values_list("subscriber_id", "last")
        )
    since = {s.pk: _since(editions[s.pk], previous.get(s.pk)) for s in subscribers}
    candidates = (
        Paper.objects.filter(listings__day__gte=min(since.values()))
        .annotate(last_listed=Max("listings__day"))
        .order_by("-last_listed", "-upvotes", "pk")
    )
    # Keys first: the full papers (abstracts and all) only when this process has not
    # indexed them yet, about once a day, rather than in every chunk.
    rows = list(candidates.values_list("pk", "updated_at", "upvotes", "last_listed"))
    papers = indexed_papers([row[:3] for row in rows])
    if papers is None:
        papers = list(candidates)
        rows = [(p.pk, p.updated_at, p.upvotes, p.last_listed) for p in papers]
    listed = {pk: day for pk, _, _, day in rows}
    return select_for_subscribers(subscribers, papers, since=since, listed=listed)


def _compose(
    digests: list[Digest], by_id: dict[int, Subscriber], editions: dict[int, dt.date]
) -> tuple[list[tuple[int, object]], dict[int, Outcome | None], dict[int, list[tuple]]]:
    """Match and build each digest's message: (messages to send, outcomes known already,
    the items of each message). No match -> outcome None (skipped)."""
    matches = _matches([by_id[d.subscriber_id] for d in digests], editions)
    messages, outcomes, items = [], {}, {}
    for digest in digests:
        subscriber = by_id[digest.subscriber_id]
        found = matches.get(subscriber.pk, [])
        if not found:
            outcomes[digest.pk] = None
            continue
        try:
            message = _build(subscriber, found, digest)
        except Exception as exc:  # one bad paper or subscriber must not stop the chunk
            logger.exception("could not build digest %s", digest.pk)
            outcomes[digest.pk] = Outcome(Result.FAILED, error=f"could not build: {exc}"[:1000])
            continue
        items[digest.pk] = [
            (m.paper.pk, rank, m.score, m.topic, list(m.terms), m.kind, m.sentence)
            for rank, m in enumerate(found, 1)
        ]
        messages.append((digest.pk, message))
    return messages, outcomes, items


def _item(
    digest: Digest,
    paper: int,
    rank: int,
    score: float,
    topic: str,
    terms: Sequence[str] = (),
    kind: str = DigestItem.Kind.WORDS,
    sentence: str = "",
) -> DigestItem:
    """A sent digest's item from what ``_compose`` kept of a match (a marker written
    before items held values carries the "why" line in place of the topic)."""
    return DigestItem(
        digest=digest,
        paper_id=paper,
        rank=rank,
        score=score,
        topic=topic[:200],
        terms=list(terms),
        kind=kind,
        sentence=sentence[:500],
    )


def _build(subscriber: Subscriber, matches: list, digest: Digest | None, to: str | None = None):
    from digest.mail.compose import build_message, render_digest

    rendered = render_digest(subscriber, matches, digest=digest)
    return build_message(subscriber, rendered, digest=digest, to=to)


def _record(
    owned: list[Digest],
    finished: list[int],
    by_id: dict[int, Subscriber],
    outcomes: dict[int, Outcome | None],
    items: dict[int, list[tuple]],
    subjects: dict[int, str],
    token: str,
    now: dt.datetime,
) -> Counter:
    """Write every outcome of the chunk: a fixed number of queries, plus two for each
    address the provider refused for good (rare: it is suppressed after that)."""
    counts: Counter = Counter()
    done_subscribers = [by_id[pk] for pk in finished]
    # Only rows still carrying our token: a claim taken over meanwhile is the new owner's.
    # Locked until the end of the transaction (PostgreSQL; SQLite's transaction holds the
    # write lock), so no take-over or deletion comes between this read and the write below.
    ours = set(
        Digest.objects.select_for_update()
        .filter(pk__in=[d.pk for d in owned], claim_token=token)
        .values_list("pk", flat=True)
    )
    finished_at = timezone.now()
    written, new_items = [], []
    refused: tuple[str, ...] = ()
    for digest in owned:
        outcome = outcomes.get(digest.pk)
        digest.lease_expires_at = None
        if outcome is None:
            status = digest.status = Digest.Status.SKIPPED
        elif outcome.result is Result.RETRY:
            status = "retry"  # released: the next tick takes it over (attempts counts up)
            digest.error = outcome.error
            digest.lease_expires_at = now
        elif outcome.result is Result.SENT:
            status = digest.status = Digest.Status.SENT
            digest.message_id = outcome.message_id[:200]
            digest.sent_at = finished_at
        else:
            status = digest.status = Digest.Status.FAILED
            digest.error = outcome.error
            refused += outcome.refused
        if outcome is not None:
            digest.subject = subjects.get(digest.pk, "")[:300]
        counts[status] += 1
        if digest.pk not in ours:
            continue
        written.append(digest)
        if status != "retry":
            done_subscribers.append(by_id[digest.subscriber_id])
        if status == Digest.Status.SENT:
            new_items += [_item(digest, *entry) for entry in items.get(digest.pk, [])]
    # Each row's own values in one statement: every row exists and is locked, so this
    # INSERT ... ON CONFLICT (id) always takes its UPDATE branch. (bulk_update's CASE with
    # a branch per row cost 0.3 s of Python per 500 rows, and the database's work on it
    # grows with the square of the chunk.)
    Digest.objects.bulk_create(
        written,
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=["status", "subject", "message_id", "error", "sent_at", "lease_expires_at"],
    )
    DigestItem.objects.bulk_create(new_items, ignore_conflicts=True)
    # The provider said at send time it will never deliver there (an address it marked
    # inactive after a hard bounce or complaint): the same rule as a hard-bounce webhook.
    for address in refused:
        suppress(address, Suppression.Reason.BOUNCED)
    repaired = [s for s in done_subscribers if _reschedule(s, now)]
    Subscriber.objects.bulk_update(done_subscribers, ["next_send_at"])
    Subscriber.objects.bulk_update(repaired, ["time_zone"])
    return counts


# For the pages, the admin and the commands --------------------------------------------


def plan(
    subscriber_ids: Sequence[int], now: dt.datetime | None = None, *, force: bool = False
) -> list[tuple[Subscriber, list]]:
    """What ``send_chunk`` would send to each of these subscribers, changing nothing."""
    now = now or timezone.now()
    subscribers = _load(subscriber_ids, now, force)
    editions = {s.pk: _edition(s, now, force) for s in subscribers}
    found = _matches(subscribers, editions)
    return [(s, found.get(s.pk, [])) for s in subscribers]


def preview_digest(subscriber: Subscriber, now: dt.datetime | None = None):
    """The digest this subscriber would get now (a RenderedDigest), or None if nothing new."""
    from digest.mail.compose import render_digest

    now = now or timezone.now()
    edition = _edition(subscriber, now, force=True)
    matches = _matches([subscriber], {subscriber.pk: edition}).get(subscriber.pk, [])
    return render_digest(subscriber, matches) if matches else None


def send_test_digest(subscriber: Subscriber, to_email: str) -> None:
    """Send what this subscriber would get now to ``to_email``; nothing is recorded."""
    edition = _edition(subscriber, timezone.now(), force=True)
    matches = _matches([subscriber], {subscriber.pk: edition}).get(subscriber.pk, [])
    if not matches:
        raise NothingToSend(f"nothing new matches the topics of {subscriber.email}")
    message = _build(subscriber, matches, None, to=to_email)
    outcome = hand_off([("test", message)])["test"]
    if outcome.result is not Result.SENT:
        raise SendFailed(outcome.error)
