"""Claiming and sending digests, exactly once per subscriber and edition.

The rules (docs/delivery.md explains them at length):

- A subscriber is due when active, not suppressed and ``next_send_at <= now``; the
  edition is their local date at ``next_send_at``, so a beat that was down for hours
  still sends each missed digest once, and the next send is scheduled after *now*.
- A worker claims (subscriber, edition) by inserting the unique ``Digest`` row with its
  own ``claim_token``, or by taking over a ``claimed`` row whose lease has expired (a
  conditional UPDATE); it then reads back the rows carrying its token. A row it did not
  win is someone else's. The lease is short and renewed while the chunk runs, so a dead
  worker's claims are free within a lease.
- A subscriber stays due until their digest is finished (sent, skipped, failed or
  unknown), in the same transaction that advances ``next_send_at``: a lost queue message,
  a killed worker or a provider outage only delays the digest to a later dispatch tick.
- Before a message's request goes, its row says so (``sending_at``); the moment the
  provider accepts it, its row says that too (``sent_at``, ``message_id``). A worker
  taking over a claim records an accepted digest as sent without sending again, and never
  resends one that may have reached the provider without asking the provider first
  (``digest.mail.lookup``); where the provider cannot be asked the digest is "unknown".
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
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Case, F, Max, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from accounts import lifecycle
from accounts.models import Subscriber
from accounts.schedule import local_date
from digest.mail import lookup
from digest.mail.compose import build_message, render_digest
from digest.mail.handoff import Outcome, Result, hand_off
from digest.matching import indexed_papers, select_for_subscribers
from digest.models import Digest, DigestItem, Paper, Suppression

logger = logging.getLogger(__name__)

LOOKBACK_DAYS = 7
FIRST_DIGEST_DAYS = 1  # a first digest covers the edition day and the day before


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


def sendable() -> QuerySet[Subscriber]:
    """Active subscribers whose address is not suppressed."""
    return Subscriber.objects.active().exclude(email__in=Suppression.objects.values("email"))


def due_subscriber_ids(now: dt.datetime | None = None) -> list[int]:
    """Due subscribers not already held by a live claim or waiting for a retry, oldest due
    first."""
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
    lifecycle.reschedule(subscribers, now)
    return len(subscribers)


def chunks(ids: Sequence[int], size: int | None = None) -> list[list[int]]:
    size = size or settings.DIGEST_CHUNK_SIZE
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


# Sending one chunk ---------------------------------------------------------------------


@dataclass
class Delivery:
    """One digest of a chunk, from claim to record."""

    digest: Digest
    subscriber: Subscriber
    message: EmailMessage | None = None
    items: list[tuple] = field(
        default_factory=list
    )  # (paper id, rank, score, topic, terms, kind, sentence)
    outcome: Outcome | None = None  # None once composed: nothing new, skipped
    # A previous owner's message, not sent again: "recovered" from the row's acceptance
    # mark, or "found" by asking the provider.
    recovered: str = ""

    @property
    def pk(self) -> int:
        return self.digest.pk


class Lease:
    """A chunk's hold on its claims: ``DIGEST_LEASE_SECONDS`` from the last renewal.

    ``beat()`` renews it in the database every quarter lease while the chunk runs, so a
    killed worker's claims are free within one lease; no request starts after
    ``deadline()``: the end of the lease as last renewed (less a margin), or the end of the
    chunk's time (``DIGEST_CHUNK_SECONDS`` plus its share of the rate limit)."""

    def __init__(self, token: str, now: dt.datetime, size: int) -> None:
        self.token = token
        self.now = now
        self.seconds = settings.DIGEST_LEASE_SECONDS
        self.started = self.renewed = time.monotonic()
        self.margin = min(60.0, self.seconds / 10)
        rate = settings.SEND_RATE_PER_SECOND
        self.stop_at = self.started + settings.DIGEST_CHUNK_SECONDS + (size / rate if rate else 0)

    def clock(self) -> dt.datetime:
        """The chunk's ``now`` moved on by the time it has run (a test's fixed clock too)."""
        return self.now + dt.timedelta(seconds=time.monotonic() - self.started)

    def expires_at(self) -> dt.datetime:
        return self.clock() + dt.timedelta(seconds=self.seconds)

    def deadline(self) -> float:
        return min(self.renewed + self.seconds - self.margin, self.stop_at)

    def beat(self) -> None:
        if time.monotonic() - self.renewed >= self.seconds / 4:
            self.renew()

    def renew(self) -> None:
        started = time.monotonic()
        try:
            Digest.objects.filter(claim_token=self.token, status=Digest.Status.CLAIMED).update(
                lease_expires_at=self.expires_at()
            )
        except Exception:  # the database away: the old lease runs out, sending stops then
            logger.warning("could not renew the lease of chunk %s", self.token, exc_info=True)
            return
        self.renewed = started


