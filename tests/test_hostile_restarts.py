"""Servers restarted under a running service, for real: a private ``redis-server`` (never
the machine's shared one) is the broker of the test process and of a real Celery worker,
and is killed and started again while work is queued on it. Workers send through the real
Anymail Postmark backend to the loopback stand-in."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import kombu.pools
import pytest
import redis

from config.celery import app
from digest.models import Digest
from digest.tasks import dispatch_due
from tests.support.delivery_world import NOW, due_subscribers, list_papers, postmark_env, sending_to
from tests.support.fake_provider import running
from tests.support.processes import free_port, wait_for
from tests.support.workers import celery_worker

QUEUE = "celery"  # Celery's default queue: a Redis list of that name


def redis_server_binary() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if found:
        return found
    message = "redis-server is not installed: this test restarts a private one (apt redis-server)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


class PrivateRedis:
    """A ``redis-server`` of this test's own, on a free loopback port, keeping nothing on
    disk (``--save "" --appendonly no``): killed, it comes back empty, as a production Redis
    without persistence does."""

    def __init__(self, directory: Path) -> None:
        self.binary = redis_server_binary()
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = (self.directory / "redis.log").open("ab")
        options = {"bind": "127.0.0.1", "port": str(self.port), "dir": str(self.directory)}
        options |= {"save": "", "appendonly": "no"}  # nothing on disk, nothing reloaded
        self.proc = subprocess.Popen(
            [
                self.binary,
                *(part for name, value in options.items() for part in (f"--{name}", value)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_for(self._answers, timeout=10, interval=0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown save, whatever was queued is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def _answers(self) -> bool:
        assert self.proc is not None  # started
        if self.proc.poll() is not None:
            log = (self.directory / "redis.log").read_text()[-2000:]
            raise AssertionError(f"redis-server exited:\n{log}")
        try:
            with self.client() as client:
                return client.ping()
        except redis.ConnectionError:
            return False


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    with tempfile.TemporaryDirectory(prefix="pw-redis-") as directory:
        server = PrivateRedis(Path(directory))
        try:
            server.start()
            yield server
        finally:
            server.kill()


def _drop_broker_connections() -> None:
    """Forget the Celery app's broker connections and result backend, so the next use
    connects to whatever the environment names now."""
    # Close and forget kombu's pools: they are registered per connection, and a closed pool
    # left registered would be handed out again for the same URL.
    kombu.pools.reset()
    # Private attributes, so not in celery-types' stubs.
    app._pool = None  # type: ignore[attr-defined]
    app.amqp._producer_pool = None  # type: ignore[attr-defined]
    app._backend_cache = None  # type: ignore[attr-defined]
    app._local.__dict__.pop("backend", None)  # type: ignore[attr-defined]


@contextlib.contextmanager
def celery_on(url: str) -> Iterator[None]:
    """Point this process's Celery app at ``url`` as broker and result backend.

    Celery reads ``CELERY_BROKER_URL``/``CELERY_RESULT_BACKEND`` from the environment before
    its configuration, so both are set here and restored, with the connections, afterwards.
    """
    names = ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict.fromkeys(names, url))
    _drop_broker_connections()
    try:
        yield
    finally:
        _drop_broker_connections()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.mark.worker
def test_redis_killed_and_restarted_after_dispatch_loses_no_digest_and_sends_none_twice(
    transactional_db,
):
    list_papers()
    people = due_subscribers(6)
    with (
        private_redis() as broker,
        celery_on(broker.url),
        running() as provider,
        sending_to(provider.url, DIGEST_CHUNK_SIZE=2),
    ):
        assert dispatch_due(NOW.isoformat()) == 6
        with broker.client() as client:
            assert client.llen(QUEUE) == 3  # three chunks queued, no worker yet to take them

        broker.kill()  # Redis dies with the chunks in it...
        broker.start()  # ... and comes back empty on the same port
        with broker.client() as client:
            assert client.llen(QUEUE) == 0

        env = {
            **postmark_env(provider.url),
            "CELERY_BROKER_URL": broker.url,
            "CELERY_RESULT_BACKEND": broker.url,
            "DIGEST_CHUNK_SIZE": "2",
        }
        with celery_worker(1, purge=False, **env):
            assert provider.calls == []
            # The next beat tick (this process's broker pool predates the restart).
            assert dispatch_due((NOW + dt.timedelta(minutes=5)).isoformat()) == 6
            wait_for(lambda: Digest.objects.filter(status="sent").count() == 6, timeout=60)

        assert provider.recipients() == {p.email: 1 for p in people}
    sent = Digest.objects.filter(status=Digest.Status.SENT)
    assert sorted(sent.values_list("subscriber_id", flat=True)) == [p.pk for p in people]
    assert not Digest.objects.exclude(status=Digest.Status.SENT).exists()
