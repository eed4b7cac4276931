"""What the ranking allows: for each plain-word dev topic of the judged set, the engine's
scores before its cut (words' relevance plus closeness in meaning, for every paper of the
day), and the most on-topic papers any cut of that ranking could keep at a precision of
at least 0.90 and 0.80, the cut chosen per topic by looking at the judgments (an oracle
no engine has). Printed beside what the shipped cut keeps, so a shortfall can be put on
the ranking or on the cut (docs/matching.md, "What limits it"). Dev topics only: the
held-out ones are never looked at topic by topic. Also printed: how far a second, blind
reading of 14 dev topics (tests/data/relevance-second-judge.json) agrees with the
judgments, scored as the engine is.

    python3 dev.py test tools/relevance_ceiling.py -q -s

Another model's ranking: with CEILING_VECTORS=<file.npz> its vectors stand in for the
shipped model's. The first run writes the texts it lacks to <file.npz>.missing.json and
fails; tools/embed_texts.py embeds them into the file (with torch, outside the project's
virtualenv); the next run measures.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from digest.matching import day_index
from digest.models import Paper
from digest.search import embedding
from digest.search import language as tl
from digest.search.index import PaperIndex
from tests.test_relevance import DATA, JUDGED, all_sample_papers, overall  # noqa: F401 (a fixture)

PRECISIONS = (0.9, 0.8)
SECOND_READING = json.loads((DATA / "relevance-second-judge.json").read_text())["topics"]


class Vectors:
    """A model2vec stand-in that answers from a file of (text, vector) pairs and notes
    the texts it has no vector for."""

    def __init__(self, path: Path, dimensions: int) -> None:
        self.vectors: dict[str, np.ndarray] = {}
        if path.exists():
            stored = np.load(path, allow_pickle=True)
            self.vectors = dict(zip(stored["texts"].tolist(), stored["vectors"], strict=True))
            dimensions = stored["vectors"].shape[1]
        self.dimensions = dimensions
        self.missing: set[str] = set()

    def encode(self, texts: Sequence[str], use_multiprocessing: bool = False) -> np.ndarray:
        for text in texts:
            if text not in self.vectors:
                self.missing.add(text)
        zero = np.zeros(self.dimensions, dtype=np.float32)
        return np.array([self.vectors.get(text, zero) for text in texts], dtype=np.float32)


@pytest.fixture
def model(monkeypatch):
    """The shipped model, or the vectors of CEILING_VECTORS in its place."""
    where = os.environ.get("CEILING_VECTORS")
    if not where:
        yield "the shipped model"
        return
    path = Path(where)
    shipped = embedding.load()
    assert shipped is not None, "the shipped model is missing"
    vectors = Vectors(path, shipped.dimensions)  # its size until the file gives one
    stand_in = embedding.Encoder(vectors, f"vectors:{path.name}", vectors.dimensions)
    monkeypatch.setattr(embedding, "load", lambda where=None: stand_in)
    yield f"the vectors of {path}"
    if vectors.missing:
        missing = path.with_name(path.name + ".missing.json")
        missing.write_text(json.dumps(sorted(vectors.missing)))
        pytest.fail(
            f"{len(vectors.missing)} texts have no vector in {path}: run tools/embed_texts.py "
            f"on {missing}, then this again"
        )


def best_cut(scores: np.ndarray, wanted: set[int], related: set[int], precision: float) -> int:
    """The most on-topic papers kept by any cut of ``scores`` at ``precision`` or more."""
    right = wrong = best = 0
    for doc in np.argsort(-scores, kind="stable").tolist():
        if doc in related:
            continue
        right, wrong = right + (doc in wanted), wrong + (doc not in wanted)
        if right >= precision * (right + wrong):
            best = max(best, right)
    return best


def uncut_scores(index: PaperIndex, node: tl.Concept) -> np.ndarray:
    """The engine's score of every paper before the cut (as ``PaperIndex._blend`` scores
    what it keeps): relevance by words plus closeness in meaning."""
    words, closeness, _ = index.evidence(node)
    scores = closeness.astype(float)
    for doc, relevance in words.items():
        scores[doc] += relevance
    return scores


def test_print_what_the_ranking_allows(model, all_sample_papers):  # noqa: F811
    papers = list(Paper.objects.order_by("pk"))
    index = day_index(papers).index
    number = {p.key: n for n, p in enumerate(papers)}
    rows = []
    oracle = dict.fromkeys(PRECISIONS, 0)
    for topic in JUDGED:
        if topic["split"] != "dev" or topic.get("catalogue"):
            continue
        node = tl.parse(topic["topic"])
        assert isinstance(node, tl.Concept), topic["topic"]
        wanted = {j["key"] for j in topic["on_topic"]}
        related = {j["key"] for j in topic["related"]}
        scores = uncut_scores(index, node)
        for precision in PRECISIONS:
            oracle[precision] += best_cut(
                scores, {number[k] for k in wanted}, {number[k] for k in related}, precision
            )
        found = {papers[d].key for d in index.topic(node)}
        rows.append((topic["topic"], found, wanted, related))
    wanted_all = sum(len(wanted) for _, _, wanted, _ in rows)
    print(f"\nplain-word dev topics, {wanted_all} on-topic papers, {model}")
    overall(rows, " of the shipped cut")  # counted as tests/test_relevance.py counts
    for precision, right in oracle.items():
        print(f"  best cut per topic at precision >= {precision}: recall {right / wanted_all:.3f}")


def test_print_how_far_two_readers_agree():
    """Each reading of the 14 twice-read topics scored against the other, as the engine is
    scored against the judgments (the other reader's related papers count neither way)."""
    first = {t["topic"]: t for t in JUDGED if not t.get("catalogue")}
    print(f"\n{len(SECOND_READING)} topics read twice")
    for name, found_by, judged_by in (("second", 0, 1), ("first", 1, 0)):
        rows = []
        for second in SECOND_READING:
            readings = (second, first[second["topic"]])
            rows.append(
                (
                    second["topic"],
                    {j["key"] for j in readings[found_by]["on_topic"]},
                    {j["key"] for j in readings[judged_by]["on_topic"]},
                    {j["key"] for j in readings[judged_by]["related"]},
                )
            )
        overall(rows, f" of the {name} reading scored against the other")
