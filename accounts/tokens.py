"""Signed links for subscribers, one salt per purpose.

A token carries the subscriber's id and, for single-use purposes, their
current ``token_nonce``; spending a single-use link bumps the nonce. Signing
uses SECRET_KEY and SECRET_KEY_FALLBACKS, so a key rotation keeps old links.
"""

from __future__ import annotations

from django.core import signing

# Purpose -> maximum age in seconds (None: never expires).
MAX_AGE = {
    "confirm": 7 * 24 * 3600,
    "login": 3600,
    "unsubscribe": None,
    "feedback": None,
    "webview": None,
}


class InvalidToken(Exception):
    """Forged, truncated, expired, spent or made for another purpose."""

    def __init__(self, message: str = "This link is not valid.", *, expired: bool = False):
        super().__init__(message)
        self.expired = expired


def _salt(purpose: str) -> str:
    if purpose not in MAX_AGE:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return f"paperwire.tokens.{purpose}"


def make_token(purpose: str, subscriber_id: int, **extra) -> str:
    """Sign ``{"s": subscriber_id, **extra}`` for one purpose."""
    return signing.dumps({"s": subscriber_id, **extra}, salt=_salt(purpose), compress=True)


def read_token(purpose: str, token: str) -> dict:
    """Return the payload, or raise InvalidToken (``expired=True`` when only age failed)."""
    try:
        payload = signing.loads(token, salt=_salt(purpose), max_age=MAX_AGE[purpose])
    except signing.SignatureExpired:
        raise InvalidToken("This link has expired.", expired=True) from None
    except (signing.BadSignature, ValueError, TypeError):
        raise InvalidToken() from None
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), int):
        raise InvalidToken()
    return payload
