"""A loopback HTTP server playing a remote feed host, for the ingest and fetch tests and
the benchmarks' daily run (bench/pipeline.py).

Each path answers with a ``Reply``, a list of Replies served in turn (the last one
repeating), or a function given the request handler (to stall, drip or stream); a route
without a query answers that path whatever the query. Requests are recorded, so a test can
prove that no connection was made.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Answer = Reply | list[Reply] | Callable[[BaseHTTPRequestHandler], None]


class FeedServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Answer] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        # Set on stop, so stalling handlers return and the server shuts down at once.
        self.stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append((self.path, dict(self.headers)))
                answer = server.routes.get(self.path) or server.routes.get(
                    self.path.split("?", 1)[0], Reply(b"not found", 404)
                )
                if isinstance(answer, list):
                    answer = answer.pop(0) if len(answer) > 1 else answer[0]
                if callable(answer):
                    answer(self)
                    return
                self.send_response(answer.status)
                headers = {"Content-Length": str(len(answer.body))} | answer.headers
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.host, self.port = host, self.httpd.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def __enter__(self) -> FeedServer:
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
