"""Matching by meaning: the day's papers as points in an embedding space, how close a
topic is to each, and the words that say why. Plain Python and numpy, no Django imports.

Closeness is read against the day's own distribution: a topic's similarity to every paper
of the day becomes a z-score (how many standard deviations above the day's mean), since
raw cosines of a static model sit at different heights for different topics ("RAG" tops
out near 0, "Reasoning" near 0.8) while the shape of the distribution does not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from digest.search.embedding import Encoder, unit_rows
from digest.search.text import clean

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
MIN_SENTENCE_CHARS = 25


def zscores(values: np.ndarray) -> np.ndarray:
    # The numbers of ndarray.mean and .std (float32 and float64 arrays), with the mean
    # and the centred values computed once for both: every voter's model reads the day
    # this way, and the two calls were half of it.
    if not values.size:
        return np.zeros_like(values)
    centred = values - np.add.reduce(values) / values.size
    spread = float(np.sqrt(np.add.reduce(centred * centred) / values.size))
    if not spread or not np.isfinite(spread):
        return np.zeros_like(values)
    return centred / spread


class Space:
    """The papers of an index as unit vectors centred on their mean (the direction every
    text shares says nothing about a topic), and the model that places topics among them."""

    def __init__(self, encoder: Encoder, vectors: np.ndarray) -> None:
        self.encoder = encoder
        self.mean = vectors.mean(axis=0)
        self.matrix = unit_rows(vectors - self.mean)
        self._topics: dict[str, np.ndarray] = {}

    def centred(self, vectors: np.ndarray) -> np.ndarray:
        return unit_rows(vectors - self.mean)

    def prepare(self, texts: Sequence[str]) -> None:
        """Embed these topic texts in one call (one call per text costs a few times more)."""
        wanted = [t for t in dict.fromkeys(texts) if t not in self._topics]
        if len(self._topics) + len(wanted) > 50_000:
            self._topics.clear()
        if wanted:
            self._topics.update(zip(wanted, self.centred(self.encoder.encode(wanted)), strict=True))

    def closeness(self, text: str) -> np.ndarray:
        """Per paper, the z-score of its similarity to ``text`` over the day's papers."""
        vector = self._topics.get(text)
        if vector is None:
            vector = self.centred(self.encoder.encode([text]))[0]
        return zscores(self.matrix @ vector)

    def likeness(self, docs: Sequence[int]) -> np.ndarray:
        """Per paper, the z-score of its similarity to the centre of ``docs``: the papers
        a topic's words found best show what the topic means on this day."""
        centre = self.matrix[list(docs)].mean(axis=0)
        norm = float(np.linalg.norm(centre))
        if not norm:
            return np.zeros(len(self.matrix), dtype=np.float32)
        return zscores(self.matrix @ (centre / norm))

    def closest_sentence(self, text: str, abstract: str) -> str:
        """The sentence of ``abstract`` closest in meaning to ``text`` ("" if none)."""
        sentences = [s.strip() for s in _SENTENCE.split(clean(abstract or "")) if s.strip()]
        sentences = [s for s in sentences if len(s) >= MIN_SENTENCE_CHARS] or sentences
        if not sentences:
            return ""
        if len(sentences) == 1:
            return sentences[0]
        vectors = self.centred(self.encoder.encode([text, *sentences]))
        return sentences[int(np.argmax(vectors[1:] @ vectors[0]))]
