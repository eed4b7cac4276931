"""An operator's second try at a failed digest, or at one held as "unknown" (maybe sent)
once the operator has checked with the provider, through the usual claim rules.

The failed row becomes an expired claim and ``delivery.send_chunk(force=True)``
takes it over like any abandoned claim, so the exactly-once guarantees of
delivery hold: a concurrent resend or dispatch tick cannot send it twice.

Only a digest of the subscriber's current edition (their local today) can be
sent again; an older edition's papers go out in the subscriber's next digest
anyway, since only papers actually sent are excluded from later ones.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable

from django.utils import timezone

from accounts.schedule import local_date
from digest.mail import delivery
from digest.models import Digest, DigestItem, Suppression

RESENDABLE = [Digest.Status.FAILED, Digest.Status.UNKNOWN]


def why_not_resendable(digest: Digest, now: dt.datetime) -> str | None:
    """The reason this digest cannot be sent again now, or None if it can. The same
    rules as ``delivery.sendable()``: a row reopened for a subscriber delivery would not
    load would stay claimed for good."""
    subscriber = digest.subscriber
    if digest.status not in RESENDABLE:
        return f"it is {digest.get_status_display().lower()}, not failed or maybe sent"
    if subscriber.status != subscriber.Status.ACTIVE:
        return f"{subscriber.email} is {subscriber.get_status_display().lower()}"
    if Suppression.objects.of(subscriber.email).exists():
        return f"{subscriber.email} is suppressed"
    if digest.edition != local_date(now, subscriber.time_zone):
        return "it is an earlier edition; its papers go out in the next digest"
    return None


def resend_failed(digests: Iterable[Digest], now: dt.datetime | None = None) -> Counter:
    """Send these failed (or maybe-sent) digests again; returns counts by outcome ("sent",
    "failed", "skipped", "refused", ...)."""
    now = now or timezone.now()
    counts: Counter = Counter()
    eligible = []
    for digest in digests:
        if why_not_resendable(digest, now):
            counts["refused"] += 1
        else:
            eligible.append(digest)
    if not eligible:
        return counts
    # Conditional: only rows still failed, so two operators clicking at once reset it once.
    # The marks of the earlier attempt go: this one is the operator's fresh start.
    ids = [d.pk for d in eligible]
    reopened = Digest.objects.filter(pk__in=ids, status__in=RESENDABLE).update(
        status=Digest.Status.CLAIMED,
        lease_expires_at=now,
        attempts=0,
        error="",
        sending_at=None,
        sent_at=None,
    )
    DigestItem.objects.filter(digest_id__in=ids, digest__attempts=0).delete()
    counts["refused"] += len(eligible) - reopened
    if reopened:
        report = delivery.send_chunk([d.subscriber_id for d in eligible], now, force=True)
        counts.update(report.counts)
        counts.pop("not_ours", None)
    return +counts
