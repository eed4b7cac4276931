"""Feedback quality on judged data: a reader votes on one day's digest by the judgments,
then the next day's digest is scored with their votes and without.

The 260 sample papers of tests/data (ingested by the real ingest code, which embeds each
paper) are split into two "days" by a fixed rule: a paper is of the first day when the
first byte of the SHA-1 of its key is even (about half each way, every source on both
days; splitting by source file would leave most topics without on-topic papers on one of
the days). For each judged topic of tests/data/relevance-judged.json a reader subscribes
with that topic (a catalogue topic through the catalogue Topic) and the default cap of
ten papers; on the first day they vote "more like this" on each paper of their digest
judged on-topic (grade 2) and "less like this" on each judged off-topic (graded
nothing); related papers get no vote. On the second day, precision and recall count the
on-topic papers of the digest, as tests/test_relevance.py does (related papers count
neither way; recall is over every on-topic paper of the day, so a topic with more than
ten is held below 1.0 by the cap).

The feedback model's constants (digest/search/taste.py) were chosen on the dev topics
only; the held-out ones are only measured. The bars are the figures reached, rounded
down (docs/matching.md, "Feedback"): a regression guard, printed per topic with pytest -s.
"""

from __future__ import annotations

import hashlib

import pytest

from accounts.models import Subscriber
from digest.matching import select_for_subscribers
from digest.models import Feedback, Paper, Topic
from tests.test_relevance import JUDGED, all_sample_papers, figures  # noqa: F401 (a fixture)

# (precision, recall) overall on the second day, with feedback. Without it: dev 0.816 /
# 0.550, held-out 0.765 / 0.605.
BARS = {"dev": (0.81, 0.56), "heldout": (0.76, 0.63)}


def first_day(key: str) -> bool:
    return hashlib.sha1(key.encode(), usedforsecurity=False).digest()[0] % 2 == 0


def reader(number: int, topic: dict) -> Subscriber:
    person = Subscriber.objects.create(
        email=f"reader{number}@example.com",
        own_topics="" if topic.get("catalogue") else topic["topic"],
        status=Subscriber.Status.ACTIVE,
    )
    if topic.get("catalogue"):
        person.topics.add(Topic.objects.get(name=topic["catalogue"]))
    return person


def simulate(split: str) -> list[tuple[str, set[str], set[str], set[str], set[str]]]:
    """Per topic of the split: (topic, second day's digest without votes, with votes,
    on-topic papers of the second day, related ones)."""
    papers = list(Paper.objects.order_by("pk"))
    one = [p for p in papers if first_day(p.key)]
    two = [p for p in papers if not first_day(p.key)]
    print(f"\n{split}: {len(one)} papers on the first day, {len(two)} on the second")
    topics = [t for t in JUDGED if t["split"] == split]
    readers = [reader(n, t) for n, t in enumerate(topics)]
    shown = select_for_subscribers(readers, one)
    before = select_for_subscribers(readers, two)
    for person, topic in zip(readers, topics, strict=True):
        on_topic = {j["key"] for j in topic["on_topic"]}
        related = {j["key"] for j in topic["related"]}
        for match in shown[person.pk]:
            if match.paper.key in on_topic:
                Feedback.objects.create(subscriber=person, paper=match.paper, value=1)
            elif match.paper.key not in related:
                Feedback.objects.create(subscriber=person, paper=match.paper, value=-1)
    after = select_for_subscribers(readers, two)
    second = {p.key for p in two}
    return [
        (
            topic["topic"],
            {m.paper.key for m in before[person.pk]},
            {m.paper.key for m in after[person.pk]},
            {j["key"] for j in topic["on_topic"]} & second,
            {j["key"] for j in topic["related"]} & second,
        )
        for person, topic in zip(readers, topics, strict=True)
    ]


def measure(split: str, rows) -> dict[str, tuple[float, float]]:
    """Print the per-topic table; return overall (precision, recall) without and with."""
    print(f"\n{split}: topic | on-topic | without: right wrong | with: right wrong")
    totals = {"without": [0, 0], "with": [0, 0]}
    wanted_all = 0
    new = [0, 0, 0]  # papers the votes brought in: on-topic, related, off-topic
    for topic, before, after, wanted, related in rows:
        line = []
        for name, found in (("without", before), ("with", after)):
            right, wrong = figures(found, wanted, related)
            totals[name][0] += right
            totals[name][1] += wrong
            line.append(f"{right:3} {wrong:3}")
        wanted_all += len(wanted)
        for key in after - before:
            new[0 if key in wanted else 1 if key in related else 2] += 1
        print(f"  {topic[:48]:48} | {len(wanted):3} | {line[0]} | {line[1]}")
    out = {}
    for name, (right, wrong) in totals.items():
        out[name] = (right / ((right + wrong) or 1), right / (wanted_all or 1))
        print(f"  {name} feedback: precision {out[name][0]:.3f}, recall {out[name][1]:.3f}")
    print(f"  brought in by the votes: {new[0]} on-topic, {new[1]} related, {new[2]} off-topic")
    return out


@pytest.mark.parametrize("split", ["dev", "heldout"])
def test_votes_on_one_day_find_more_of_the_next_days_papers(all_sample_papers, split):  # noqa: F811
    result = measure(split, simulate(split))
    precision, recall = result["with"]
    assert precision >= BARS[split][0], f"{split}: precision {precision:.3f}"
    assert recall >= BARS[split][1], f"{split}: recall {recall:.3f}"
