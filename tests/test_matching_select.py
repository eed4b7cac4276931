"""The database side of matching: match_topic and select_for_subscribers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Subscriber
from digest.matching import (
    Match,
    TopicSyntaxError,
    day_index,
    match_topic,
    select_for_subscribers,
)
from digest.models import Digest, DigestItem, Feedback, Listing, Paper, Source, Topic

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 8, 29)


def paper(key: str, title: str, abstract: str = "", **fields) -> Paper:
    return Paper.objects.create(key=key, title=title, abstract=abstract, **fields)


@pytest.fixture
def papers():
    source = Source.objects.create(name="Test", kind=Source.Kind.FEED)
    rows = [
        paper("p1", "Knowledge distillation for tiny students", "A teacher distills.", upvotes=5),
        paper(
            "p2", "Distilling diffusion models", "Knowledge distillation of samplers.", upvotes=50
        ),
        paper("p3", "A survey of machine unlearning", "Unlearning methods reviewed."),
        paper("p4", "Certified unlearning", "Unlearning with guarantees.", arxiv_id="2401.00004"),
        paper("p5", "Mixture-of-Experts routing", "Sparse experts.", authors=["Geoffrey Hinton"]),
    ]
    for rank, row in enumerate(rows):
        Listing.objects.create(source=source, paper=row, day=DAY, rank=rank)
    return rows


def subscriber(email: str, own: str = "", **fields) -> Subscriber:
    return Subscriber.objects.create(
        email=email, own_topics=own, status=Subscriber.Status.ACTIVE, **fields
    )


class TestMatchTopic:
    def test_it_returns_matches_best_first_with_the_reason(self, papers):
        matches = match_topic("knowledge distillation")
        assert {m.paper.key for m in matches} == {"p1", "p2"}
        assert all(isinstance(m, Match) for m in matches)
        assert matches[0].score >= matches[1].score
        assert matches[0].topic == "knowledge distillation"
        assert matches[0].why.startswith('knowledge distillation: "')
        assert "distillation" in matches[0].terms

    def test_it_limits_to_one_day(self, papers):
        old = paper("old", "Knowledge distillation, again")
        assert old in [m.paper for m in match_topic("knowledge distillation")]
        assert old not in [m.paper for m in match_topic("knowledge distillation", day=DAY)]
        assert match_topic("knowledge distillation", day=DAY + dt.timedelta(days=1)) == []

    def test_it_searches_only_the_papers_it_is_given(self, papers):
        given = Paper.objects.filter(key__in=["p2", "p3"])
        assert [m.paper.key for m in match_topic("knowledge distillation", given)] == ["p2"]
        assert [m.paper.key for m in match_topic("distill*", [papers[0]])] == ["p1"]

    def test_it_finds_papers_like_one_in_the_database(self, papers):
        matches = match_topic("more like arXiv:2401.00004")
        assert [m.paper.key for m in matches][:1] == ["p3"]

    def test_it_raises_a_clear_error_for_a_bad_topic(self, papers):
        with pytest.raises(TopicSyntaxError, match="never closed"):
            match_topic('"knowledge distillation')


class TestSelectForSubscribers:
    def test_it_fans_catalogue_and_own_topics_out_to_subscribers(self, papers):
        topic = Topic.objects.create(name="Distillation", query="knowledge distillation")
        alice = subscriber("alice@example.com", own="unlearning -survey\nauthor:Hinton")
        alice.topics.add(topic)
        bob = subscriber("bob@example.com", own="knowledge distillation")
        result = select_for_subscribers([alice, bob], papers)
        assert {m.paper.key for m in result[alice.pk]} == {"p1", "p2", "p4", "p5"}
        assert {m.topic for m in result[alice.pk]} == {
            "Distillation",
            "unlearning -survey",
            "author:Hinton",
        }
        assert [m.topic for m in result[bob.pk]] == ["knowledge distillation"] * 2
        scores = [m.score for m in result[alice.pk]]
        assert scores == sorted(scores, reverse=True)

    def test_it_skips_papers_already_sent_but_not_those_of_failed_digests(self, papers):
        alice = subscriber("alice@example.com", own="knowledge distillation")
        sent = Digest.objects.create(subscriber=alice, edition=DAY, status=Digest.Status.SENT)
        DigestItem.objects.create(digest=sent, paper=papers[0])
        failed = Digest.objects.create(
            subscriber=alice, edition=DAY - dt.timedelta(days=1), status=Digest.Status.FAILED
        )
        DigestItem.objects.create(digest=failed, paper=papers[1])
        assert [m.paper.key for m in select_for_subscribers([alice], papers)[alice.pk]] == ["p2"]

    def test_it_skips_papers_of_a_digest_that_may_have_been_sent(self, papers):
        alice = subscriber("alice@example.com", own="knowledge distillation")
        maybe = Digest.objects.create(subscriber=alice, edition=DAY, status=Digest.Status.UNKNOWN)
        DigestItem.objects.create(digest=maybe, paper=papers[0])
        assert [m.paper.key for m in select_for_subscribers([alice], papers)[alice.pk]] == ["p2"]

    def test_it_applies_the_cap_and_the_minimum_score(self, papers):
        capped = subscriber("capped@example.com", own="distill*\nunlearning", max_papers=2)
        strict = subscriber("strict@example.com", own="distill*\nunlearning", min_score=0.99)
        result = select_for_subscribers([capped, strict], papers)
        assert len(result[capped.pk]) == 2
        assert result[strict.pk] == []

    def test_it_skips_a_topic_that_does_not_parse_and_logs_it(self, papers, caplog):
        alice = subscriber("alice@example.com", own='"unclosed\nunlearning -survey')
        result = select_for_subscribers([alice], papers)
        assert [m.paper.key for m in result[alice.pk]] == ["p4"]
        assert "unclosed" in caplog.text

    def test_it_gives_an_empty_list_to_a_subscriber_without_topics(self, papers):
        alice = subscriber("alice@example.com")
        assert select_for_subscribers([alice], papers) == {alice.pk: []}

    def test_it_runs_a_fixed_number_of_queries(self, papers, django_assert_num_queries):
        topic = Topic.objects.create(name="Distillation", query="knowledge distillation")
        few = [subscriber(f"a{i}@example.com", own="unlearning") for i in range(2)]
        many = [subscriber(f"b{i}@example.com", own="author:Hinton") for i in range(30)]
        for person in [*few, *many]:
            person.topics.add(topic)
            Feedback.objects.create(subscriber=person, paper=papers[0], value=1)
        select_for_subscribers(few, papers)  # builds the index once
        with django_assert_num_queries(3):
            select_for_subscribers(few, papers)
        with django_assert_num_queries(3):
            result = select_for_subscribers(many, papers)
        assert all(result[p.pk] for p in many)

    def test_it_skips_a_paper_sent_long_ago_and_listed_again(self, papers):
        alice = subscriber("alice@example.com", own="knowledge distillation")
        long_ago = timezone.now() - dt.timedelta(days=90)
        Paper.objects.filter(pk=papers[0].pk).update(first_seen_at=long_ago)
        papers[0].refresh_from_db()
        sent = Digest.objects.create(
            subscriber=alice,
            edition=DAY - dt.timedelta(days=89),
            status=Digest.Status.SENT,
            sent_at=long_ago + dt.timedelta(days=1),
        )
        DigestItem.objects.create(digest=sent, paper=papers[0])
        assert [m.paper.key for m in select_for_subscribers([alice], papers)[alice.pk]] == ["p2"]

    def test_it_gives_each_subscriber_up_to_their_cap_of_the_papers_in_their_window(self, papers):
        older = paper("older", "Knowledge distillation at scale", "Distillation.", upvotes=900)
        Listing.objects.create(source=Source.objects.get(), paper=older, day=DAY - dt.timedelta(2))
        everything = [*papers, older]
        listed = dict(Listing.objects.values_list("paper_id", "day"))
        today = subscriber("today@example.com", own="knowledge distillation", max_papers=5)
        week = subscriber("week@example.com", own="knowledge distillation", max_papers=2)
        unbounded = subscriber("all@example.com", own="knowledge distillation", max_papers=1)

        result = select_for_subscribers(
            [today, week, unbounded],
            everything,
            since={today.pk: DAY, week.pk: DAY - dt.timedelta(days=7)},
            listed=listed,
        )

        # Fewer papers in the window than the cap: not filled with older ones.
        assert {m.paper.key for m in result[today.pk]} == {"p1", "p2"}
        best_today = result[today.pk][0].paper.key
        assert [m.paper.key for m in result[week.pk]] == ["older", best_today]
        assert [m.paper.key for m in result[unbounded.pk]] == ["older"]

    def test_it_keeps_at_most_the_configured_number_of_topics_and_gives_the_same_result(
        self, papers, settings
    ):
        people = [
            subscriber("a@example.com", own="distill*\nunlearning\nauthor:Hinton"),
            subscriber("b@example.com", own="unlearning\nknowledge distillation"),
        ]
        unbounded = select_for_subscribers(people, papers)
        settings.MATCH_TOPIC_CACHE_SIZE = 1
        Paper.objects.filter(pk=papers[0].pk).update(upvotes=6)  # a new index
        papers[0].refresh_from_db()

        bounded = select_for_subscribers(people, papers)

        assert len(day_index(papers).results) == 1
        for person in people:
            assert [m.paper.key for m in bounded[person.pk]] == [
                m.paper.key for m in unbounded[person.pk]
            ]


def test_a_topic_finds_a_paper_through_the_sources_keywords():
    quiet = paper(
        "k1",
        "Zetta: a harness for robots",
        "We present a system that governs physical execution.",
        keywords=["closed-loop embodied harness", "recovery skills"],
    )
    paper("k2", "Another system", "It also governs physical execution.")
    assert [m.paper for m in match_topic("recovery skills")] == [quiet]
    assert [m.paper for m in match_topic("abstract:(embodied harness)")] == [quiet]
