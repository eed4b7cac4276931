"""Hostile hosts and URLs: each test is named for the fault and shows what happens.

Refusals happen before any connection (the loopback server records none); caps and the
deadline abort the fetch with a recorded error and free the worker for the next source.
"""

from __future__ import annotations

import socket
import threading
import time
import zlib

import pytest

from digest.ingest import fetch as fetch_module
from digest.ingest.fetch import BlockedURL, FetchError, FetchTimeout, TooLarge, fetch
from digest.ingest.store import ingest_source
from digest.models import Source
from tests.support.feedserver import FeedServer, Reply
from tests.support.processes import wait_for

FEED = b'<rss version="2.0"><channel><item><title>T</title><guid>g1</guid></item></channel></rss>'


@pytest.fixture
def server():
    with FeedServer() as running:
        yield running


@pytest.fixture
def loopback_is_public(monkeypatch):
    """Play a public host on 127.0.0.1, so that *other* private addresses can be refused
    with FETCH_ALLOW_PRIVATE off while the first hop still connects."""
    real = fetch_module.is_public
    monkeypatch.setattr(fetch_module, "is_public", lambda ip: ip == "127.0.0.1" or real(ip))


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.org/feed", "gopher://example.org/", "javascript:x"],
)
def test_it_refuses_urls_that_are_not_http(url, settings):
    settings.FETCH_ALLOW_PRIVATE = True
    with pytest.raises(BlockedURL, match="only http and https"):
        fetch(url)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "2130706433",  # 127.0.0.1 as one number
        "0x7f.1",  # hexadecimal, short form
        "0177.0.0.1",  # octal
        "127.1",
        "[::1]",
        "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
        "[::ffff:7f00:1]",
    ],
)
def test_it_refuses_loopback_addresses_in_any_spelling(host, server):
    with pytest.raises(BlockedURL, match="non-public address"):
        fetch(f"http://{host}:{server.port}/feed")
    assert server.requests == []


@pytest.mark.parametrize(
    "host",
    [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata, link-local
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "0",  # 0.0.0.0 as one number
        "[::]",
        "[fe80::1]",
        "[fc00::1]",
        "[2002:a00:1::]",  # 6to4 wrapping 10.0.0.1
        "224.0.0.1",
    ],
)
def test_it_refuses_private_and_link_local_addresses(host, settings):
    settings.FETCH_ALLOW_PRIVATE = False
    with pytest.raises(BlockedURL, match="non-public address"):
        fetch(f"http://{host}/feed")


def test_it_refuses_a_host_when_any_of_its_addresses_is_private(
    server, loopback_is_public, monkeypatch
):
    real = socket.getaddrinfo

    def two_addresses(host, *args, **kwargs):
        if host != "feeds.example.test":
            return real(host, *args, **kwargs)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", server.port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", server.port)),
        ]

    monkeypatch.setattr(fetch_module.socket, "getaddrinfo", two_addresses)
    with pytest.raises(BlockedURL, match=r"10\.0\.0\.7"):
        fetch(f"http://feeds.example.test:{server.port}/feed")
    assert server.requests == []


def test_it_refuses_a_redirect_into_a_private_address(server, loopback_is_public):
    with FeedServer("127.0.0.2") as inside:
        inside.routes["/secret"] = Reply(b"internal")
        server.routes["/feed"] = Reply(status=302, headers={"Location": inside.url("/secret")})
        with pytest.raises(BlockedURL, match=r"127\.0\.0\.2"):
            fetch(server.url("/feed"))
        assert inside.requests == []
    assert len(server.requests) == 1


