"""A loopback stand-in for Postmark's send API, run as its own process by the benchmark.

    python -m bench.standin [--latency-ms 50]   # prints "listening on PORT", then serves

It answers ``POST /email`` and ``POST /email/batch`` the way Postmark does (so the real
Anymail backend parses the reply), optionally after a delay per request to imitate a remote
provider, and counts every message by recipient. ``GET /_stats`` returns the counts as JSON
(``?recipients=1`` adds the recipient list), ``POST /_reset`` zeroes them.

A separate process rather than a thread, so the benchmark can read its peak memory and its
work does not compete with the caller's interpreter lock.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.by_recipient: Counter[str] = Counter()
        self.first_at = self.last_at = 0.0

    def record(self, recipients: list[str]) -> None:
        now = time.time()
        with self.lock:
            self.requests += 1
            self.by_recipient.update(recipients)
            self.first_at = self.first_at or now
            self.last_at = now

    def stats(self, *, recipients: bool) -> dict:
        with self.lock:
            duplicates = [r for r, n in self.by_recipient.items() if n > 1]
            stats = {
                "requests": self.requests,
                "messages": sum(self.by_recipient.values()),
                "distinct": len(self.by_recipient),
                "duplicates": len(duplicates),
                "duplicate_examples": duplicates[:10],
                "first_at": self.first_at,
                "last_at": self.last_at,
            }
            if recipients:
                stats["recipients"] = list(self.by_recipient)
            return stats


def make_handler(tally: Tally, latency: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Anymail's requests session expects
        # Headers and body go out in two writes: without this, Nagle's algorithm holds the
        # body until the client's delayed ACK (40 ms) on a kept-alive connection.
        disable_nagle_algorithm = True

        def log_message(self, format, *args) -> None:  # one line per message is noise here
            pass

        def _reply(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != "/_stats":
                self._reply(404, {"Message": "not found"})
                return
            wanted = parse_qs(url.query).get("recipients") == ["1"]
            self._reply(200, tally.stats(recipients=wanted))

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urlsplit(self.path).path.rstrip("/")
            if path == "/_reset":
                tally.reset()
                self._reply(200, {})
                return
            if path not in ("/email", "/email/batch"):
                self._reply(404, {"ErrorCode": 404, "Message": "not found"})
                return
            if latency:
                time.sleep(latency)
            payload = json.loads(body)
            messages = payload if isinstance(payload, list) else [payload]
            tally.record([m.get("To", "") for m in messages])
            replies = [
                {
                    "To": m.get("To", ""),
                    "SubmittedAt": "2026-01-01T00:00:00Z",
                    "MessageID": str(uuid.uuid4()),
                    "ErrorCode": 0,
                    "Message": "OK",
                }
                for m in messages
            ]
            self._reply(200, replies if isinstance(payload, list) else replies[0])

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # several workers open connections at once


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), make_handler(Tally(), args.latency_ms / 1000))
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