def send_chunk(
    subscriber_ids: Sequence[int], now: dt.datetime | None = None, *, force: bool = False
) -> ChunkReport:
    """Claim, build and send the digests of these subscribers; safe to run twice.

    ``force`` sends today's edition (local date at ``now``) whether or not it is due.
    """
    now = now or timezone.now()
    token = uuid.uuid4().hex
    subscribers = _load(subscriber_ids, now, force)
    editions = {s.pk: _edition(s, now, force) for s in subscribers}
    lease = Lease(token, now, len(subscribers))
    with transaction.atomic():
        owned, finished = _claim(subscribers, editions, token, now, lease.expires_at())
    by_id = {s.pk: s for s in subscribers}
    chunk = [Delivery(digest, by_id[digest.subscriber_id]) for digest in owned]
    counts: Counter = Counter(not_ours=len(subscribers) - len(owned) - len(finished))

    _settle_taken_over(chunk)
    fresh = [d for d in chunk if d.outcome is None and not d.recovered]
    _compose(fresh, editions)
    lease.beat()  # matching a large chunk on a cold index can take a while
    outgoing = [d for d in fresh if d.message is not None]
    _prepare(outgoing)
    by_pk = {d.pk: d for d in outgoing}
    outcomes = hand_off(
        [(d.pk, d.message) for d in outgoing if d.message is not None],
        before_send=lambda ids: _leaving([by_pk[pk] for pk in ids], lease),
        on_accepted=lambda accepted: _accepted(accepted, by_pk, lease),
        heartbeat=lease.beat,
        deadline=lease.deadline,
    )
    for pk, outcome in outcomes.items():
        by_pk[pk].outcome = outcome

    with transaction.atomic():
        counts += _record(chunk, [by_id[pk] for pk in finished], token, now)
    report = ChunkReport(+counts)
    if any(d.digest.attempts > 1 for d in chunk):
        logger.info("chunk taking over earlier claims: %s", report)
    return report


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
    return local_date(moment, subscriber.time_zone)


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


def _settle_taken_over(chunk: list[Delivery]) -> None:
    """Decide what a previous owner left behind, before anything is sent:

    - accepted by the provider (``sent_at``): recorded as sent, not sent again;
    - about to leave, no answer recorded (``sending_at``): the provider may hold it, so it
      is asked (``digest.mail.lookup``); held -> recorded as sent, not held -> sent as
      usual, cannot be asked -> "unknown", left for the operator, never sent by itself;
    - claimed ``DIGEST_MAX_ATTEMPTS`` times without an answer: failed.
    """
    find = lookup.finder()
    for delivery in chunk:
        digest = delivery.digest
        if digest.attempts <= 1:
            continue
        if digest.sent_at is not None:
            delivery.outcome = Outcome(Result.SENT, message_id=digest.message_id)
            delivery.recovered = "recovered"
        elif digest.sending_at is not None:
            _ask_provider(delivery, find)
        elif digest.attempts > settings.DIGEST_MAX_ATTEMPTS:
            delivery.outcome = Outcome(
                Result.FAILED, error=f"gave up after {digest.attempts - 1} attempts: {digest.error}"
            )


