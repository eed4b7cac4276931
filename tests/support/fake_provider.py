"""A loopback HTTP server standing in for Postmark's API, shared by the tests and bench/.

The real Anymail Postmark backend talks to it (``POSTMARK_API_URL``). It behaves as a real
provider does where delivery's guarantees depend on it:

- **It keeps every request it received whole**, whether or not the client was still there
  for the answer: a worker killed while its request is parked (``hold_after``) or slowly
  answered (``latency``) has still handed the message over. A request cut off before its
  body arrived (``script(CUT)``: the server reads half the body and hangs up) is not kept.
- It answers ``POST /email`` and ``POST /email/batch`` as Postmark does, and the outbound
  message search by metadata (``GET /messages/outbound?metadata_digest_id=...``) over what
  it kept, which is how a take-over asks whether a message arrived.
- It can be scripted per call: ``script(500, 502)`` makes the next two calls fail;
  ``script((429, {"Retry-After": "1"}))`` throttles one call; ``refuse("a@example.com")``
  refuses that recipient for good (Postmark's 422 / ErrorCode 406);
  ``script((422, {}, {"ErrorCode": 300, ...}))`` answers one call with that body;
  ``script(CUT)`` fails one call mid-body; ``latency`` delays every answer;
  ``hold_after(n)`` parks every call after the n-th until ``release()``.

In a test it runs in a thread (``running()``). The benchmarks run it as a process of its
own, so its work does not compete with theirs:

    python -m tests.support.fake_provider [--latency-ms 50]   # prints "listening on PORT"

``GET /_stats`` then returns the counts as JSON (``?recipients=1`` adds who got messages),
``POST /_reset`` forgets everything. A process keeps only the parts of each message it
reports on (recipient, metadata), not the bodies.
"""

from __future__ import annotations

import argparse
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
from urllib.parse import parse_qs, urlsplit

