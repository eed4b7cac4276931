"""Handing built messages to the sending provider.

Each sending thread has its own connection (``get_connection()``, opened on its first
message: its own HTTP session or SMTP socket, nothing shared between threads),
``SEND_CONCURRENCY`` threads send at once, each request waits for the shared rate limit,
and the retry rule:

- connection errors (nothing reached the provider), 429 and 5xx: retried here with
  backoff (``SEND_RETRY_BACKOFF`` doubling; a 429's Retry-After pauses every worker);
  still failing after ``SEND_RETRIES`` retries -> ``RETRY``: the claim is released and the
  next dispatch tick tries again;
- a read timeout: the request may have been accepted, and retrying it could send twice
  (Anymail's advice), so it is ``UNKNOWN`` with that reason, never retried;
- 401/403: the provider refuses our credentials: every later message would fail the same
  way, so the batch stops and its messages are released (``RETRY``);
- the provider refusing the recipient or the message (other 4xx, invalid address):
  ``FAILED`` with the provider's reason, no retry. When it refused the recipient for good
  (Postmark's "inactive recipient", an invalid address, an SMTP 5xx to RCPT), the
  outcome's ``refused`` names the address so the caller can suppress it; a refusal of the
  message itself (a bad From, a malformed header) names none.

The caller learns, in its own thread, which messages are about to leave and which were
accepted (``before_send``, ``on_accepted``): the sending threads hand those calls to it,
so the caller can write them with its own database connection and transaction.
"""

from __future__ import annotations

import enum
import logging
import os
import smtplib
import threading
import time
from collections.abc import Callable, Collection, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TypeVar

import requests
from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from digest.mail.throttle import SendThrottle

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)  # the caller's key for each message


# Environment variables requests reads on every request when trust_env is on.
_PROXY_VARIABLES = (
    *("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"),
    *("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC"),
)
# How long the calling thread waits for the sending threads' calls before looking again at
# the futures and the heartbeat.
_POLL = 0.02


class Result(enum.StrEnum):
    SENT = "sent"
    FAILED = "failed"
    RETRY = "retry"
    UNKNOWN = "unknown"  # the provider may have it: neither retried nor called failed


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
    messages: Sequence[tuple[K, EmailMessage]],
    *,
    before_send: Callable[[list[K]], Collection[K]] | None = None,
    on_accepted: Callable[[dict[K, str]], None] | None = None,
    heartbeat: Callable[[], None] | None = None,
    concurrency: int | None = None,
    deadline: Callable[[], float] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[K, Outcome]:
    """Send ``(key, message)`` pairs; return each key's outcome.

    All three callbacks run in the calling thread, with batches of keys gathered from the
    sending threads:

    - ``before_send(keys)`` before those messages' first request; it returns the keys that
      may go (the caller has recorded that they are leaving). A message leaves only once
      its key came back; the others are ``RETRY``.
    - ``on_accepted({key: message_id})`` as soon as the provider accepted them.
    - ``heartbeat()`` many times a second while sending (it decides when to act).

    No request starts after ``deadline()`` (a ``time.monotonic()`` value, read before each
    request): those messages come back ``RETRY``.
    """
    if not messages:
        return {}
    workers = max(1, min(concurrency or settings.SEND_CONCURRENCY, len(messages)))
    relay = _Relay(before_send, on_accepted)
    connections = _Connections()
    throttle = SendThrottle(sleep=sleep)
    stop = threading.Event()

    def send(item: tuple[K, EmailMessage]) -> tuple[K, Outcome]:
        key, message = item
        try:
            outcome = _send_one(
                connections, message, lambda: relay.ask(key), throttle, stop, deadline, sleep
            )
        except Exception as exc:  # never let one message's surprise lose the others' outcomes
            logger.exception("sending failed unexpectedly")
            outcome = Outcome(Result.RETRY, error=_describe(exc))
        if outcome.result is Result.SENT:
            relay.tell(key, outcome.message_id)
        return key, outcome

    # Even one sending thread is not this one: this thread stays free to record and beat.
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="send") as pool:
            futures = [pool.submit(send, item) for item in messages]
            pending = set(futures)
            while pending:
                relay.serve(timeout=_POLL)
                if heartbeat is not None:
                    heartbeat()
                pending = wait(pending, timeout=0)[1]
            relay.serve(timeout=0)
            return dict(future.result() for future in futures)
    finally:
        connections.close()


