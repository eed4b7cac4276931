"""A subscriber's taste, learned from their votes: a per-subscriber linear model over the
papers' embeddings. Plain Python and numpy, no Django imports.

As arxiv-sanity-lite trains a linear SVM per user (positives: the papers they liked;
negatives: all the others), each subscriber gets a linear classifier of the day's papers:
positives are the papers they liked, negatives the day's papers by default and, above
them, the papers they disliked. It is Fisher's linear discriminant, which is what a
class-balanced least-squares linear classifier with an L2 penalty comes to, in closed
form: with ``S`` the covariance of the day's papers (shared by every subscriber),

    w = (S + RIDGE * I)^-1 (mean of liked - mean of negatives)

so the one matrix inverse is made once per day (``Learner``) and a subscriber's model
costs one product of a 256 x 256 matrix with a vector, then one of the day's papers with
``w``: some tens of microseconds, where a few gradient steps over the day per subscriber
would cost milliseconds. Deterministic: no sampling, no iteration.

A paper's score is read against the day (a z-score: standard deviations above the day's
mean score), so one cut serves every subscriber:
- papers of the topics' candidates move up or down by ``FEEDBACK * z / Z_FULL`` (at most
  ``FEEDBACK``): a disliked paper's neighbours go down, and out of a full digest;
- with at least ``MIN_LIKES`` liked papers, up to ``MOST_ADDED`` papers no topic found
  join the digest when their z-score is at least ``ADD_Z``, "because you liked" the liked
  paper closest to them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from digest.search.meaning import Space
from digest.search.ranking import blend

# Chosen on the dev topics of tests/data/relevance-judged.json by tests/test_feedback.py's
# simulation (docs/matching.md, "Feedback").
RIDGE = 30.0  # times the mean variance of the day's papers: how far from a plain centroid
DISLIKED_WEIGHT = 1.0  # a disliked paper against the whole day as negatives
FEEDBACK = 0.1  # the most a score moves up or down
Z_FULL = 3.0  # the z-score that moves a score by all of FEEDBACK
ADD_Z = 3.0  # the z-score from which a paper no topic found joins
MIN_LIKES = 2
MOST_ADDED = 2


class Learner:
    """What every subscriber's model shares on one day: the day's papers (the rows of
    the index's embedding space) and the inverse of their regularised covariance."""

    def __init__(self, space: Space, popular: Sequence[float]) -> None:
        self.space = space
        self.popular = popular
        matrix = space.matrix
        self.mean = matrix.mean(axis=0)
        spread = matrix - self.mean
        self.covariance = (spread.T @ spread) / max(len(matrix), 1)
        ridge = RIDGE * float(np.trace(self.covariance)) / matrix.shape[1]
        self.inverse = np.linalg.inv(
            self.covariance + (ridge or 1.0) * np.eye(matrix.shape[1], dtype=np.float32)
        ).astype(np.float32)

    def place(self, doc: int | None, stored: np.ndarray | None) -> np.ndarray | None:
        """A voted paper in the day's space: its row if it is one of the day's papers
        (``doc``), else its stored embedding centred like them (None without one)."""
        if doc is not None:
            return self.space.matrix[doc]
        if stored is None or stored.shape != self.mean.shape:
            return None
        return self.space.centred(stored[np.newaxis])[0]

    def taste(
        self,
        liked: Sequence[tuple[np.ndarray, str]],
        disliked: Sequence[np.ndarray],
        voted: frozenset[int] = frozenset(),
    ) -> Taste | None:
        """The model of one subscriber's votes: ``liked`` as (vector, title), vectors in
        the day's space (``place``); ``voted`` the day's papers (index numbers) they
        voted on, never added. None without votes."""
        if not liked and not disliked:
            return None
        positives = np.stack([v for v, _ in liked]) if liked else None
        negatives = np.stack(disliked) if disliked else None
        positive = positives.mean(axis=0) if positives is not None else self.mean
        negative = self.mean
        if negatives is not None:
            weight = DISLIKED_WEIGHT * len(negatives)
            negative = (self.mean + DISLIKED_WEIGHT * negatives.sum(axis=0)) / (1 + weight)
        w = self.inverse @ (positive - negative)
        spread = math.sqrt(max(float(w @ self.covariance @ w), 0.0))
        if not spread or not np.isfinite(spread):
            return None
        z = (self.space.matrix @ w - float(self.mean @ w)) / spread
        titles = [title for _, title in liked]
        return Taste(self, z, positives, titles, voted)


@dataclass(frozen=True, slots=True)
class Taste:
    """One subscriber's model applied to the day: ``z`` is each paper's score as a
    z-score over the day's papers."""

    learner: Learner
    z: np.ndarray
    liked: np.ndarray | None  # the liked papers in the day's space, one row each
    titles: list[str]
    voted: frozenset[int]

    def adjust(self, doc: int) -> float:
        """How much the taste moves paper ``doc``'s score."""
        return FEEDBACK * max(-1.0, min(1.0, float(self.z[doc]) / Z_FULL))

    def additions(self, taken: set[int] | frozenset[int]) -> list[tuple[float, int]]:
        """Up to MOST_ADDED papers no topic brought, as (score, paper), best first: the
        ones the model is surest of, if sure enough, never one in ``taken`` nor voted on.
        Their score is the topics' blend with the z-score standing for relevance."""
        if self.liked is None or len(self.liked) < MIN_LIKES:
            return []
        best = np.flatnonzero(self.z >= ADD_Z)
        best = best[np.argsort(-self.z[best], kind="stable")]
        out = []
        for doc in best.tolist():
            if doc not in taken and doc not in self.voted:
                out.append((blend(float(self.z[doc]), self.learner.popular[doc]), doc))
                if len(out) == MOST_ADDED:
                    break
        return out

    def closest_liked(self, doc: int) -> str:
        """The title of the liked paper closest in meaning to paper ``doc``."""
        if self.liked is None:
            return ""
        similarity = self.liked @ self.learner.space.matrix[doc]
        return self.titles[int(np.argmax(similarity))]
