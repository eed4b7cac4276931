""" "More like this" / "less like this": a vote from a link in a digest.

The link carries a signed token naming the subscriber, the paper and the vote, so it
needs no login. Opening it only shows a page with one button; the vote is recorded by
the POST that button sends, because mail scanners open every link in a message.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from accounts.models import Subscriber
from accounts.tokens import InvalidToken, make_token, read_token
from digest.models import Feedback, Paper

VALUES = (1, -1)


@dataclass(frozen=True)
class Vote:
    subscriber: Subscriber
    paper: Paper
    value: int

    def record(self) -> None:
        """One vote per subscriber and paper; the latest wins (one upsert, race-free)."""
        Feedback.objects.bulk_create(
            [
                Feedback(
                    subscriber=self.subscriber,
                    paper=self.paper,
                    value=self.value,
                    created_at=timezone.now(),
                )
            ],
            update_conflicts=True,
            unique_fields=["subscriber", "paper"],
            update_fields=["value", "created_at"],
        )

    def opposite_token(self) -> str:
        return vote_token(self.subscriber, self.paper, -self.value)


def vote_token(subscriber: Subscriber, paper: Paper, value: int) -> str:
    if value not in VALUES:
        raise ValueError(f"a vote is 1 or -1, not {value!r}")
    return make_token("feedback", subscriber.pk, p=paper.pk, v=value)


def vote_from_token(token: str) -> Vote:
    """The vote a feedback link stands for; InvalidToken when forged or its rows are gone."""
    payload = read_token("feedback", token)
    paper_id, value = payload.get("p"), payload.get("v")
    if type(paper_id) is not int or value not in VALUES or type(value) is not int:
        raise InvalidToken()
    subscriber = Subscriber.objects.filter(pk=payload["s"]).first()
    paper = Paper.objects.filter(pk=paper_id).first()
    if subscriber is None or paper is None:
        raise InvalidToken()
    return Vote(subscriber, paper, value)
