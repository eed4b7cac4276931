"""PostgreSQL restarted under a worker mid-chunk, for real (issue 9): the worker reaches the
machine's PostgreSQL through a loopback forwarder of this test's own, which "restarts" the
server by dropping every connection at once and refusing new ones for a while. The real
server is never touched. Only in the PostgreSQL run (``tests/conftest.py`` deselects the
``postgres`` marker elsewhere)."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from django.db import connection

from digest.mail import delivery
from digest.models import Digest
from digest.tasks import dispatch_due, send_digest_chunk
from tests.support import workers
from tests.support.delivery_world import NOW, due_subscribers, list_papers, postmark_env
from tests.support.fake_provider import running
from tests.support.processes import wait_for
from tests.support.workers import celery_worker

pytestmark = [pytest.mark.postgres, pytest.mark.worker]

LEASE = dt.timedelta(seconds=60)  # DIGEST_LEASE_SECONDS' default
DOWNTIME = 2.0  # seconds the "restarted" server refuses connections


class Forwarder:
    """A TCP forwarder on a free loopback port: one thread accepting, two per connection
    copying bytes. ``restart()`` drops every proxied connection, as a server going down
    does, and refuses new ones (nothing listens) for ``downtime`` seconds."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.port = 0
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def start(self) -> Forwarder:
        self._listen()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()
        return self

    def restart(self, downtime: float) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, set()
        assert listener is not None  # started
        listener.close()
        for pair in pairs:
            _close(*pair)
        self.dropped += len(pairs)
        time.sleep(downtime)
        self._listen()

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, set()
        if listener is not None:
            listener.close()
        for pair in pairs:
            _close(*pair)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            with self._lock:
                listener = self._listener
            if listener is None:  # down: nothing listens, connections are refused
                time.sleep(0.05)
                continue
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            client.settimeout(None)
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            pair = (client, server)
            with self._lock:
                if self._listener is not listener:  # went down meanwhile
                    _close(*pair)
                    continue
                self._pairs.add(pair)
            for source, target in (pair, pair[::-1]):
                threading.Thread(target=_pump, args=(source, target), daemon=True).start()


def _pump(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    _close(source, target)


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


@contextlib.contextmanager
def forwarding_to_the_database() -> Iterator[Forwarder]:
    db = connection.settings_dict
    forwarder = Forwarder(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)).start()
    try:
        yield forwarder
    finally:
        forwarder.stop()


def through(forwarder: Forwarder) -> str:
    """The test database's URL, reached through the forwarder."""
    base, name = workers.test_database_url().rsplit("/", 1)
    return f"{base.rsplit(':', 1)[0]}:{forwarder.port}/{name}"


def test_postgresql_restarted_mid_chunk_resumes_after_the_lease_with_each_digest_sent_once(
    transactional_db,
):
    list_papers()
    people = due_subscribers(8)
    ids = [p.pk for p in people]
    with running(latency=0.25) as provider, forwarding_to_the_database() as database:
        env = {
            **postmark_env(provider.url),
            "SEND_CONCURRENCY": "1",  # one message at a time: the restart lands mid-chunk
            "DATABASE_URL": through(database),
        }
        with celery_worker(1, purge=True, **env):
            chunk = send_digest_chunk.apply_async((ids, NOW.isoformat()), ignore_result=False)
            wait_for(lambda: len(provider.accepted) >= 3, timeout=30, interval=0.02)
            database.restart(DOWNTIME)  # the chunk's connection is gone
            assert database.dropped >= 1

            # The chunk cannot record what it is sending: it sends nothing more, and its
            # claims stay, untouched.
            # (Its first failed write is caught and logged; the error raised is a later one's.)
            # psycopg's words for a connection dropped mid-query vary with the moment it dies.
            dropped = (
                r"server closed the connection|connection failed|"
                r"connection (is|already) clo|the connection is lost"
            )
            with pytest.raises(Exception, match=dropped):
                chunk.get(timeout=30)
            kept = len(provider.accepted)
            assert 3 <= kept < 8
            assert Digest.objects.filter(status=Digest.Status.CLAIMED).count() == 8

            # The next beat tick after the lease, on the same worker, over a new connection:
            # it takes the claims over, records what the provider holds (from the rows'
            # marks, or by asking it) and sends the rest, none twice.
            later = NOW + LEASE + dt.timedelta(minutes=1)
            tick = dispatch_due.apply_async((later.isoformat(),), ignore_result=False)
            assert tick.get(timeout=30) == 8
            wait_for(lambda: Digest.objects.filter(status="sent").count() == 8, timeout=30)
            assert delivery.due_subscriber_ids(later) == []

        assert provider.recipients() == {p.email: 1 for p in people}
    sent = Digest.objects.filter(status=Digest.Status.SENT)
    assert sorted(sent.values_list("subscriber_id", flat=True)) == ids
    assert not Digest.objects.exclude(status=Digest.Status.SENT).exists()