def _ask_provider(delivery: Delivery, find) -> None:
    digest = delivery.digest
    if find is None:
        delivery.outcome = Outcome(
            Result.UNKNOWN,
            error="not sent again: its worker was lost after the request may have reached "
            "the provider, which cannot be asked whether it holds it",
        )
        return
    try:
        message_id = find(digest.pk)
    except lookup.LookupFailed as exc:
        if digest.attempts > settings.DIGEST_MAX_ATTEMPTS:
            delivery.outcome = Outcome(Result.UNKNOWN, error=f"not sent again: {exc}")
        else:  # the next tick asks again
            delivery.outcome = Outcome(Result.RETRY, error=str(exc)[:1000])
        return
    if message_id is not None:
        delivery.outcome = Outcome(Result.SENT, message_id=message_id)
        delivery.recovered = "found"
    # Not held: it never arrived, and is sent like any other.


def _leaving(leaving: list[Delivery], lease: Lease) -> list[int]:
    """Record (committed) that these digests' requests are about to go; return the ids of
    those still ours, which alone may go."""
    ids = [d.pk for d in leaving]
    ours = Digest.objects.filter(pk__in=ids, claim_token=lease.token, status=Digest.Status.CLAIMED)
    at = timezone.now()
    if ours.update(sending_at=at) != len(ids):  # some claim was lost: which ones?
        ids = list(ours.filter(sending_at=at).values_list("pk", flat=True))
    for delivery in leaving:
        if delivery.pk in ids:
            delivery.digest.sending_at = at
    return ids


def _accepted(accepted: dict[int, str], by_pk: dict[int, Delivery], lease: Lease) -> None:
    """Record at once that the provider accepted these digests' messages."""
    at = timezone.now()
    Digest.objects.filter(pk__in=list(accepted), claim_token=lease.token).update(
        sent_at=at,
        message_id=Case(
            *[When(pk=pk, then=Value(mid[:200])) for pk, mid in accepted.items()],
            default=F("message_id"),
        ),
    )
    for pk in accepted:
        by_pk[pk].digest.sent_at = at


def _since(edition: dt.date, previous: dt.date | None) -> dt.date:
    if previous is None:
        return edition - dt.timedelta(days=FIRST_DIGEST_DAYS)
    return max(previous, edition - dt.timedelta(days=LOOKBACK_DAYS))


def _matches(subscribers: list[Subscriber], editions: dict[int, dt.date]) -> dict[int, list]:
    """Each subscriber's matches among their candidate papers, in a fixed number of queries.

    One matching call over the union of the subscribers' candidates (one index, each topic
    evaluated once), each subscriber seeing the papers listed since their own first day.
    """
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
        loaded = list(candidates)
        rows = [(p.pk, p.updated_at, p.upvotes, p.last_listed) for p in loaded]
        papers = loaded
    listed = {pk: day for pk, _, _, day in rows}
    return select_for_subscribers(subscribers, papers, since=since, listed=listed)


def _compose(chunk: list[Delivery], editions: dict[int, dt.date]) -> None:
    """Match and build each digest's message and items; no match -> skipped (outcome None,
    no message), a digest that cannot be built -> failed."""
    matches = _matches([d.subscriber for d in chunk], editions)
    for delivery in chunk:
        found = matches.get(delivery.subscriber.pk, [])
        if not found:
            continue
        try:
            delivery.message = _build(delivery.subscriber, found, delivery.digest)
        except Exception as exc:  # one bad paper or subscriber must not stop the chunk
            logger.exception("could not build digest %s", delivery.pk)
            delivery.outcome = Outcome(Result.FAILED, error=f"could not build: {exc}"[:1000])
            continue
        delivery.items = [
            (m.paper.pk, rank, m.score, m.topic, list(m.terms), m.kind, m.sentence)
            for rank, m in enumerate(found, 1)
        ]


def _prepare(outgoing: list[Delivery]) -> None:
    """Write each message's subject and papers before it can leave, so that a worker
    taking the claim over after a crash can record it as sent from the row alone."""
    if not outgoing:
        return
    for delivery in outgoing:
        assert delivery.message is not None  # outgoing: the built ones
        delivery.digest.subject = delivery.message.subject[:300]
    retaken = [d.pk for d in outgoing if d.digest.attempts > 1]
    if retaken:  # a previous owner composed it too, maybe from other papers
        DigestItem.objects.filter(digest_id__in=retaken).delete()
    _write_rows([d.digest for d in outgoing], ["subject"])
    DigestItem.objects.bulk_create(
        [_item(d.digest, *entry) for d in outgoing for entry in d.items],
        ignore_conflicts=True,
    )


