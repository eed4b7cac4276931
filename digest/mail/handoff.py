"""Handing built messages to the sending provider.

One connection per batch (``get_connection()`` opened once), ``SEND_CONCURRENCY`` requests
in flight, the shared rate limit before each request, and the retry rule:

- connection errors (nothing reached the provider), 429 and 5xx: retried here with
  backoff (``SEND_RETRY_BACKOFF`` doubling; a 429's Retry-After pauses every worker);
  still failing after ``SEND_RETRIES`` retries -> ``RETRY``: the claim is released and the
  next dispatch tick tries again;
- a read timeout: the request may have been accepted, and retrying it could send twice
  (Anymail's advice), so it is ``FAILED`` with that reason, never retried;
- 401/403: the provider refuses our credentials: every later message would fail the same
  way, so the batch stops and its messages are released (``RETRY``);
- the provider refusing the recipient or the message (other 4xx, invalid address):
  ``FAILED`` with the provider's reason, no retry. When it refused the recipient for good
  (Postmark's "inactive recipient", an invalid address, an SMTP 5xx to RCPT), the
  outcome's ``refused`` names the address so the caller can suppress it; a refusal of the
  message itself (a bad From, a malformed header) names none.
"""

from __future__ import annotations

import enum
import logging
import os
import smtplib
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import requests
from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from requests.adapters import HTTPAdapter

from digest.mail.throttle import SendThrottle

logger = logging.getLogger(__name__)


# Environment variables requests reads on every request when trust_env is on.
_PROXY_VARIABLES = (
    *("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"),
    *("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC"),
)


class Result(enum.StrEnum):
    SENT = "sent"
    FAILED = "failed"
    RETRY = "retry"


@dataclass(frozen=True)
class Outcome:
    result: Result
    message_id: str = ""
    error: str = ""
    refused: tuple[str, ...] = ()  # recipients the provider will never deliver to


