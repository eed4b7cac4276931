"""A subscriber's taste, learned from their votes: a per-subscriber linear model over the
papers' embeddings. Plain Python and numpy, no Django imports.

As arxiv-sanity-lite trains a linear SVM per user (positives: the papers they liked;
negatives: all the others), each subscriber gets a linear classifier of the day's papers:
positives are the papers they liked, negatives the day's papers by default and, above
them, the papers they disliked. It is Fisher's linear discriminant, which is what a
class-balanced least-squares linear classifier with an L2 penalty comes to, in closed
form: with ``S`` the covariance of the day's papers (shared by every subscriber),

    w = (S + RIDGE * I)^-1 (mean of liked - mean of negatives)

The one matrix inverse is made once per day (``Learner``), and so is each voted paper's
contribution to the day's scores (``w`` is linear in the voted papers), whoever voted on
it; a subscriber's model is then a few sums of vectors, some tens of microseconds, where
a few gradient steps over the day per subscriber would cost milliseconds. Deterministic:
no sampling, no iteration.

A paper's score is read against the day (a z-score: standard deviations above the day's
mean score), so one cut serves every subscriber:
- papers of the topics' candidates move up or down by ``FEEDBACK * z / Z_FULL`` (at most
  ``FEEDBACK``): a disliked paper's neighbours go down, and out of a full digest;
- with at least ``MIN_LIKES`` liked papers, up to ``MOST_ADDED`` papers no topic found
  join the digest when their z-score is at least ``ADD_Z``, "because you liked" the liked
  paper closest to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from digest.search.embedding import from_bytes
from digest.search.meaning import Space, zscores
from digest.search.ranking import blend

# Chosen on the dev topics of tests/data/relevance-judged.json by the simulation of
# tests/test_feedback_relevance.py (docs/matching.md, "Feedback").
RIDGE = 30.0  # times the mean variance of the day's papers: how far from a plain centroid
DISLIKED_WEIGHT = 1.0  # a disliked paper against the whole day as negatives
FEEDBACK = 0.1  # the most a score moves up or down
Z_FULL = 3.0  # the z-score that moves a score by all of FEEDBACK
ADD_Z = 3.0  # the z-score from which a paper no topic found joins
MIN_LIKES = 1
MOST_ADDED = 2
NEAR = 50  # papers added are looked for among this many closest to each liked one
# Voted papers kept placed (about 11 kB each with 2,500 papers of the day: 110 MB at most).
VOTED_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class Vote:
    """A vote as the model reads it: ``key`` names the paper (its id), ``doc`` is its
    number among the day's papers when it is one of them, ``stored`` its stored embedding
    (bytes, of the running model) otherwise."""

    key: int
    value: int  # +1 more like this, -1 less like this
    title: str
    doc: int | None = None
    stored: bytes | None = None


@dataclass(frozen=True, slots=True)
class _Voted:
    """A voted paper in the day's space, worked out once per day whoever voted on it."""

    vector: np.ndarray
    scores: np.ndarray  # per paper of the day, its vector times the inverse times this one
    near: np.ndarray  # its NEAR closest papers of the day


