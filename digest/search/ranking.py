"""Scores and the per-subscriber cut. Plain Python, no Django imports.

    score = (1 - POPULARITY) * r / (r + HALF) + POPULARITY * ln(1 + upvotes) / ln(1 + top)

where r is the topic's relevance (BM25F, see paper_index.py) and ``top`` the most upvotes
of any paper of the day. Scores lie in [0, 1], so ``min_score`` reads as a fraction. A
subscriber's votes then move scores and may add papers (``digest.search.taste``).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from digest.search.index import Doc, Hits

if TYPE_CHECKING:
    from digest.search.taste import Taste

POPULARITY = 0.25
HALF = 2.0  # the relevance at which the relevance part is half its maximum
# With a taste, the best TASTE_POOL times the cap are re-ranked: room for papers to move.
TASTE_POOL = 3
# The topic number of a paper the taste added (topics are numbered from 0).
BY_TASTE = -1


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


def select(
    topics: Sequence[Ranked],
    *,
    cap: int,
    min_score: float = 0.0,
    exclude: frozenset[int] | set[int] = frozenset(),
    taste: Taste | None = None,
    inside: Sequence[bool] | None = None,
) -> list[tuple[float, int, int]]:
    """A subscriber's best ``cap`` papers over their topics, as (score, paper, topic):
    each paper once, under the topic that scored it highest, never one in ``exclude``.
    ``inside`` is the subscriber's window (see ``within``), which the topics' lists
    already respect, for the papers a taste adds.

    The topics' sorted lists are merged lazily, only as far as the digest needs, so the
    cost grows with ``cap``, not with the number of matches. A taste re-ranks the best
    TASTE_POOL times ``cap`` and may add papers no topic brought, under the topic number
    BY_TASTE, in free places or in place of the last ones (up to half the digest)."""
    if cap <= 0:
        return []
    wanted = cap * TASTE_POOL if taste is not None else cap
    # The merge stops below min_score (-score above -min_score), or not with a taste.
    ceiling = -min_score if taste is None else math.inf
    # Lazily: a sort of every list's head (TASTE_POOL times the cap each) cost a voter
    # twice what merging the few dozen entries looked at does (docs/benchmarks.md).
    best: list[tuple[float, int, int]] = []  # as the lists hold them: (-score, paper, topic)
    seen = set(exclude)
    for entry in heapq.merge(*(ranked.entries for ranked in topics)):
        if entry[0] > ceiling:
            break
        if entry[1] not in seen:
            seen.add(entry[1])
            best.append(entry)
            if len(best) == wanted:
                break
    if taste is None:
        return [(-negative, doc, topic) for negative, doc, topic in best]
    moved = taste.adjust([doc for _, doc, _ in best]) if best else []
    # Moved, and kept as the lists hold them, so that plain sorts put them best first,
    # ties by paper (a paper is there once).
    kept = [
        (negative - by, doc, topic)
        for (negative, doc, topic), by in zip(best, moved, strict=True)
        if negative - by <= -min_score
    ]
    kept.sort()
    added = [
        (-score, doc, BY_TASTE)
        for score, doc in taste.additions(seen, inside)
        if score >= min_score
    ]
    # Added papers fill free places, and take at most half of a full digest's: a digest of
    # one paper keeps the topics' best.
    added = added[: max(cap - len(kept), cap // 2)]
    chosen = kept[: cap - len(added)] + added
    chosen.sort()
    return [(-negative, doc, topic) for negative, doc, topic in chosen]
