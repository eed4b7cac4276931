"""Read settings from environment variables, failing loudly on a bad value.

Each helper names the variable in its error, so a typo in a deployment stops
start-up with a message an operator can act on instead of a mystery later.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false (1/0, yes/no), not {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_url(name: str, default: str, *, schemes: tuple[str, ...]) -> str:
    raw = (os.environ.get(name) or default).strip()
    scheme = urlsplit(raw).scheme
    if scheme not in schemes:
        allowed = ", ".join(f"{s}://" for s in schemes)
        raise ImproperlyConfigured(f"{name} must start with one of {allowed}, not {raw!r}")
    return raw.rstrip("/") if scheme in ("http", "https") else raw


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


# Keys that must never sign a production link: Django's own development prefix, the
# constant earlier releases fell back to, and the placeholders of example files.
_PLACEHOLDER_WORDS = ("django-insecure-", "insecure", "change-me", "changeme", "placeholder")
SECRET_KEY_MIN_LENGTH = 50  # what Django's `check --deploy` asks for
DEVELOPMENT_KEY_FILE = "development-secret-key"


def env_secret_key(name: str, *, debug: bool, var_dir: Path) -> str:
    """The signing key from ``name``; with ``debug`` on and none given, a development key.

    With ``debug`` off, a missing, short, repetitive or placeholder key stops start-up:
    every emailed link is signed with it, and a known key forges sign-in links.
    """
    key = os.environ.get(name, "").strip()
    if debug:
        return key or development_secret_key(var_dir)
    if not key:
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is off")
    if len(key) < SECRET_KEY_MIN_LENGTH or len(set(key)) < 5:
        raise ImproperlyConfigured(
            f"{name} must be at least {SECRET_KEY_MIN_LENGTH} random characters when DEBUG is "
            'off; make one with: python -c "import secrets; print(secrets.token_urlsafe(50))"'
        )
    if any(word in key.lower() for word in _PLACEHOLDER_WORDS):
        raise ImproperlyConfigured(
            f"{name} is a development or placeholder key; set a random one when DEBUG is off"
        )
    return key


def development_secret_key(var_dir: Path) -> str:
    """A random key made once per checkout (so the web process and the worker sign
    alike, and links survive a restart), prefixed so `check --deploy` flags it."""
    path = var_dir / DEVELOPMENT_KEY_FILE
    if not path.exists():
        # Written whole beside it, then linked in: of two processes starting at once,
        # the first link wins and both read the same key.
        draft = var_dir / f".{DEVELOPMENT_KEY_FILE}.{os.getpid()}"
        draft.write_text(f"django-insecure-{secrets.token_urlsafe(50)}")
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()
