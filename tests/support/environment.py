"""Loaded with ``-p`` (pyproject's addopts) before Django reads its settings.

Settings fail closed (DEBUG off, a real SECRET_KEY required), so the suite brings its
own random key; worker, gunicorn and ``manage.py`` processes the tests start inherit it.
Hypothesis keeps its caches under var/ (kept out of git), not in a ``.hypothesis/`` of
the checkout.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

if not os.environ.get("SECRET_KEY"):
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)

_var = Path(os.environ.get("VAR_DIR") or Path(__file__).resolve().parents[2] / "var")
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(_var / "hypothesis"))