def _write_rows(digests: list[Digest], fields: list[str]) -> None:
    # Each row's own values in one statement: every row exists, so this INSERT ... ON
    # CONFLICT (id) always takes its UPDATE branch. (bulk_update's CASE with a branch per
    # row cost 0.3 s of Python per 500 rows, and the database's work on it grows with the
    # square of the chunk.)
    Digest.objects.bulk_create(
        digests, update_conflicts=True, unique_fields=["id"], update_fields=fields
    )


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
    """A digest's item from what ``_compose`` kept of a match."""
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
    rendered = render_digest(subscriber, matches, digest=digest)
    return build_message(subscriber, rendered, digest=digest, to=to)


_RECORDED = ["status", "subject", "message_id", "error", "sent_at", "sending_at"]


def _record(
    chunk: list[Delivery], finished: list[Subscriber], token: str, now: dt.datetime
) -> Counter:
    """Write every outcome of the chunk: a fixed number of queries, plus two for each
    address the provider refused for good (rare: it is suppressed after that)."""
    counts: Counter = Counter()
    done_subscribers = list(finished)
    # Only rows still carrying our token: a claim taken over meanwhile is the new owner's.
    # Locked until the end of the transaction (PostgreSQL; SQLite's transaction holds the
    # write lock), so no take-over or deletion comes between this read and the write below.
    ours = set(
        Digest.objects.select_for_update()
        .filter(pk__in=[d.pk for d in chunk], claim_token=token)
        .values_list("pk", flat=True)
    )
    finished_at = timezone.now()
    written, unsent = [], []
    refused: tuple[str, ...] = ()
    for delivery in chunk:
        digest, outcome = delivery.digest, delivery.outcome
        label = _apply(delivery, now, finished_at)
        counts[label] += 1
        if outcome is not None and outcome.result is Result.FAILED:
            refused += outcome.refused
        if digest.pk not in ours:
            continue
        written.append(digest)
        if label in ("failed", "retry"):
            unsent.append(digest.pk)
        if label != "retry":
            done_subscribers.append(delivery.subscriber)
    _write_rows(written, [*_RECORDED, "lease_expires_at", "claim_token"])
    # A failed or released digest's papers were not sent (composed again on a retry).
    DigestItem.objects.filter(digest_id__in=unsent).delete()
    # The provider said at send time it will never deliver there (an address it marked
    # inactive after a hard bounce or complaint): the same rule as a hard-bounce webhook.
    for address in refused:
        lifecycle.suppress(address, Suppression.Reason.BOUNCED)
    lifecycle.reschedule(done_subscribers, now)
    return counts


def _apply(delivery: Delivery, now: dt.datetime, finished_at: dt.datetime) -> str:
    """Set the digest's fields for its outcome; return the report's name for it."""
    digest, outcome = delivery.digest, delivery.outcome
    digest.lease_expires_at = None
    if outcome is None:
        digest.status = Digest.Status.SKIPPED
        return "skipped"
    if outcome.result is Result.RETRY:
        # Released: no live worker holds it (no token) and the next dispatch tick after
        # DIGEST_RETRY_SECONDS takes it over (attempts counts up).
        digest.lease_expires_at = now + dt.timedelta(seconds=settings.DIGEST_RETRY_SECONDS)
        digest.claim_token = ""
        digest.error = outcome.error
        if delivery.message is not None:  # its requests' outcome is known: not at the provider
            digest.sending_at = None
        return "retry"
    if outcome.result is Result.SENT:
        digest.status = Digest.Status.SENT
        digest.message_id = outcome.message_id[:200]
        digest.sent_at = digest.sent_at or finished_at
        digest.error = ""
        return delivery.recovered or "sent"
    digest.error = outcome.error
    if outcome.result is Result.UNKNOWN:
        digest.status = Digest.Status.UNKNOWN
        return "unknown"
    digest.status = Digest.Status.FAILED
    return "failed"


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
    """The digest this subscriber would get now (a RenderedEmail), or None if nothing new."""
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
