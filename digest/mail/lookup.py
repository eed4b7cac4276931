"""Asking the sending provider whether it holds a digest's message.

A worker that takes over a claim whose request may already have reached the provider (the
previous worker wrote "leaving" and died before the answer was recorded) must not send
blindly: the provider may have the message. Where the provider can be asked, it is asked
by the digest id every message carries in its metadata; where it cannot, the digest is
recorded "unknown" for the operator and never sent again by itself (docs/delivery.md).

One small function per provider that can answer, chosen by ``EMAIL_BACKEND``:

- Postmark: the outbound message search filtered by metadata
  (``GET /messages/outbound?metadata_digest_id=...``).
- SMTP, the console backend, Mailgun, Amazon SES, SendGrid: no lookup (SMTP has no way to
  ask; the others' event searches are not wired up here).
"""

from __future__ import annotations

from collections.abc import Callable

import requests
from anymail.utils import get_anymail_setting
from django.conf import settings

TIMEOUT = (5.0, 20.0)  # connect, read: a take-over waits on this, not a reader


class LookupFailed(RuntimeError):
    """The provider could not be asked now (down, refused, answered nonsense)."""


def postmark(digest_id: int) -> str | None:
    """The MessageID of the message Postmark holds for this digest, or None if it holds none.

    Postmark lists a message in the search once it has processed it, seconds after
    accepting it; a take-over comes at least a lease later."""
    base = get_anymail_setting(
        "api_url", esp_name="postmark", default="https://api.postmarkapp.com/"
    ).rstrip("/")
    token = get_anymail_setting("server_token", esp_name="postmark", allow_bare=True)
    try:
        answer = requests.get(
            f"{base}/messages/outbound",
            params={"count": "1", "offset": "0", "metadata_digest_id": str(digest_id)},
            headers={"Accept": "application/json", "X-Postmark-Server-Token": token},
            timeout=TIMEOUT,
        )
        answer.raise_for_status()
        found = answer.json().get("Messages") or []
    except (requests.RequestException, ValueError, AttributeError) as exc:
        raise LookupFailed(f"Postmark message search: {exc}") from None
    return str(found[0].get("MessageID") or "?") if found else None


FINDERS: dict[str, Callable[[int], str | None]] = {
    "anymail.backends.postmark.EmailBackend": postmark,
}


def finder() -> Callable[[int], str | None] | None:
    """The configured provider's lookup by digest id, or None when it cannot be asked."""
    return FINDERS.get(settings.EMAIL_BACKEND)
