"""A loopback HTTP server standing in for Postmark's send API.

The real Anymail Postmark backend talks to it (``POSTMARK_API_URL``). It records every
request, answers like Postmark, and can be scripted per call: ``script(500, 502)`` makes the
next two calls fail; ``script((429, {"Retry-After": "1"}))`` throttles one call;
``refuse("a@example.com")`` refuses that recipient for good (Postmark's 422 / ErrorCode 406);
``script((422, {}, {"ErrorCode": 300, ...}))`` answers one call with that body;
``latency`` delays every answer; ``hold_after(n)`` parks every call after the n-th until
``release()``.

A message counts as *accepted* only once the server answers 200 to a client that is still
connected: a client killed while its call is parked never got an answer, and the server
drops that call, the way a request cut off before the provider committed it is lost.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = int | tuple[int, dict[str, str]] | tuple[int, dict[str, str], dict]


@dataclass
class Call:
    """One request as received, and the status it was answered with."""

    path: str
    headers: dict[str, str]
    payload: dict
    status: int = 0
    at: float = field(default_factory=time.monotonic)

    @property
    def to(self) -> str:
        return self.payload.get("To", "")


class FakeProvider:
    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self.calls: list[Call] = []  # every request, whatever the answer
        self.accepted: list[Call] = []  # requests answered 200 to a live client
        self.dropped: list[Call] = []  # parked requests whose client went away
        self._script: list[Answer] = []
        self._refused: set[str] = set()
        self._hold_after: int | None = None
        self._released = threading.Event()
        self.parked = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A client killed mid-request (a test's SIGKILL) is expected, not an error to print.
        self._server.handle_error = lambda request, client_address: None
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # Scripting ----------------------------------------------------------------------

    def script(self, *answers: Answer) -> None:
        """Answer the next calls with these statuses (then 200 again)."""
        with self._lock:
            self._script.extend(answers)

    def refuse(self, address: str) -> None:
        """Refuse this recipient permanently, as Postmark does an inactive address."""
        self._refused.add(address.lower())

    def hold_after(self, count: int) -> None:
        """Park every call after the first ``count`` until ``release()``."""
        self._released.clear()
        self._hold_after = count

    def release(self) -> None:
        self._hold_after = None
        self._released.set()

    def reset(self) -> None:
        """Forget every call and script (a provider shared by several tests)."""
        self.release()
        with self._lock:
            self.calls.clear()
            self.accepted.clear()
            self.dropped.clear()
            self._script.clear()
            self._refused.clear()

    # Reading ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def recipients(self) -> Counter[str]:
        """How many messages each address was accepted for."""
        with self._lock:
            return Counter(call.to for call in self.accepted)

    # Life cycle ---------------------------------------------------------------------

    def start(self) -> FakeProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # Serving ------------------------------------------------------------------------

    def _answer(self, call: Call, connection: socket.socket) -> tuple[int, dict[str, str], dict]:
        with self._lock:
            self.calls.append(call)
            park = self._hold_after is not None and len(self.calls) > self._hold_after
            scripted = self._script.pop(0) if self._script else None
        if park:
            self._park(connection)
            if _client_gone(connection):
                with self._lock:
                    self.dropped.append(call)
                return 0, {}, {}
        if self.latency:
            time.sleep(self.latency)
        if scripted is not None:
            status, headers, *body = scripted if isinstance(scripted, tuple) else (scripted, {})
            default = {"ErrorCode": 1, "Message": f"scripted {status}"}
            return status, headers, body[0] if body else default
        if call.to.lower() in self._refused:
            return 422, {}, _inactive_recipient(call.to)
        message_id = str(uuid.uuid4())
        with self._lock:
            self.accepted.append(call)
        return 200, {}, _accepted(call.to, message_id)

    def _park(self, connection: socket.socket) -> None:
        with self._lock:
            self.parked += 1
        try:
            while not self._released.wait(0.05):
                if _client_gone(connection):
                    return
        finally:
            with self._lock:
                self.parked -= 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real API
            # Headers and body go out in two writes: without this, Nagle's algorithm holds the
            # body until the client's delayed ACK (40 ms) on a kept-alive connection.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    payload = json.loads(body or b"{}")
                except ValueError:
                    payload = {"_raw": body.decode("utf-8", "replace")}
                call = Call(path=self.path, headers=dict(self.headers.items()), payload=payload)
                status, headers, answer = provider._answer(call, self.connection)
                call.status = status
                if not status:
                    self.close_connection = True
                    return
                data = json.dumps(answer).encode()
                with contextlib.suppress(OSError):
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)

            def log_message(self, format, *args) -> None:  # quiet in tests
                pass

        return Handler


def _client_gone(connection: socket.socket) -> bool:
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _accepted(to: str, message_id: str) -> dict:
    return {
        "To": to,
        "SubmittedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "MessageID": message_id,
        "ErrorCode": 0,
        "Message": "OK",
    }


def _inactive_recipient(to: str) -> dict:
    # Postmark's answer for an address it marked inactive (hard bounce or complaint).
    address = to.rsplit("<", 1)[-1].rstrip(">").lower()
    return {
        "ErrorCode": 406,
        "Message": (
            "You tried to send to a recipient that has been marked as inactive.\n"
            f"Found inactive addresses: {address}.\n"
            "Inactive recipients are ones that have generated a hard bounce or a spam "
            "complaint. "
        ),
    }


@contextlib.contextmanager
def running(**kwargs) -> Iterator[FakeProvider]:
    with FakeProvider(**kwargs) as provider:
        yield provider
