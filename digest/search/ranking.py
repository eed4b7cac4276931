"""Scores, feedback and the per-subscriber cut. Plain Python, no Django imports.

    score = (1 - POPULARITY) * r / (r + HALF) + POPULARITY * ln(1 + upvotes) / ln(1 + top)

where r is the topic's relevance (BM25F, see paper_index.py) and ``top`` the most upvotes
of any paper of the day. A subscriber's feedback then adds up to +/- FEEDBACK:

    score += FEEDBACK * (cos(paper, liked) - cos(paper, disliked))

with ``liked`` and ``disliked`` the sums of the tf-idf vectors of the papers they gave
a thumbs up or down. Scores lie in [0, 1] before feedback, so ``min_score`` reads as a
fraction.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter

from digest.search.index import Doc, Hits, PaperIndex, cosine

POPULARITY = 0.25
HALF = 2.0  # the relevance at which the relevance part is half its maximum
FEEDBACK = 0.3
TASTE_POOL = 3
TASTE_TERMS = 50


@dataclass(frozen=True, slots=True)
class Ranked:
    """One topic's matches, best first, as (-score, paper number, topic number) tuples so
    that the lists of several topics merge with one plain sort, no key function."""

    entries: list[tuple[float, int, int]]
    number: int


def popularity(docs: Sequence[Doc]) -> list[float]:
    top = max((d.upvotes for d in docs), default=0)
    if top <= 0:
        return [0.0] * len(docs)
    scale = math.log1p(top)
    return [math.log1p(max(d.upvotes, 0)) / scale for d in docs]


def rank(hits: Hits, popular: Sequence[float], topic_number: int = 0) -> Ranked:
    # blend() written out, as this runs for every match of every distinct topic.
    share, half = 1 - POPULARITY, HALF
    entries = [
        (-(share * r / (r + half) + POPULARITY * popular[doc]), doc, topic_number)
        for doc, r in hits.items()
    ]
    entries.sort()
    return Ranked(entries, topic_number)


def within(ranked: Ranked, inside: Sequence[bool]) -> Ranked:
    """The topic's matches among the papers ``inside`` says yes to (a subscriber's window),
    in the same order and under the same topic number."""
    return Ranked([entry for entry in ranked.entries if inside[entry[1]]], ranked.number)


def blend(relevance: float, popular: float) -> float:
    return (1 - POPULARITY) * relevance / (relevance + HALF) + POPULARITY * popular


@dataclass(frozen=True, slots=True)
class Taste:
    """A subscriber's feedback as two term vectors."""

    liked: dict[str, float]
    disliked: dict[str, float]

    @classmethod
    def from_feedback(cls, index: PaperIndex, votes: Iterable[tuple[Doc, int]]) -> Taste:
        liked: dict[str, float] = {}
        disliked: dict[str, float] = {}
        for doc, value in votes:
            target = liked if value > 0 else disliked
            for stem, weight in index.vector_of(doc).items():
                target[stem] = target.get(stem, 0.0) + weight
        return cls(_unit(liked), _unit(disliked))

    def adjust(self, index: PaperIndex, doc: int) -> float:
        vector = index.vectors()[doc]
        return FEEDBACK * (cosine(self.liked, vector) - cosine(self.disliked, vector))


def _unit(vector: dict[str, float]) -> dict[str, float]:
    """The TASTE_TERMS heaviest words, scaled to unit length: what characterises the
    papers, and a short vector keeps the similarity cheap."""
    kept = heapq.nlargest(TASTE_TERMS, vector.items(), key=itemgetter(1))
    norm = math.sqrt(sum(w * w for _, w in kept)) or 1.0
    return {stem: w / norm for stem, w in kept}


def select(
    topics: Sequence[Ranked],
    *,
    cap: int,
    min_score: float = 0.0,
    exclude: frozenset[int] | set[int] = frozenset(),
    taste: Taste | None = None,
    index: PaperIndex | None = None,
) -> list[tuple[float, int, int]]:
    """A subscriber's best ``cap`` papers over their topics, as (score, paper, topic):
    each paper once, under the topic that scored it highest, never one in ``exclude``.

    Only the heads of the topics' sorted lists are merged, so the cost grows with
    ``cap``, not with the number of matches. Feedback re-ranks the best TASTE_POOL
    times ``cap``."""
    if cap <= 0:
        return []
    wanted = cap * TASTE_POOL if taste is not None and index is not None else cap
    # A paper among the best ``wanted`` of the merge is among the best ``wanted`` of its
    # own topic, or ``wanted`` plus the excluded ones; so the heads of the lists suffice.
    head = wanted + len(exclude)
    merged: list[tuple[float, int, int]] = []
    for ranked in topics:
        merged += ranked.entries[:head]
    merged.sort()
    out: list[tuple[float, int, int]] = []
    seen = set(exclude)
    for negative, doc, topic in merged:
        if -negative < min_score and wanted == cap:
            break
        if doc not in seen:
            seen.add(doc)
            out.append((-negative, doc, topic))
            if len(out) == wanted:
                break
    if wanted == cap:
        return out
    assert taste is not None and index is not None  # else wanted == cap
    adjusted = [(score + taste.adjust(index, doc), doc, topic) for score, doc, topic in out]
    adjusted.sort(key=lambda entry: (-entry[0], entry[1]))
    return [entry for entry in adjusted if entry[0] >= min_score][:cap]
