"""Signed links for subscribers, one salt per purpose.

A token carries the subscriber's id and, for single-use purposes, their
current ``token_nonce`` ("n"); spending a single-use link bumps the nonce,
which also voids every other single-use link sent before it. Signing uses
SECRET_KEY and SECRET_KEY_FALLBACKS, so a key rotation keeps old links.
"""

from __future__ import annotations

from django.core import signing
from django.db.models import F

from accounts.models import Subscriber

# Purpose -> maximum age in seconds (None: never expires).
MAX_AGE = {
    "confirm": 7 * 24 * 3600,
    "login": 3600,
    # The digest's "Manage your topics" link: not single-use (every digest carries one),
    # so it opens a session that may change preferences but not read or erase data.
    "manage": 30 * 24 * 3600,
    "unsubscribe": None,
    "feedback": None,
    "webview": None,
}
SINGLE_USE = frozenset({"confirm", "login"})


class InvalidToken(Exception):
    """Forged, truncated, expired, spent or made for another purpose."""

    def __init__(
        self,
        message: str = "This link is not valid.",
        *,
        expired: bool = False,
        payload: dict | None = None,
    ):
        super().__init__(message)
        self.expired = expired
        # Set only for an expired link whose signature is good, so the page
        # can offer a fresh one to the subscriber it was made for.
        self.payload = payload


def _salt(purpose: str) -> str:
    if purpose not in MAX_AGE:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return f"paperwire.tokens.{purpose}"


def make_token(purpose: str, subscriber_id: int, **extra) -> str:
    """Sign ``{"s": subscriber_id, **extra}`` for one purpose."""
    return signing.dumps({"s": subscriber_id, **extra}, salt=_salt(purpose), compress=True)


def _checked(payload: object) -> dict:
    if not isinstance(payload, dict) or type(payload.get("s")) is not int:
        raise InvalidToken()
    return payload


def read_token(purpose: str, token: str) -> dict:
    """Return the payload, or raise InvalidToken (``expired=True`` when only age failed)."""
    salt = _salt(purpose)
    try:
        return _checked(signing.loads(token, salt=salt, max_age=MAX_AGE[purpose]))
    except signing.SignatureExpired:
        payload = _checked(signing.loads(token, salt=salt))
        raise InvalidToken("This link has expired.", expired=True, payload=payload) from None
    except (signing.BadSignature, ValueError, TypeError, UnicodeError):
        raise InvalidToken() from None


def subscriber_token(purpose: str, subscriber: Subscriber) -> str:
    """A token for ``subscriber``; single-use purposes carry the current nonce."""
    if purpose in SINGLE_USE:
        return make_token(purpose, subscriber.pk, n=subscriber.token_nonce)
    return make_token(purpose, subscriber.pk)


def subscriber_from_token(purpose: str, token: str) -> Subscriber:
    """The subscriber a still-valid token names (unspent, for single-use purposes)."""
    payload = read_token(purpose, token)
    subscriber = Subscriber.objects.filter(pk=payload["s"]).first()
    if subscriber is None:
        raise InvalidToken()
    if purpose in SINGLE_USE and payload.get("n") != subscriber.token_nonce:
        raise InvalidToken()
    return subscriber


def spend(subscriber: Subscriber) -> bool:
    """Use up the single-use links of ``subscriber``; False when another request
    spent them first (one conditional UPDATE decides the race)."""
    won = Subscriber.objects.filter(pk=subscriber.pk, token_nonce=subscriber.token_nonce).update(
        token_nonce=F("token_nonce") + 1
    )
    if won:
        subscriber.token_nonce += 1
    return bool(won)
