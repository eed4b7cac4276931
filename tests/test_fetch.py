"""digest.ingest.fetch against a loopback server playing the feed host."""

from __future__ import annotations

import gzip

import pytest

from digest.ingest.fetch import FetchError, HTTPStatusError, fetch
from tests.support.feedserver import FeedServer, Reply


@pytest.fixture
def server(settings):
    settings.FETCH_ALLOW_PRIVATE = True
    settings.SITE_URL = "https://papers.example.org"
    with FeedServer() as running:
        yield running


class Sleeps(list):
    """Records the waits fetch() asks for instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_it_returns_the_body_and_the_validators(server):
    server.routes["/feed"] = Reply(b"<rss/>", headers={"ETag": '"v1"', "Last-Modified": "Mon"})
    response = fetch(server.url("/feed"))
    assert (response.status, response.body) == (200, b"<rss/>")
    assert (response.etag, response.last_modified) == ('"v1"', "Mon")


def test_it_names_paperwire_and_the_site_in_its_user_agent(server):
    server.routes["/feed"] = Reply(b"ok")
    fetch(server.url("/feed"))
    agent = server.requests[0][1]["User-Agent"]
    assert "Paperwire" in agent
    assert "https://papers.example.org" in agent


def test_it_decompresses_a_gzip_body(server):
    server.routes["/feed"] = Reply(gzip.compress(b"x" * 5000), headers={"Content-Encoding": "gzip"})
    assert fetch(server.url("/feed")).body == b"x" * 5000


def test_it_sends_its_validators_and_reports_not_modified(server):
    server.routes["/feed"] = Reply(status=304)
    response = fetch(server.url("/feed"), etag='"v1"', last_modified="Mon, 27 Apr 2026")
    headers = server.requests[0][1]
    assert headers["If-None-Match"] == '"v1"'
    assert headers["If-Modified-Since"] == "Mon, 27 Apr 2026"
    assert response.not_modified
    assert response.body == b""


def test_it_follows_redirects(server):
    server.routes["/old"] = Reply(status=301, headers={"Location": "/new"})
    server.routes["/new"] = Reply(b"moved")
    response = fetch(server.url("/old"))
    assert response.body == b"moved"
    assert response.url == server.url("/new")


def test_it_stops_following_a_redirect_loop(server):
    server.routes["/loop"] = Reply(status=302, headers={"Location": "/loop"})
    with pytest.raises(FetchError, match="redirects"):
        fetch(server.url("/loop"))


def test_it_retries_server_errors_with_growing_waits(server):
    server.routes["/feed"] = [Reply(status=500), Reply(status=502), Reply(b"ok")]
    sleeps = Sleeps()
    assert fetch(server.url("/feed"), sleep=sleeps).body == b"ok"
    assert sleeps == [1.0, 2.0]
    assert len(server.requests) == 3


def test_it_waits_as_long_as_retry_after_says_on_429(server):
    server.routes["/feed"] = [Reply(status=429, headers={"Retry-After": "7"}), Reply(b"ok")]
    sleeps = Sleeps()
    assert fetch(server.url("/feed"), sleep=sleeps).body == b"ok"
    assert sleeps == [7.0]


def test_it_gives_up_rather_than_wait_for_a_very_long_retry_after(server):
    server.routes["/feed"] = Reply(status=429, headers={"Retry-After": "3600"})
    sleeps = Sleeps()
    with pytest.raises(FetchError, match="retry after 3600"):
        fetch(server.url("/feed"), sleep=sleeps)
    assert sleeps == []


def test_it_gives_up_after_the_configured_retries(server, settings):
    settings.FETCH_RETRIES = 2
    server.routes["/feed"] = Reply(status=503)
    with pytest.raises(HTTPStatusError) as raised:
        fetch(server.url("/feed"), sleep=Sleeps())
    assert raised.value.status == 503
    assert len(server.requests) == 3


def test_it_does_not_retry_a_client_error(server):
    server.routes["/feed"] = Reply(b"<feed>why</feed>", status=400)
    with pytest.raises(HTTPStatusError) as raised:
        fetch(server.url("/feed"), sleep=Sleeps())
    assert raised.value.body == b"<feed>why</feed>"
    assert len(server.requests) == 1


def test_it_reports_a_refused_connection(settings):
    settings.FETCH_ALLOW_PRIVATE = True
    with FeedServer() as stopped:
        url = stopped.url("/feed")
    with pytest.raises(FetchError, match="cannot connect"):
        fetch(url)