class _Relay:
    """Carries the sending threads' ``before_send`` and ``on_accepted`` calls to the calling
    thread, a batch at a time."""

    def __init__(self, before_send, on_accepted) -> None:
        self.before_send = before_send
        self.on_accepted = on_accepted
        self._changed = threading.Condition()
        self._leaving: dict[Hashable, _Waiter] = {}
        self._accepted: dict[Hashable, str] = {}

    def ask(self, key: Hashable) -> bool:
        """In a sending thread: may this message leave now?"""
        if self.before_send is None:
            return True
        waiter = _Waiter()
        with self._changed:
            self._leaving[key] = waiter
            self._changed.notify()
        waiter.answered.wait()
        return waiter.allowed

    def tell(self, key: Hashable, message_id: str) -> None:
        """In a sending thread: the provider accepted this message."""
        if self.on_accepted is None:
            return
        with self._changed:
            self._accepted[key] = message_id
            self._changed.notify()

    def serve(self, timeout: float) -> None:
        """In the calling thread: run the calls gathered so far (waiting up to ``timeout``
        for the first one)."""
        with self._changed:
            if not self._leaving and not self._accepted and timeout:
                self._changed.wait(timeout)
            leaving, self._leaving = self._leaving, {}
            accepted, self._accepted = self._accepted, {}
        if accepted:
            self._on_accepted(accepted)
        if leaving:
            allowed = self._before_send(list(leaving))
            for key, waiter in leaving.items():
                waiter.allowed = key in allowed
                waiter.answered.set()

    def _before_send(self, keys: list[Hashable]) -> Collection[Hashable]:
        try:
            return self.before_send(keys)
        except Exception:  # unrecorded means unsent: these go back to the next tick
            logger.exception("could not record that %d messages are leaving", len(keys))
            return ()

    def _on_accepted(self, accepted: dict[Hashable, str]) -> None:
        try:
            self.on_accepted(accepted)
        except Exception:  # the chunk's final record writes them anyway
            logger.exception("could not record %d accepted messages", len(accepted))


@dataclass
class _Waiter:
    answered: threading.Event = field(default_factory=threading.Event)
    allowed: bool = False


class _Connections:
    """One email backend connection per sending thread, opened on its first message."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._opened: list = []
        self._lock = threading.Lock()

    def get(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = get_connection()
            connection.open()
            session = getattr(connection, "session", None)
            if session is not None and not any(os.environ.get(v) for v in _PROXY_VARIABLES):
                # Without a proxy to honour, skip requests' per-request look-ups of proxy
                # variables and ~/.netrc: about a third of its time per message.
                session.trust_env = False
            self._local.connection = connection
            with self._lock:
                self._opened.append(connection)
        return connection

    def close(self) -> None:
        for connection in self._opened:
            try:
                connection.close()
            except Exception:  # a connection already broken has nothing left to close
                logger.debug("closing an email connection failed", exc_info=True)


def _send_one(
    connections: _Connections,
    message: EmailMessage,
    leave: Callable[[], bool],
    throttle: SendThrottle,
    stop: threading.Event,
    deadline: Callable[[], float] | None,
    sleep: Callable[[float], None],
) -> Outcome:
    error = ""
    for attempt in range(settings.SEND_RETRIES + 1):
        if stop.is_set():
            return Outcome(Result.RETRY, error=error or "batch stopped: provider refused us")
        throttle.wait()
        if deadline is not None and time.monotonic() > deadline():
            # The chunk's time or its lease is running out (then another worker may soon
            # take the claim over): left to the next tick.
            return Outcome(Result.RETRY, error=error or "not sent before the chunk's time ran out")
        if attempt == 0 and not leave():
            return Outcome(Result.RETRY, error="not sent: could not record that it was leaving")
        try:
            connections.get().send_messages([message])
        except Exception as exc:
            verdict, wait_for = _judge(exc)
            error = _describe(exc)
            if verdict is _Verdict.PERMANENT:
                return Outcome(Result.FAILED, error=error, refused=_refused(exc, message))
            if verdict is _Verdict.UNKNOWN:
                return Outcome(Result.UNKNOWN, error=f"not retried, may have been sent: {error}")
            if verdict is _Verdict.STOP:
                logger.error("provider refused our credentials, stopping the batch: %s", error)
                stop.set()
                return Outcome(Result.RETRY, error=error)
            backoff = min(settings.SEND_RETRY_BACKOFF * 2**attempt, settings.SEND_MAX_WAIT)
            if wait_for is not None:
                # The provider said when: every worker waits, via the shared pause,
                # even when this message is out of retries.
                throttle.pause(min(max(wait_for, backoff), settings.SEND_MAX_WAIT))
            if attempt == settings.SEND_RETRIES:
                break
            if wait_for is None:
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
