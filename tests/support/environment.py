"""Loaded with ``-p`` (pyproject's addopts) before Django reads its settings.

Settings fail closed (DEBUG off, a real SECRET_KEY required), so the suite brings its
own random key; worker, gunicorn and ``manage.py`` processes the tests start inherit it.
"""

from __future__ import annotations

import os
import secrets

if not os.environ.get("SECRET_KEY"):
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)
