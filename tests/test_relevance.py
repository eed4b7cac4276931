"""Matching quality on judged data, measured end to end: every sample file of tests/data
ingested by the real ingest code (which embeds each paper), each judged topic typed as
is (a catalogue topic through that catalogue Topic's query, name and description), every
match counted.

tests/data/relevance-judged.json: 65 topics, 43 written the way people type them and 22 of
the catalogue, judged over all 260 papers (tests/data/README.md says how). Its "dev"
topics were used to develop and tune the engine; the "heldout" third never was: only its
overall figures are read, and they are what the issue's goal (0.90 / 0.90) is measured
on. tests/data/relevance-dev.json: the four older topics of the seed day, a bar of their
own.

Precision and recall count on-topic (grade 2) papers; related ones (grade 1) count
neither way; overall figures add the hits and misses of all the topics of a split (and,
printed, of its catalogue and its typed topics apart). Each test prints its per-topic
table (pytest -s). The bars are what the engine reaches today, rounded down
(docs/matching.md gives the figures): they guard against regressions; the held-out bar is
below the issue's goal of 0.90, which the engine does not reach yet.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from digest.ingest.store import ingest_file
from digest.matching import match_topic
from digest.models import Paper, Topic

DATA = Path(__file__).parent / "data"
JUDGED = json.loads((DATA / "relevance-judged.json").read_text())["topics"]
SEED_DAY = json.loads((DATA / "relevance-dev.json").read_text())["topics"]
NOT_PAPERS = ("relevance-", "README", "arxiv_api_atom_2026_e")
# (precision, recall) overall.
BARS = {"dev": (0.80, 0.65), "heldout": (0.80, 0.62), "seed day": (1.0, 1.0)}


@pytest.fixture
def all_sample_papers(db):
    for path in sorted(DATA.iterdir()):
        if not path.name.startswith(NOT_PAPERS):
            ingest_file(path)
    assert Paper.objects.count() == 260
    assert not Paper.objects.filter(embedding=None).exists()


def found_by(topic: dict) -> set[str]:
    if topic.get("catalogue"):
        listed = Topic.objects.get(name=topic["catalogue"])
        matches = match_topic(listed.query, about=listed.about)
    else:
        matches = match_topic(topic["topic"])
    return {m.paper.key for m in matches}


def figures(found: set[str], wanted: set[str], related: set[str]) -> tuple[int, int]:
    """Right and wrong papers found: related ones count neither way."""
    return len(found & wanted), len(found - wanted - related)


def measure(name: str, rows: list[tuple[str, set[str], set[str], set[str]]]) -> tuple:
    """Print the per-topic table; return overall (precision, recall)."""
    print(f"\n{name}: topic | on-topic | found right | found wrong | precision | recall")
    for topic, found, wanted, related in rows:
        right, bad = figures(found, wanted, related)
        precision = right / (right + bad) if right + bad else 1.0
        recall = right / len(wanted) if wanted else 1.0
        row = f"{len(wanted):3} | {right:3} | {bad:3} | {precision:.2f} | {recall:.2f}"
        print(f"  {topic[:48]:48} | {row}")
    return overall(rows)


def overall(rows: list[tuple[str, set[str], set[str], set[str]]], of: str = "") -> tuple:
    """Print and return (precision, recall) over all ``rows``: their hits and misses added."""
    hits = wrong = wanted_all = 0
    for _, found, wanted, related in rows:
        right, bad = figures(found, wanted, related)
        hits, wrong, wanted_all = hits + right, wrong + bad, wanted_all + len(wanted)
    precision, recall = hits / ((hits + wrong) or 1), hits / (wanted_all or 1)
    print(f"  overall{of}: precision {precision:.3f}, recall {recall:.3f}")
    return precision, recall


def judged(split: str) -> list[tuple[str, set[str], set[str], set[str]]]:
    return [
        (
            f"{t['topic']} (catalogue)" if t.get("catalogue") else t["topic"],
            found_by(t),
            {j["key"] for j in t["on_topic"]},
            {j["key"] for j in t["related"]},
        )
        for t in JUDGED
        if t["split"] == split
    ]


@pytest.mark.parametrize("split", ["dev", "heldout"])
def test_it_finds_the_judged_papers_of_topics_as_people_type_them(all_sample_papers, split):
    rows = judged(split)
    precision, recall = measure(split, rows)
    catalogue = [row for row in rows if row[0].endswith(" (catalogue)")]
    overall(catalogue, " of the catalogue topics")
    overall([row for row in rows if row not in catalogue], " of the typed topics")
    want_precision, want_recall = BARS[split]
    assert precision >= want_precision, f"{split}: precision {precision:.3f}"
    assert recall >= want_recall, f"{split}: recall {recall:.3f}"


def test_it_still_finds_the_seed_days_four_topics_exactly(db):
    run = ingest_file(DATA / "daily-papers-aug29.rss")
    assert Paper.objects.count() == run.new == 67
    rows = [
        (topic, found_by({"topic": topic}), set(j["on_topic"]), set(j["related"]))
        for topic, j in sorted(SEED_DAY.items())
    ]
    precision, recall = measure("seed day", rows)
    assert precision >= BARS["seed day"][0], f"precision {precision:.3f}"
    assert recall >= BARS["seed day"][1], f"recall {recall:.3f}"