CUT = "cut"  # script entry: read half the body, then drop the connection
Answer = int | str | tuple[int, dict[str, str]] | tuple[int, dict[str, str], dict]
_SLIM_FIELDS = ("To", "Metadata")


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A client killed mid-request (a test's SIGKILL) is expected, not an error to print."""


@dataclass
class Call:
    """One message as received, and the status it was answered with (0: none was sent)."""

    path: str
    headers: dict[str, str]
    payload: dict
    status: int = 0
    message_id: str = ""
    at: float = field(default_factory=time.monotonic)
    received_at: float = field(default_factory=time.time)

    @property
    def to(self) -> str:
        return self.payload.get("To", "")


class FakeProvider:
    def __init__(self, *, latency: float = 0.0, keep_bodies: bool = True) -> None:
        self.latency = latency
        self.keep_bodies = keep_bodies
        self.calls: list[Call] = []  # every request received whole, whatever the answer
        self.accepted: list[Call] = []  # the messages it kept: what recipients will get
        self.cut = 0  # requests dropped mid-body (not kept)
        self._script: list[Answer] = []
        self._refused: set[str] = set()
        self._hold_after: int | None = None
        self._released = threading.Event()
        self.parked = 0
        self.in_flight: Counter[int] = Counter()  # by client port: received, not answered
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.request_queue_size = 256  # several workers connect at once
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
            self.cut = 0
            self._script.clear()
            self._refused.clear()

    # Reading ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def recipients(self) -> Counter[str]:
        """How many messages it kept for each address."""
        with self._lock:
            return Counter(call.to for call in self.accepted)

    def search(self, query: dict[str, list[str]]) -> list[Call]:
        """Kept messages matching Postmark's search filters (``recipient``, ``metadata_*``)."""
        prefix = "metadata_"
        wanted = {k[len(prefix) :]: v[0] for k, v in query.items() if k.startswith(prefix)}
        recipient = query.get("recipient", [""])[0].lower()
        with self._lock:
            kept = list(self.accepted)
        return [
            call
            for call in reversed(kept)  # newest first, as Postmark lists them
            if all(str((call.payload.get("Metadata") or {}).get(k)) == v for k, v in wanted.items())
            and (not recipient or recipient in call.to.lower())
        ]

    def stats(self, *, recipients: bool = False) -> dict:
        with self._lock:
            counts = Counter(call.to for call in self.accepted)
            times = [call.received_at for call in self.accepted]
            requests = len(self.calls) + self.cut
        duplicates = [address for address, n in counts.items() if n > 1]
        stats = {
            "requests": requests,
            "messages": sum(counts.values()),
            "distinct": len(counts),
            "duplicates": len(duplicates),
            "duplicate_examples": duplicates[:10],
            "in_flight": sum(self.in_flight.values()),
            "in_flight_ports": sorted(+self.in_flight),
            "first_at": min(times, default=0.0),
            "last_at": max(times, default=0.0),
        }
        if recipients:
            stats["recipients"] = list(counts)
        return stats

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

    def _next_answer(self, call: Call) -> tuple[bool, Answer | None]:
        with self._lock:
            self.calls.append(call)
            park = self._hold_after is not None and len(self.calls) > self._hold_after
            return park, (self._script.pop(0) if self._script else None)

    def _take(self, call: Call, connection: socket.socket) -> tuple[int, dict[str, str], dict]:
        """Decide the answer to one whole message, keeping it if it is accepted."""
        port = connection.getpeername()[1]
        with self._lock:
            self.in_flight[port] += 1
        try:
            return self._decide(call, connection)
        finally:
            with self._lock:
                self.in_flight[port] -= 1

    def _decide(self, call: Call, connection: socket.socket) -> tuple[int, dict[str, str], dict]:
        park, scripted = self._next_answer(call)
        if park:
            self._park(connection)
        if self.latency:
            time.sleep(self.latency)
        if scripted is not None:
            status, headers, *body = scripted if isinstance(scripted, tuple) else (scripted, {})
            assert isinstance(status, int)  # a CUT is acted on before the body is read
            return status, headers, body[0] if body else {"ErrorCode": 1, "Message": "scripted"}
        if call.to.lower() in self._refused:
            return 422, {}, _inactive_recipient(call.to)
        call.message_id = str(uuid.uuid4())
        if not self.keep_bodies:
            call.payload = {name: call.payload.get(name) for name in _SLIM_FIELDS}
        with self._lock:
            # Kept now, answered or not: the client may be gone, the message is not.
            self.accepted.append(call)
        return 200, {}, _accepted(call.to, call.message_id)

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

    def _cut_next(self) -> bool:
        with self._lock:
            if self._script and self._script[0] == CUT:
                self._script.pop(0)
                self.cut += 1
                return True
        return False

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real API
            # Headers and body go out in two writes: without this, Nagle's algorithm holds the
            # body until the client's delayed ACK (40 ms) on a kept-alive connection.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                if url.path == "/_stats":
                    wanted = query.get("recipients") == ["1"]
                    self._reply(200, {}, provider.stats(recipients=wanted))
                elif url.path.rstrip("/") == "/messages/outbound":
                    found = provider.search(query)
                    count = int(query.get("count", ["100"])[0])
                    listed = [_listed(call) for call in found[:count]]
                    self._reply(200, {}, {"TotalCount": len(found), "Messages": listed})
                else:
                    self._reply(404, {}, {"ErrorCode": 404, "Message": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if provider._cut_next():
                    self.rfile.read(length // 2)
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                body = self.rfile.read(length)
                if len(body) < length:  # the client went away mid-body: nothing received
                    self.close_connection = True
                    return
                path = urlsplit(self.path).path.rstrip("/")
                if path == "/_reset":
                    provider.reset()
                    self._reply(200, {}, {})
                    return
                try:
                    payload = json.loads(body or b"{}")
                except ValueError:
                    payload = {"_raw": body.decode("utf-8", "replace")}
                messages = payload if isinstance(payload, list) else [payload]
                answers = []
                for message in messages:
                    call = Call(path=self.path, headers=dict(self.headers.items()), payload=message)
                    call.status, headers, answer = provider._take(call, self.connection)
                    answers.append(answer)
                if isinstance(payload, list):
                    self._reply(200, {}, answers)
                else:
                    self._reply(call.status, headers, answers[0])

            def _reply(self, status: int, headers: dict[str, str], answer: object) -> None:
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


def _listed(call: Call) -> dict:
    """A kept message as Postmark's outbound search lists it."""
    return {
        "MessageID": call.message_id,
        "Recipients": [call.to],
        "Metadata": call.payload.get("Metadata") or {},
        "Status": "Sent",
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


def main() -> None:
    parser = argparse.ArgumentParser(description="A loopback stand-in for Postmark's API.")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    provider = FakeProvider(latency=args.latency_ms / 1000, keep_bodies=False)
    print(f"listening on {provider.port}", flush=True)
    provider._server.serve_forever()


if __name__ == "__main__":
    main()
