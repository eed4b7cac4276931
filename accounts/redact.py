"""Keep emailed-link tokens out of our own logs.

Every emailed link carries a signed token in its path (``/confirm/<token>/``).
Django's request and runserver loggers and gunicorn's access log print paths,
so each gets the path with the token replaced. Proxies in front of us log
their own copy; docs/security.md says so.
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger as GunicornBaseLogger

# django.core.signing output: payload:timestamp:signature, url-safe base64 parts
# (the colon may arrive percent-encoded).
TOKEN_RE = re.compile(r"[\w.\-]{6,}(?::|%3[aA])[\w\-]+(?::|%3[aA])[\w\-]{20,}")
REDACTED = "[token]"


def redact(text: str) -> str:
    return TOKEN_RE.sub(REDACTED, text)


class RedactTokens(logging.Filter):
    """A logging filter that rewrites each record's message without tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class GunicornLogger(GunicornBaseLogger):
    """gunicorn's logger with tokens removed from the access log
    (``--logger-class accounts.redact.GunicornLogger``)."""

    # The same keys as gunicorn's; its stubs type them as a TypedDict.
    def atoms(self, resp, req, environ, request_time) -> dict:  # type: ignore[override]
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()
        }
