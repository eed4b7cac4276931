"""Finding papers for a topic: text normalisation (``text``), the topic language
(``language``), the in-memory index of a day's papers (``index``), scoring (``ranking``),
meaning (``embedding``, ``meaning``, ``vocabulary``) and the why of a match (``why``).

Plain Python and numpy with no Django import (tests/test_layout.py fails if one appears),
so the engine can be read, tested and benchmarked on its own; ``digest/matching.py`` is
the thin adapter between it and the database.
"""

import os

# One BLAS thread per process: a worker or web process is one of several on the machine,
# and the engine's products (a topic against a day's papers) are too small to gain from
# threads, which otherwise spin and cost seven times the CPU (docs/benchmarks.md). Set
# before numpy is first imported, which is here or later; the environment may override.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
