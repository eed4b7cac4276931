"""Loaded with ``-p`` (pyproject's addopts) before Django reads its settings.

Settings fail closed (DEBUG off, a real SECRET_KEY required), so the suite brings its
own random key; worker, gunicorn and ``manage.py`` processes the tests start inherit it.
Hypothesis keeps its caches in the checkout's var/ (kept out of git, and not the run's
own VAR_DIR, which ``dev.py test`` removes at the end), not in a ``.hypothesis/``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

if not os.environ.get("SECRET_KEY"):
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)

_checkout_var = Path(__file__).resolve().parents[2] / "var"
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(_checkout_var / "hypothesis"))
