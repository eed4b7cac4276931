"""Send the digests that are due, in this process, with progress and a summary.

The beat's ``dispatch_due`` does the same through the workers; this command is the
operator's lever: send by hand, see who would get what (``--dry-run`` changes nothing),
send today's edition now whether due or not (``--now``), or deal with one address
(``--email``). It claims digests exactly as the workers do, so running it while they
send never sends anything twice.
"""

from __future__ import annotations

from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Subscriber
from digest.mail import delivery


class Command(BaseCommand):
    help = "Send due digests now (or today's edition with --now), with progress and a summary."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Show, send nothing.")
        parser.add_argument(
            "--now", action="store_true", help="Send today's edition even if not yet due."
        )
        parser.add_argument("--email", metavar="ADDRESS", help="Only this subscriber.")

    def handle(self, *args, dry_run: bool, now: bool, email: str | None, **options) -> None:
        moment = timezone.now()
        ids = self._subscriber_ids(email, moment, force=now)
        if not ids:
            self.stdout.write("Nobody is due." if not email else f"{email} is not due.")
            return
        if dry_run:
            self._dry_run(ids, moment, force=now)
            return
        totals: Counter = Counter()
        batches = delivery.chunks(ids)
        for number, chunk in enumerate(batches, 1):
            report = delivery.send_chunk(chunk, moment, force=now)
            totals.update(report.counts)
            self.stdout.write(f"chunk {number}/{len(batches)}: {report}")
        totals.pop("not_ours", None)
        summary = ", ".join(f"{count} {name}" for name, count in sorted(totals.items()))
        self.stdout.write(self.style.SUCCESS(f"Done: {summary or 'nothing sent'}."))

    def _subscriber_ids(self, email: str | None, moment, *, force: bool) -> list[int]:
        if email:
            person = Subscriber.objects.filter(email=email.strip().lower()).first()
            if person is None:
                raise CommandError(f"No subscriber has the address {email}.")
            if person.status != Subscriber.Status.ACTIVE:
                raise CommandError(f"{email} is {person.get_status_display().lower()}.")
            return [person.pk]
        if force:
            return list(delivery.sendable().order_by("id").values_list("id", flat=True))
        return delivery.due_subscriber_ids(moment)

    def _dry_run(self, ids: list[int], moment, *, force: bool) -> None:
        counts: Counter = Counter()
        for chunk in delivery.chunks(ids):
            for person, matches in delivery.plan(chunk, moment, force=force):
                if matches:
                    counts["would be sent"] += 1
                    self.stdout.write(f"{person.email}: {len(matches)} papers")
                else:
                    counts["would be skipped"] += 1
                    self.stdout.write(f"{person.email}: nothing new, skipped")
        summary = ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))
        self.stdout.write(self.style.SUCCESS(f"Dry run, nothing sent: {summary or 'nobody'}."))