def test_it_refuses_a_redirect_to_a_file_url(server, settings):
    settings.FETCH_ALLOW_PRIVATE = True
    server.routes["/feed"] = Reply(status=301, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(BlockedURL):
        fetch(server.url("/feed"))


def test_it_fetches_from_private_addresses_when_the_setting_allows(server, settings):
    settings.FETCH_ALLOW_PRIVATE = True
    server.routes["/feed"] = Reply(b"intranet")
    assert fetch(server.url("/feed")).body == b"intranet"


@pytest.fixture
def capped(settings):
    settings.FETCH_ALLOW_PRIVATE = True
    settings.FETCH_MAX_BYTES = 64 * 1024
    settings.FETCH_TIMEOUT = 5.0
    settings.FETCH_READ_TIMEOUT = 5.0


def test_it_refuses_a_body_declared_over_the_cap_without_reading_it(server, capped):
    server.routes["/feed"] = Reply(b"x" * 100, headers={"Content-Length": str(100 * 2**20)})
    with pytest.raises(TooLarge, match="over the 65536 byte cap"):
        fetch(server.url("/feed"))


def test_it_stops_reading_an_endless_body_at_the_cap(server, capped):
    sent = []

    def endless(handler):
        handler.send_response(200)
        handler.end_headers()
        try:
            while not server.stopping.is_set():
                handler.wfile.write(b"x" * 16384)
                sent.append(16384)
        except OSError:
            pass  # the client hung up, as it should

    server.routes["/feed"] = endless
    with pytest.raises(TooLarge):
        fetch(server.url("/feed"))


def test_it_stops_a_gzip_bomb_at_the_decompressed_cap(server, capped):
    # 10 MB of zeros in ~10 kB: under the cap on the wire, far over it decompressed.
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = packer.compress(b"\0" * (10 * 2**20)) + packer.flush()
    assert len(bomb) < 64 * 1024
    server.routes["/feed"] = Reply(bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(TooLarge, match="after decompression"):
        fetch(server.url("/feed"))


def stall(server):
    def handler(_handler):
        server.stopping.wait(30)  # answer nothing until the test ends

    return handler


def test_it_gives_up_on_a_server_that_never_answers(server, settings):
    settings.FETCH_ALLOW_PRIVATE = True
    settings.FETCH_TIMEOUT = 0.5
    server.routes["/feed"] = stall(server)
    with pytest.raises(FetchTimeout, match=r"0\.5 s deadline"):
        fetch(server.url("/feed"))


def drip(server, hung_up: list[bool], *, headers_first: bool):
    """Headers then a body byte every 50 ms, or the status line itself that slowly, for 3 s;
    ``hung_up`` records whether the client closed the connection before the drip ended."""

    def handler(handler):
        if headers_first:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n")
        try:
            for _ in range(60):
                if server.stopping.is_set():
                    return
                handler.wfile.write(b"x" if headers_first else b"H")
                handler.wfile.flush()
                time.sleep(0.05)
        except OSError:
            hung_up.append(True)

    return handler


@pytest.mark.parametrize("headers_first", [True, False], ids=["body", "status_line"])
def test_it_hangs_up_on_a_server_dripping_a_byte_at_a_time(server, settings, headers_first):
    # Each byte comes well within the read timeout; only the total deadline stops it.
    settings.FETCH_ALLOW_PRIVATE = True
    settings.FETCH_TIMEOUT = 0.6
    settings.FETCH_READ_TIMEOUT = 5.0
    hung_up: list[bool] = []
    server.routes["/feed"] = drip(server, hung_up, headers_first=headers_first)
    with pytest.raises(FetchTimeout, match="deadline"):
        fetch(server.url("/feed"))
    wait_for(lambda: hung_up, timeout=5)


@pytest.mark.django_db
def test_it_records_the_error_when_a_source_times_out(server, settings):
    settings.FETCH_ALLOW_PRIVATE = True
    settings.FETCH_TIMEOUT = 0.5
    server.routes["/feed"] = stall(server)
    source = Source.objects.create(name="Stuck", kind=Source.Kind.FEED, url=server.url("/feed"))
    run = ingest_source(source)
    source.refresh_from_db()
    assert run.status == Source.Status.ERROR
    assert "deadline" in run.error
    assert source.last_status == Source.Status.ERROR
    assert "deadline" in source.last_error


@pytest.mark.django_db
def test_it_records_a_refused_source_url_without_connecting(server, settings):
    settings.FETCH_ALLOW_PRIVATE = False
    source = Source.objects.create(name="Inside", kind=Source.Kind.FEED, url=server.url("/feed"))
    run = ingest_source(source)
    assert run.status == Source.Status.ERROR
    assert "non-public address" in run.error
    assert server.requests == []


@pytest.mark.worker
def test_it_frees_the_worker_when_a_source_never_answers(transactional_db, server):
    """One worker process, two enabled sources: the stuck one is abandoned at the deadline
    and the next source is still ingested; ingest_all queued one task per enabled source."""
    from digest.models import SourceRun
    from digest.tasks import ingest_all
    from tests.support.workers import celery_worker

    server.routes["/stuck"] = stall(server)
    server.routes["/good"] = Reply(FEED)
    # Created first, so that if it were queued it would run first, before the others end.
    Source.objects.create(name="Off", kind=Source.Kind.FEED, url=server.url("/x"), enabled=False)
    stuck = Source.objects.create(name="Stuck", kind=Source.Kind.FEED, url=server.url("/stuck"))
    good = Source.objects.create(name="Good", kind=Source.Kind.FEED, url=server.url("/good"))
    with celery_worker(concurrency=1, FETCH_TIMEOUT="1"):
        ingest_all.apply_async(ignore_result=False).get(timeout=30)
        wait_for(lambda: SourceRun.objects.filter(finished_at__isnull=False).count() == 2, 60)
    assert SourceRun.objects.get(source=stuck).status == Source.Status.ERROR
    assert SourceRun.objects.get(source=good).status == Source.Status.OK
    assert SourceRun.objects.count() == 2  # the disabled source was not fetched


@pytest.mark.parametrize(
    "host",
    [
        "[64:ff9b::7f00:1]",  # NAT64 (RFC 6052) wrapping 127.0.0.1
        "[64:ff9b::a00:7]",  # NAT64 wrapping 10.0.0.7
        "[64:ff9b::a9fe:a9fe]",  # NAT64 wrapping the cloud metadata address
        "[::7f00:1]",  # IPv4-compatible 127.0.0.1
        "[::a00:7]",  # IPv4-compatible 10.0.0.7
    ],
)
def test_it_judges_nat64_and_ipv4_compatible_addresses_by_the_ipv4_inside(host, settings):
    settings.FETCH_ALLOW_PRIVATE = False
    with pytest.raises(BlockedURL, match="non-public address"):
        fetch(f"http://{host}/feed")


def test_a_nat64_address_of_a_public_host_is_public():
    assert fetch_module.is_public("64:ff9b::808:808")  # 8.8.8.8 through NAT64
    assert not fetch_module.is_public("::1") and not fetch_module.is_public("::")


def resolving(monkeypatch, name: str, *addresses: tuple[int, tuple]) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host != name:
            return real(host, *args, **kwargs)
        return [(family, socket.SOCK_STREAM, 6, "", sockaddr) for family, sockaddr in addresses]

    monkeypatch.setattr(fetch_module.socket, "getaddrinfo", getaddrinfo)


def test_it_tries_every_address_of_a_host_until_one_answers(server, settings, monkeypatch):
    settings.FETCH_ALLOW_PRIVATE = True
    server.routes["/feed"] = Reply(FEED)
    # Broken IPv6 first (nothing listens there), then an address nobody answers on, then
    # the server: curl falls back from one to the next, and so do we.
    resolving(
        monkeypatch,
        "feeds.example.test",
        (socket.AF_INET6, ("::1", server.port, 0, 0)),
        (socket.AF_INET, ("127.0.0.2", server.port)),
        (socket.AF_INET, ("127.0.0.1", server.port)),
    )
    assert fetch(f"http://feeds.example.test:{server.port}/feed").body == FEED


@pytest.fixture
def no_proxy_exceptions(monkeypatch):
    for name in ("no_proxy", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def test_it_sends_a_plain_http_fetch_through_the_proxy_to_the_checked_address(
    server, settings, monkeypatch, no_proxy_exceptions
):
    settings.FETCH_ALLOW_PRIVATE = True
    server.routes["/feed"] = Reply(b"direct, bypassing the proxy")
    resolving(monkeypatch, "feeds.example.test", (socket.AF_INET, ("127.0.0.1", server.port)))
    with FeedServer() as proxy:
        proxy.routes[f"http://127.0.0.1:{server.port}/feed"] = Reply(FEED)
        monkeypatch.setenv("http_proxy", proxy.url(""))

        assert fetch(f"http://feeds.example.test:{server.port}/feed").body == FEED

        ((path, headers),) = proxy.requests
    assert path == f"http://127.0.0.1:{server.port}/feed"  # the address checked, not the name
    assert headers["Host"] == f"feeds.example.test:{server.port}"
    assert server.requests == []


def test_it_tunnels_an_https_fetch_through_the_proxy_to_the_checked_address(
    settings, monkeypatch, no_proxy_exceptions
):
    settings.FETCH_ALLOW_PRIVATE = True
    resolving(monkeypatch, "feeds.example.test", (socket.AF_INET, ("127.0.0.1", 8443)))
    asked = []
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def refuse_one_connect() -> None:
            conn, _ = listener.accept()
            with conn:
                asked.append(conn.recv(4096).split(b"\r\n")[0])
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

        threading.Thread(target=refuse_one_connect, daemon=True).start()
        monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{listener.getsockname()[1]}")

        with pytest.raises(FetchError, match=r"refused CONNECT 127\.0\.0\.1:8443"):
            fetch("https://feeds.example.test:8443/feed")
    assert asked == [b"CONNECT 127.0.0.1:8443 HTTP/1.1"]


def test_one_deadline_covers_the_whole_fetch_retries_and_waits_included(server, settings):
    """A hostile feed answering 429 "retry in 1 s" again and again: with a 1.5 s deadline
    the fetch ends at the first wait that would pass it, not after every retry (which,
    with a deadline per attempt, held a worker about 5 minutes on the defaults)."""
    settings.FETCH_ALLOW_PRIVATE = True
    settings.FETCH_TIMEOUT = 1.5
    settings.FETCH_RETRIES = 3
    server.routes["/feed"] = Reply(status=429, headers={"Retry-After": "1"})

    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="deadline"):
        fetch(server.url("/feed"))

    assert time.monotonic() - started < 1.5
    assert len(server.requests) == 2