class Learner:
    """What every subscriber's model shares on one day: the day's papers (the rows of
    the index's embedding space), the inverse of their regularised covariance, and each
    voted paper placed among them (many subscribers vote on the same papers)."""

    def __init__(self, space: Space, popular: Sequence[float]) -> None:
        self.space = space
        self.popular = popular
        matrix = space.matrix
        mean = matrix.mean(axis=0)
        spread = matrix - mean
        covariance = (spread.T @ spread) / max(len(matrix), 1)
        ridge = RIDGE * float(np.trace(covariance)) / matrix.shape[1]
        self.inverse = np.linalg.inv(
            covariance + (ridge or 1.0) * np.eye(matrix.shape[1], dtype=np.float32)
        ).astype(np.float32)
        self.mean_scores = matrix @ (self.inverse @ mean)
        self._voted: dict[tuple[str, int], _Voted | None] = {}

    def taste(self, votes: Sequence[Vote]) -> Taste | None:
        """The model of one subscriber's votes; None when none of the voted papers has
        an embedding. Papers of the day they voted on are never added."""
        liked: list[tuple[_Voted, str]] = []
        disliked: list[_Voted] = []
        for vote in votes:
            voted = self._place(vote)
            if voted is None:
                continue  # embedded by no model or another one: it cannot teach
            if vote.value > 0:
                liked.append((voted, vote.title))
            else:
                disliked.append(voted)
        if not liked and not disliked:
            return None
        # The day's scores under w = inverse (mean of liked - mean of negatives): the
        # same sums of each voted paper's scores, kept, as w is linear in them.
        positive = self.mean_scores
        if liked:
            positive = sum(v.scores for v, _ in liked) / len(liked)
        negative = self.mean_scores
        if disliked:
            total = sum(v.scores for v in disliked)
            negative = (negative + DISLIKED_WEIGHT * total) / (1 + DISLIKED_WEIGHT * len(disliked))
        z = zscores(positive - negative)
        if not z.any():  # the votes tell the day's papers apart no way
            return None
        days = frozenset(vote.doc for vote in votes if vote.doc is not None)
        return Taste(self, z, liked, days)

    def _place(self, vote: Vote) -> _Voted | None:
        key = ("day", vote.doc) if vote.doc is not None else ("paper", vote.key)
        if key in self._voted:
            return self._voted[key]
        matrix = self.space.matrix
        if vote.doc is not None:
            vector = matrix[vote.doc]
        else:
            stored = from_bytes(vote.stored, matrix.shape[1])
            vector = None if stored is None else self.space.centred(stored[np.newaxis])[0]
        placed = None
        if vector is not None:
            similarity = matrix @ vector
            count = min(NEAR, len(similarity))
            near = np.argpartition(-similarity, count - 1)[:count]
            placed = _Voted(vector, matrix @ (self.inverse @ vector), near)
        if len(self._voted) >= VOTED_KEPT:
            self._voted.clear()
        self._voted[key] = placed
        return placed


@dataclass(frozen=True, slots=True)
class Taste:
    """One subscriber's model on the day: ``z`` is each paper's score as a z-score over
    the day's papers (standard deviations above their mean score)."""

    learner: Learner
    z: np.ndarray
    liked: list[tuple[_Voted, str]]  # and their titles
    voted: frozenset[int]

    def adjust(self, docs: Sequence[int]) -> list[float]:
        """How much the taste moves each paper's score."""
        # np.clip's numbers, without its wrapper's cost (once per voter)
        moved = FEEDBACK * np.minimum(np.maximum(self.z[docs] / Z_FULL, -1.0), 1.0)
        return moved.tolist()

    def additions(
        self, taken: set[int] | frozenset[int], inside: Sequence[bool] | None = None
    ) -> list[tuple[float, int]]:
        """Up to MOST_ADDED papers no topic brought, as (score, paper), best first: the
        ones the model is surest of, if sure enough, never one in ``taken`` nor voted on,
        only papers ``inside`` says yes to (the subscriber's window; None: all).
        They are looked for among the NEAR papers closest to each liked one (where a
        paper like them is), not the whole day. Their score is the topics' blend with
        the z-score standing for relevance."""
        if len(self.liked) < MIN_LIKES:
            return []
        near = np.concatenate([voted.near for voted, _ in self.liked])
        z = self.z[near]
        sure = z >= ADD_Z
        # A set: a paper near two liked ones comes twice.
        best = sorted(set(zip((-z[sure]).tolist(), near[sure].tolist(), strict=True)))
        popular = self.learner.popular
        out: list[tuple[float, int]] = []
        for negative, doc in best:
            if doc not in taken and doc not in self.voted and (inside is None or inside[doc]):
                out.append((blend(-negative, popular[doc]), doc))
                if len(out) == MOST_ADDED:
                    break
        return out

    def closest_liked(self, doc: int) -> str:
        """The title of the liked paper closest in meaning to paper ``doc``."""
        row = self.learner.space.matrix[doc]
        return max(self.liked, key=lambda liked: float(liked[0].vector @ row))[1]
