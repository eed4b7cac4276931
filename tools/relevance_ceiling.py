"""What the ranking allows: for each plain-word dev topic of the judged set, the engine's
scores before its cut (words' relevance plus closeness in meaning, for every paper of the
day), and the most on-topic papers any cut of that ranking could keep at a precision of
at least 0.90 and 0.80, the cut chosen per topic by looking at the judgments (an oracle
no engine has). Printed beside what the shipped cut keeps, so a shortfall can be put on
the ranking or on the cut (docs/matching.md, "What limits it"). Dev topics only: the
held-out ones are never looked at topic by topic.

    python3 dev.py test tools/relevance_ceiling.py -q -s
"""

from __future__ import annotations

import numpy as np

from digest.matching import day_index
from digest.models import Paper
from digest.search import language as tl
from digest.search.index import PaperIndex
from tests.test_relevance import JUDGED, all_sample_papers, figures  # noqa: F401 (a fixture)

PRECISIONS = (0.9, 0.8)


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


def test_print_what_the_ranking_allows(all_sample_papers):  # noqa: F811
    papers = list(Paper.objects.order_by("pk"))
    index = day_index(papers).index
    number = {p.key: n for n, p in enumerate(papers)}
    wanted_all = right_all = wrong_all = 0
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
        # Counted as tests/test_relevance.py counts the engine's matches.
        right, wrong = figures({papers[d].key for d in index.topic(node)}, wanted, related)
        wanted_all += len(wanted)
        right_all += right
        wrong_all += wrong
    shipped = right_all / (right_all + wrong_all)
    print(f"\nplain-word dev topics, {wanted_all} on-topic papers")
    print(f"  shipped cut: precision {shipped:.3f}, recall {right_all / wanted_all:.3f}")
    for precision, right in oracle.items():
        print(f"  best cut per topic at precision >= {precision}: recall {right / wanted_all:.3f}")
