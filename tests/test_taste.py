"""A subscriber's votes teach their digest: papers like the liked ones arrive "because you
liked ...", papers like the disliked ones go down, and without votes nothing changes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import cast

import pytest
from django.core.management import call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.models import Subscriber
from digest import matching
from digest.ingest.store import ingest_file
from digest.mail.compose import render_digest
from digest.matching import match_topic, select_for_subscribers
from digest.models import Feedback, Listing, Paper
from digest.search import taste
from tests.support.sample_digest import sent_digest
from tests.test_webview import webview_path

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
# The seed day's papers on machine unlearning (tests/data/relevance-judged.json); two
# of them stand for papers of an earlier day that the reader voted on.
UNLEARNING = {f"seed-paper-{n}" for n in (11, 15, 17, 24, 35, 41, 44, 45, 54, 55)}
LIKED = ["seed-paper-15", "seed-paper-44"]


@pytest.fixture
def day() -> list[Paper]:
    ingest_file(DATA / "daily-papers-aug29.rss")
    return list(Paper.objects.order_by("pk"))


def today(day: list[Paper]) -> list[Paper]:
    return [p for p in day if p.key not in LIKED]


def reader(email: str, own: str, **fields) -> Subscriber:
    return Subscriber.objects.create(
        email=email, own_topics=own, status=Subscriber.Status.ACTIVE, **fields
    )


def vote(person: Subscriber, keys: list[str], value: int) -> None:
    for key in keys:
        Feedback.objects.create(subscriber=person, paper=Paper.objects.get(key=key), value=value)


def keys(matches) -> list[str]:
    return [m.paper.key for m in matches]


def test_a_liked_papers_neighbour_no_topic_found_arrives_because_you_liked_it(
    day, client, monkeypatch
):
    # A smaller day than a real one (65 papers, ten on unlearning): the cut is lowered
    # for the cluster to stand out (a z-score of 3 is rare among 65).
    monkeypatch.setattr(taste, "ADD_Z", 2.0)
    fan = reader("fan@example.com", own="negative sampling")
    vote(fan, LIKED, 1)  # on an earlier day
    matches = select_for_subscribers([fan], today(day))[fan.pk]
    added = [m for m in matches if m.kind == "feedback"]
    assert len(added) == taste.MOST_ADDED
    assert set(keys(added)) <= UNLEARNING
    liked = {Paper.objects.get(key=k).title for k in LIKED}
    assert added[0].sentence in liked
    assert added[0].why == f'because you liked "{added[0].sentence}"'
    # The papers the topic found are still there.
    assert {"seed-paper-04", "seed-paper-19", "seed-paper-22"} <= set(keys(matches))

    digest = sent_digest(fan, matches)
    email = render_digest(fan, matches, digest=digest)
    assert f'Why: because you liked "{added[0].sentence}"' in email.text
    assert email.subject.endswith("on negative sampling, papers you liked")
    page = client.get(webview_path(email.html)).content.decode()
    assert f"Why: because you liked &quot;{added[0].sentence}&quot;" in page


def test_a_paper_voted_on_or_already_sent_is_never_added(day, monkeypatch):
    monkeypatch.setattr(taste, "ADD_Z", 1.0)
    fan = reader("fan@example.com", own="negative sampling")
    vote(fan, LIKED, 1)
    first = select_for_subscribers([fan], day)[fan.pk]  # the liked papers listed again
    sent_digest(fan, first)
    again = select_for_subscribers([fan], day)[fan.pk]
    added = [keys(m for m in result if m.kind == "feedback") for result in (first, again)]
    assert all(added) and not set(added[0]) & set(added[1])
    assert not set(LIKED) & set(added[0] + added[1])


def test_a_paper_older_than_the_subscribers_window_is_never_added(day, monkeypatch):
    monkeypatch.setattr(taste, "ADD_Z", 2.0)
    fan = reader("fan@example.com", own="negative sampling")
    vote(fan, LIKED, 1)
    papers = today(day)
    new = dt.date(2025, 8, 29)
    listed = {p.pk: new - dt.timedelta(days=7) if p.key in UNLEARNING else new for p in papers}
    result = select_for_subscribers([fan], papers, since={fan.pk: new}, listed=listed)
    assert result[fan.pk] and all(m.kind != "feedback" for m in result[fan.pk])


def test_a_disliked_papers_neighbours_go_down_and_out_of_a_full_digest(day):
    plain = reader("plain@example.com", own="unlearning, continual learning", max_papers=6)
    critic = reader("critic@example.com", own="unlearning, continual learning", max_papers=6)
    vote(critic, LIKED, -1)
    result = select_for_subscribers([plain, critic], today(day))
    mine, theirs = keys(result[critic.pk]), keys(result[plain.pk])
    assert len(set(mine) & UNLEARNING) < len(set(theirs) & UNLEARNING)
    score = {
        m.paper.key: m.score for m in match_topic("unlearning, continual learning", today(day))
    }
    assert all(m.score < score[m.paper.key] for m in result[critic.pk] if m.paper.key in UNLEARNING)


def test_without_votes_the_digest_is_what_the_topics_alone_give(day):
    plain = reader("plain@example.com", own="knowledge distillation\ncontinual learning")
    result = select_for_subscribers([plain], day)[plain.pk]
    assert all(m.kind != "feedback" for m in result)
    ranked = sorted(
        {
            m.paper.key: m.score
            for t in ("knowledge distillation", "continual learning")
            for m in matching.match_topic(t, day)
        }.items(),
        key=lambda item: -item[1],
    )
    assert [m.score for m in result] == [score for _, score in ranked][:10]


def test_votes_on_papers_without_embeddings_or_deleted_change_nothing(day):
    plain = reader("plain@example.com", own="negative sampling")
    fan = reader("fan@example.com", own="negative sampling")
    gone = Paper.objects.create(key="gone", title="Continual learning, deleted")
    vote(fan, ["gone"], 1)
    gone.delete()
    for n in range(2):  # stored before matching by meaning: no embedding
        Paper.objects.create(key=f"old{n}", title="Continual learning", abstract="Old.")
    vote(fan, ["old0", "old1"], 1)
    result = select_for_subscribers([plain, fan], day)
    assert keys(result[fan.pk]) == keys(result[plain.pk])


def test_with_the_model_off_votes_leave_matching_by_words(day, settings):
    settings.MATCH_MODEL_DIR = "off"
    plain = reader("plain@example.com", own="negative sampling")
    fan = reader("fan@example.com", own="negative sampling")
    vote(fan, LIKED, 1)
    vote(fan, ["seed-paper-04"], -1)
    result = select_for_subscribers([plain, fan], day)
    assert keys(result[fan.pk]) == keys(result[plain.pk])


def test_match_shows_a_subscribers_digest_with_the_kind_feedback(day, capsys, monkeypatch):
    monkeypatch.setattr(taste, "ADD_Z", 2.0)
    fan = reader("fan@example.com", own="negative sampling")
    vote(fan, LIKED, 1)
    day = Listing.objects.filter(paper__key="seed-paper-04").get().day
    Listing.objects.filter(paper__key__in=LIKED).update(day=day - dt.timedelta(days=1))
    call_command("match", "--subscriber", "fan@example.com", "--date", str(day), "--json")
    rows = json.loads(capsys.readouterr().out)
    added = [row for row in rows if row["kind"] == "feedback"]
    assert added and added[0]["why"].startswith('because you liked "')
    assert added[0]["topic"] == "papers you liked"


class Liking:
    """A taste that moves nothing and adds papers 98 and 99."""

    def adjust(self, docs):
        return [0.0] * len(docs)

    def additions(self, taken, inside=None):
        return [(0.9, 99), (0.8, 98)]


LIKING = cast(taste.Taste, Liking())  # a stand-in with the two methods select calls


def test_added_papers_take_free_places_and_at_most_half_of_a_full_digest():
    from digest.search.ranking import BY_TASTE, Ranked, select

    three = Ranked([(-0.7, 1, 0), (-0.6, 2, 0), (-0.5, 3, 0)], 0)
    added = [(0.9, 99, BY_TASTE), (0.8, 98, BY_TASTE)]
    assert select([three], cap=1, taste=LIKING) == [(0.7, 1, 0)]
    assert select([Ranked([], 0)], cap=1, taste=LIKING) == added[:1]
    assert select([three], cap=4, taste=LIKING) == [*added, (0.7, 1, 0), (0.6, 2, 0)]
    assert select([three], cap=10, taste=LIKING) == [
        *added,
        (0.7, 1, 0),
        (0.6, 2, 0),
        (0.5, 3, 0),
    ]


class Moving:
    """A taste that moves each paper up or down by a few thousandths, by its number, and
    adds the listed papers that no topic brought."""

    def __init__(self, additions):
        self.added = additions

    def adjust(self, docs):
        return [(doc % 21 - 10) / 1000 for doc in docs]

    def additions(self, taken, inside=None):
        return [(score, doc) for score, doc in self.added if doc not in taken][:2]


entries = st.lists(
    st.tuples(st.integers(0, 40), st.sampled_from([0.0, 0.25, 0.5, 0.55, 0.75, 1.0])),
    max_size=30,
)


@settings(derandomize=True, database=None, deadline=None, max_examples=300)
@given(
    st.lists(entries, max_size=6),
    st.integers(1, 12),
    st.sampled_from([0.0, 0.5, 0.6]),
    st.frozensets(st.integers(0, 40), max_size=10),
    st.lists(st.tuples(st.sampled_from([0.5, 0.9]), st.integers(0, 45)), max_size=4),
)
def test_a_digest_merged_topic_by_topic_is_the_one_of_their_matches_sorted_together(
    topics, cap, min_score, exclude, additions
):
    """select merges the topics' lists lazily, only as far as the digest needs: what it
    picks, with and without a taste, is what it picks from every match sorted in one list."""
    from digest.search.ranking import Ranked, select

    lists = [
        Ranked(sorted({doc: (-score, doc, n) for doc, score in hits}.values()), n)
        for n, hits in enumerate(topics)
    ]
    together = [Ranked(sorted(entry for ranked in lists for entry in ranked.entries), 0)]
    for liking in (None, cast(taste.Taste, Moving(additions))):
        assert select(lists, cap=cap, min_score=min_score, exclude=exclude, taste=liking) == select(
            together, cap=cap, min_score=min_score, exclude=exclude, taste=liking
        )