class _Verdict(enum.Enum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    UNKNOWN = "unknown"  # may have been delivered: never retried
    STOP = "stop"  # configuration problem: stop the whole batch


def hand_off(
    messages: Sequence[tuple[Hashable, EmailMessage]],
    *,
    on_accepted: Callable[[Hashable, str], None] | None = None,
    concurrency: int | None = None,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[Hashable, Outcome]:
    """Send ``(key, message)`` pairs; return each key's outcome.

    ``on_accepted(key, message_id)`` runs in the sending thread the moment the provider
    accepts a message, before anything else, to keep the accepted-but-not-recorded
    window as short as possible (see docs/delivery.md). No request starts after
    ``deadline`` (a ``time.monotonic()`` value): those messages come back ``RETRY``.
    """
    if not messages:
        return {}
    workers = max(1, min(concurrency or settings.SEND_CONCURRENCY, len(messages)))
    connection = get_connection()
    _widen_pool(connection, workers)
    connection.open()
    throttle = SendThrottle(sleep=sleep)
    stop = threading.Event()

    def send(item: tuple[Hashable, EmailMessage]) -> tuple[Hashable, Outcome]:
        key, message = item
        try:
            outcome = _send_one(connection, message, throttle, stop, deadline, sleep)
        except Exception as exc:  # never let one message's surprise lose the others' outcomes
            logger.exception("sending failed unexpectedly")
            outcome = Outcome(Result.RETRY, error=_describe(exc))
        if outcome.result is Result.SENT and on_accepted is not None:
            on_accepted(key, outcome.message_id)
        return key, outcome

    try:
        if workers == 1:
            return dict(map(send, messages))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="send") as pool:
            return dict(pool.map(send, messages))
    finally:
        connection.close()


def _send_one(
    connection,
    message: EmailMessage,
    throttle: SendThrottle,
    stop: threading.Event,
    deadline: float | None,
    sleep: Callable[[float], None],
) -> Outcome:
    error = ""
    for attempt in range(settings.SEND_RETRIES + 1):
        if stop.is_set():
            return Outcome(Result.RETRY, error=error or "batch stopped: provider refused us")
        throttle.wait()
        if deadline is not None and time.monotonic() > deadline:
            # The claim's lease is running out: another worker may take it over soon.
            return Outcome(Result.RETRY, error=error or "not sent before the lease ran out")
        try:
            connection.send_messages([message])
        except Exception as exc:
            verdict, wait = _judge(exc)
            error = _describe(exc)
            if verdict is _Verdict.PERMANENT:
                return Outcome(Result.FAILED, error=error, refused=_refused(exc, message))
            if verdict is _Verdict.UNKNOWN:
                return Outcome(Result.FAILED, error=f"not retried, may have been sent: {error}")
            if verdict is _Verdict.STOP:
                logger.error("provider refused our credentials, stopping the batch: %s", error)
                stop.set()
                return Outcome(Result.RETRY, error=error)
            backoff = min(settings.SEND_RETRY_BACKOFF * 2**attempt, settings.SEND_MAX_WAIT)
            if wait is not None:
                # The provider said when: every worker waits, via the shared pause,
                # even when this message is out of retries.
                throttle.pause(min(max(wait, backoff), settings.SEND_MAX_WAIT))
            if attempt == settings.SEND_RETRIES:
                break
            if wait is None:
                sleep(backoff)
            logger.warning("send attempt %d failed, retrying: %s", attempt + 1, error)
            continue
        return Outcome(Result.SENT, message_id=_message_id(message))
    return Outcome(Result.RETRY, error=error)


def _judge(exc: Exception) -> tuple[_Verdict, float | None]:
    """How to treat a failed send, and the provider's Retry-After when it gave one."""
    if isinstance(exc, requests.ReadTimeout):
        return _Verdict.UNKNOWN, None
    if isinstance(exc, requests.ConnectionError):  # includes ConnectTimeout
        return _Verdict.TRANSIENT, None
    status = getattr(exc, "status_code", None)
    if isinstance(exc, AnymailAPIError) and status is not None:
        if status == 429:
            return _Verdict.TRANSIENT, _retry_after(exc) or settings.SEND_RETRY_BACKOFF
        if status >= 500:
            return _Verdict.TRANSIENT, None
        if status in (401, 403):
            return _Verdict.STOP, None
        return _Verdict.PERMANENT, None
    if isinstance(exc, AnymailError | ValueError):
        return _Verdict.PERMANENT, None  # refused recipients, invalid address, bad payload
    # SMTP: 4xx replies are temporary, 5xx permanent; a dropped connection before the
    # message was handed over is transient, a timeout after it may have been sent.
    if isinstance(exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused):
        code = getattr(exc, "smtp_code", 550)
        return (_Verdict.TRANSIENT if 400 <= code < 500 else _Verdict.PERMANENT), None
    if isinstance(exc, TimeoutError):
        return _Verdict.UNKNOWN, None
    if isinstance(exc, OSError | smtplib.SMTPException):
        return _Verdict.TRANSIENT, None
    return _Verdict.PERMANENT, None


def _refused(exc: Exception, message: EmailMessage) -> tuple[str, ...]:
    """The recipients a permanent failure says are undeliverable, lower-cased."""
    if isinstance(exc, AnymailRecipientsRefused):
        # Anymail raises it only when every recipient came back "rejected" (inactive:
        # a hard bounce or complaint on record) or "invalid"; not for message errors.
        status = getattr(message, "anymail_status", None)
        recipients = status.recipients if status is not None else {}
        found = [a for a, r in recipients.items() if r.status in ("rejected", "invalid")]
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        found = [a for a, (code, _) in exc.recipients.items() if code >= 500]
    else:
        return ()
    return tuple(address.strip().lower() for address in found)


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    text = str(exc)
    response = getattr(exc, "response", None)
    if response is not None and response.text and response.text not in text:
        text += f": {response.text}"  # the provider's own reason (e.g. inactive recipient)
    text = " ".join(text.split())
    return (f"HTTP {status}: {text}" if status else f"{type(exc).__name__}: {text}")[:1000]


def _message_id(message: EmailMessage) -> str:
    status = getattr(message, "anymail_status", None)
    return (status.message_id or "") if status is not None else ""


def _widen_pool(connection, size: int) -> None:
    """Let a requests-based Anymail backend keep one HTTP connection per sending thread."""
    session_factory = getattr(connection, "create_session", None)
    if session_factory is None:
        return

    def create_session() -> requests.Session:
        session = session_factory()
        if not any(os.environ.get(name) for name in _PROXY_VARIABLES):
            # Without a proxy to honour, skip requests' per-request look-ups of proxy
            # variables and ~/.netrc: about a third of its time per message.
            session.trust_env = False
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=size)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    connection.create_session = create_session
