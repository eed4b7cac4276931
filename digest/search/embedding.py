"""Sentence embeddings: what a paper or a topic means, as a unit vector.

The model ships in the repository (``digest/search/model/minilm-l6-m2v-256-int8/``:
static model2vec embeddings distilled from all-MiniLM-L6-v2, Apache-2.0;
``tools/distill_model.py`` rebuilds it) and runs on numpy alone, with no network:
milliseconds for a day's papers. A missing or broken model is logged and ``load`` returns
None; matching then works on words alone.
Plain Python, no Django imports.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).resolve().parent / "model" / "minilm-l6-m2v-256-int8"
# Stored per paper: float16 halves the bytes and changes cosines by under 0.001.
STORED_DTYPE = np.float16
# A paper's text is cut here before embedding: the model reads 512 tokens at most anyway.
MAX_CHARS = 4000


class Encoder:
    """A loaded model. ``name`` identifies it (directory and weights), so embeddings stored
    by another model are recognised as stale."""

    def __init__(self, model, name: str, dimensions: int) -> None:
        self.model = model
        self.name = name
        self.dimensions = dimensions

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length float32 row per text; an empty text gives a zero row."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        cut = [(t or "")[:MAX_CHARS] for t in texts]
        vectors = np.asarray(
            self.model.encode(cut, use_multiprocessing=False), dtype=np.float32
        ).reshape(len(cut), self.dimensions)
        return unit_rows(vectors)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.nan_to_num(np.asarray(vectors, dtype=np.float32), copy=False)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


def paper_text(title: str, abstract: str) -> str:
    return f"{title or ''}. {abstract or ''}".strip(" .")


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=STORED_DTYPE).tobytes()


def from_bytes(data: bytes | memoryview | None, dimensions: int) -> np.ndarray | None:
    """A stored vector, or None if it is absent or not of this model's size."""
    if not data:
        return None
    raw = bytes(data)
    if len(raw) != dimensions * np.dtype(STORED_DTYPE).itemsize:
        return None
    return np.frombuffer(raw, dtype=STORED_DTYPE).astype(np.float32)


@lru_cache(maxsize=4)
def load(path: str | Path | None = None) -> Encoder | None:
    """The model in directory ``path`` (default the one shipped), loaded once per process;
    None, with a warning in the log, if it is missing, unreadable or gives no vectors."""
    directory = Path(path or MODEL_DIR).expanduser().resolve()
    weights = directory / "model.safetensors"
    # model2vec reads a path that does not exist as a model hub name and would try the
    # network: check first, and forbid the hub anyway.
    if not weights.is_file() or not (directory / "tokenizer.json").is_file():
        log.warning(
            "No embedding model in %s (model.safetensors and tokenizer.json expected): "
            "matching by words only",
            directory,
        )
        return None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from model2vec import StaticModel

        model = StaticModel.from_pretrained(str(directory))
        probe = np.asarray(model.encode(["graph neural networks"]), dtype=np.float32)
        if probe.ndim != 2 or not probe.shape[1] or not np.isfinite(probe).all():
            raise ValueError(f"the model gives vectors of shape {probe.shape}")
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    except Exception as error:
        log.warning(
            "Could not load the embedding model in %s (%s: %s): matching by words only",
            directory,
            error.__class__.__name__,
            error,
        )
        return None
    return Encoder(model, f"{directory.name}:{digest}", probe.shape[1])
