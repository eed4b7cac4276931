"""Show what a topic matches, best first: the operator's way to try a topic out; or,
with --subscriber, what a subscriber's digest would hold (their topics and their votes).

    python manage.py match "knowledge distillation -survey" [--json] [--date 2025-08-29]
    python manage.py match --subscriber ada@example.org [--json] [--date 2025-08-29]

It reads the papers already in the database (all days, or those listed on --date) and
changes nothing, so it is safe to run against production.
"""

from __future__ import annotations

import datetime
import json

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Subscriber
from digest.matching import TopicSyntaxError, match_topic, select_for_subscribers
from digest.models import Paper


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date takes YYYY-MM-DD, not {value!r}") from None


class Command(BaseCommand):
    help = "Print the papers a topic matches, best first."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "topic", nargs="?", help='A topic in the topic language, e.g. "distill* -survey"'
        )
        parser.add_argument(
            "--subscriber",
            metavar="EMAIL",
            help="Instead of a topic: this subscriber's digest, their votes included.",
        )
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="Print a JSON array."
        )
        parser.add_argument("--date", type=_date, help="Only papers listed on this day.")
        parser.add_argument("--limit", type=int, default=50, help="At most this many (0: all).")

    def handle(
        self,
        *args,
        topic: str | None,
        subscriber: str | None,
        as_json: bool,
        date,
        limit: int,
        **options,
    ) -> None:
        if (topic is None) == (subscriber is None):
            raise CommandError("Give a topic or --subscriber, not both.")
        if subscriber is not None:
            matches = _digest_of(subscriber, date)
        else:
            assert topic is not None  # one of the two, checked above
            try:
                matches = match_topic(topic, day=date)
            except TopicSyntaxError as error:
                raise CommandError(f"Bad topic: {error}") from None
        shown = matches[:limit] if limit > 0 else matches
        if as_json:
            self.stdout.write(_as_json(shown))
            return
        for number, match in enumerate(shown, 1):
            paper = match.paper
            self.stdout.write(f"{number:3}. {match.score:.3f}  {paper.title}")
            self.stdout.write(f"      {paper.abs_url or paper.key}  ({match.why})")
        where = f"listed on {date}" if date else "in the database"
        self.stdout.write(f"{len(matches)} papers {where} match; {len(shown)} shown.")


def _digest_of(email: str, date):
    """What the subscriber's digest would hold among the papers (of ``date``), leaving out
    the papers already sent to them, as delivery does."""
    person = Subscriber.objects.filter(email__iexact=email).first()
    if person is None:
        raise CommandError(f"No subscriber {email!r}.")
    papers = Paper.objects.listed_on(date) if date else Paper.objects.all()
    return select_for_subscribers([person], list(papers.order_by("pk")))[person.pk]


def _as_json(matches) -> str:
    rows = [
        {
            "title": m.paper.title,
            "score": m.score,
            "why": m.why,
            "kind": m.kind,
            "topic": m.topic,
            "terms": list(m.terms),
            "sentence": m.sentence,
            "key": m.paper.key,
            "arxiv_id": m.paper.arxiv_id,
            "url": m.paper.abs_url,
            "upvotes": m.paper.upvotes,
        }
        for m in matches
    ]
    return json.dumps(rows, indent=2, ensure_ascii=False)
