"""The rate limits: a sliding window, counted atomically on the project's cache backends."""

from __future__ import annotations

import multiprocessing
from types import SimpleNamespace

from django.test import RequestFactory

from accounts import ratelimit

WINDOW_START = 1_800_000_000.0  # a multiple of 3600: where an hourly fixed window begins


def at(monkeypatch, moment: float) -> None:
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: moment))


def test_it_holds_a_limit_across_a_window_boundary(monkeypatch):
    at(monkeypatch, WINDOW_START - 1)
    before = [ratelimit.allow("t", "ip", limit=20, window=3600) for _ in range(25)]
    at(monkeypatch, WINDOW_START + 1)
    after = [ratelimit.allow("t", "ip", limit=20, window=3600) for _ in range(25)]
    assert sum(before) + sum(after) == 20  # a fixed window let 40 through in two seconds
    at(monkeypatch, WINDOW_START + 3600)
    assert ratelimit.allow("t", "ip", limit=20, window=3600)  # an hour after the first hits


def test_it_gives_back_a_hit_whose_email_could_not_be_sent():
    assert ratelimit.allow("t", "box", limit=1, window=60)
    assert not ratelimit.allow("t", "box", limit=1, window=60)
    ratelimit.give_back("t", "box", window=60)
    assert ratelimit.allow("t", "box", limit=1, window=60)


def _burst(start, results) -> None:
    start.wait()
    results.put(sum(ratelimit.allow("burst", "ip", limit=20, window=3600) for _ in range(6)))


def test_it_counts_atomically_when_processes_race():
    # Eight processes sharing the cache (files, or Redis when configured), all at once.
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(8), context.Queue()
    workers = [context.Process(target=_burst, args=(start, results)) for _ in range(8)]
    for worker in workers:
        worker.start()
    allowed = sum(results.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
    assert allowed == 20


def test_it_limits_ipv6_clients_per_64_and_ipv4_per_address():
    def network(address: str) -> str:
        return ratelimit.client_network(RequestFactory().get("/", REMOTE_ADDR=address))

    assert network("2001:db8:1:2::1") == network("2001:db8:1:2:ffff:ffff:ffff:fffe")
    assert network("2001:db8:1:2::1") != network("2001:db8:1:3::1")
    assert network("::ffff:198.51.100.7") == network("198.51.100.7") == "198.51.100.7"
    assert network("198.51.100.7") != network("198.51.100.8")
