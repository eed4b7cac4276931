"""Paperwire's own HTTP client for feeds: small, strict and hard to abuse.

Every source URL comes from an operator or a redirect, so each fetch is treated as
hostile: http(s) only; each hop's host resolved and *every* address checked (loopback,
private, link-local and other non-public ranges refused unless
``settings.FETCH_ALLOW_PRIVATE``), then the connection made to the address that was
checked, so a second DNS answer cannot swap it; connect and read timeouts plus a total
deadline that also bounds a server dripping a byte a second; a cap on the decompressed
body (gzip bombs). Conditional GET (ETag / Last-Modified) and retries with backoff on
429 (honouring Retry-After) and 5xx.

Built on the standard library's http.client: the only part of an HTTP library we would
use is the wire protocol, and pinning the connection to a checked address is easier here
than through urllib3's pools.
"""

from __future__ import annotations

import email.utils
import http.client
import ipaddress
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from django.conf import settings

MAX_REDIRECTS = 5
# A server asking us to wait longer than this is not waited for: the run fails with the
# reason and the next scheduled run tries again, so a worker is never parked for long.
MAX_RETRY_WAIT = 60.0
_CHUNK = 64 * 1024
_REDIRECTS = {301, 302, 303, 307, 308}


class FetchError(Exception):
    """A fetch that did not give a usable body; the message says why, for the run log."""


class BlockedURL(FetchError):
    """A scheme or address we refuse to connect to."""


class TooLarge(FetchError):
    pass


class FetchTimeout(FetchError):
    pass


class HTTPStatusError(FetchError):
    def __init__(self, status: int, url: str, body: bytes = b"", retry_after: str = "") -> None:
        super().__init__(f"HTTP {status} from {url}")
        self.status = status
        self.body = body
        self.retry_after = retry_after


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    body: bytes
    etag: str = ""
    last_modified: str = ""
    content_type: str = ""

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def user_agent() -> str:
    return f"Paperwire/0.1 (+{settings.SITE_URL}; feed fetcher of a Paperwire instance)"


def fetch(
    url: str,
    *,
    etag: str = "",
    last_modified: str = "",
    retries: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Response:
    """GET ``url`` and return its (decompressed) body, or a 304 Response.

    Raises FetchError (or a subclass) with a readable reason; never returns a partial body.
    """
    retries = settings.FETCH_RETRIES if retries is None else retries
    headers = {"User-Agent": user_agent(), "Accept-Encoding": "gzip, deflate", "Accept": "*/*"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    attempt = 0
    while True:
        try:
            return _fetch_once(url, headers)
        except HTTPStatusError as error:
            if attempt >= retries or not (error.status == 429 or error.status >= 500):
                raise
            wait = _retry_after(error) if error.status == 429 else None
            wait = 2.0**attempt if wait is None else wait
            if wait > MAX_RETRY_WAIT:
                raise FetchError(
                    f"{error}: asked to retry after {wait:.0f} s; not waiting"
                ) from None
            sleep(wait)
            attempt += 1


def _retry_after(error: HTTPStatusError) -> float | None:
    value = error.retry_after.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _fetch_once(url: str, headers: dict[str, str]) -> Response:
    deadline = time.monotonic() + settings.FETCH_TIMEOUT
    for _ in range(MAX_REDIRECTS + 1):
        response = _request(url, headers, deadline)
        if not isinstance(response, str):
            return response
        url = response  # a redirect: the next hop is checked like the first
    raise FetchError(f"more than {MAX_REDIRECTS} redirects from {url}")


def _request(url: str, headers: dict[str, str], deadline: float) -> Response | str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"} or not parts.hostname:
        raise BlockedURL(f"only http and https URLs are fetched, not {url[:100]!r}")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise BlockedURL(f"bad port in {url[:100]!r}") from None
    address = _checked_address(parts.hostname, port)
    sock = _connect(address, port, deadline)
    # The watchdog closes the socket at the deadline, whatever recv() is waiting on
    # (a status line dripped a byte a second never trips a per-read timeout).
    # It works on the descriptor, which the TLS wrapper keeps.
    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _shut, (sock.fileno(),))
    watchdog.daemon = True
    watchdog.start()
    try:
        if scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
        connection = _PinnedConnection(parts.hostname, port, sock)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", path, headers=headers)
        reply = connection.getresponse()
        if reply.status in _REDIRECTS and reply.getheader("Location"):
            return urljoin(url, reply.getheader("Location"))
        if reply.status == 304:
            return Response(url=url, status=304, body=b"")
        if reply.status >= 400:
            # The body may explain the error (the arXiv API does); a short one is kept.
            try:
                body = _read_body(reply, deadline, cap=_CHUNK)
            except TooLarge:
                body = b""
            raise HTTPStatusError(reply.status, url, body, reply.getheader("Retry-After", ""))
        body = _read_body(reply, deadline, cap=settings.FETCH_MAX_BYTES)
        return Response(
            url=url,
            status=reply.status,
            body=body,
            etag=reply.getheader("ETag", "")[:300],
            last_modified=reply.getheader("Last-Modified", "")[:100],
            content_type=reply.getheader("Content-Type", ""),
        )
    except (OSError, http.client.HTTPException) as error:
        if time.monotonic() >= deadline:
            raise FetchTimeout(
                f"gave up on {url} after the {settings.FETCH_TIMEOUT:g} s deadline"
            ) from None
        if isinstance(error, TimeoutError):
            raise FetchTimeout(
                f"{url} sent nothing for {settings.FETCH_READ_TIMEOUT:g} s"
            ) from None
        raise FetchError(f"{url}: {error.__class__.__name__}: {error}") from None
    finally:
        watchdog.cancel()
        sock.close()


def _read_body(reply: http.client.HTTPResponse, deadline: float, *, cap: int) -> bytes:
    declared = reply.getheader("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        raise TooLarge(f"body of {declared} bytes is over the {cap} byte cap")
    encoding = reply.getheader("Content-Encoding", "").strip().lower()
    # wbits 47 accepts both gzip and zlib framing (HTTP's "deflate" is zlib).
    decoder = zlib.decompressobj(47) if encoding in {"gzip", "x-gzip", "deflate"} else None
    out = bytearray()
    received = 0
    while True:
        chunk = reply.read1(_CHUNK)  # what has arrived, so the deadline is checked often
        # After the deadline the watchdog has closed the socket: an "end" is not the end.
        if time.monotonic() >= deadline:
            raise TimeoutError
        if not chunk:
            break
        received += len(chunk)
        if decoder is None:
            out += chunk
        else:
            _inflate(decoder, chunk, out, cap)
        if len(out) > cap:
            raise TooLarge(f"body is over the {cap} byte cap (after decompression)")
    if declared.isdigit() and received < int(declared):
        raise FetchError(f"connection closed after {received} of {declared} bytes")
    if decoder is not None and not decoder.eof and received:
        raise FetchError("compressed body ended early")
    return bytes(out)


def _inflate(decoder, chunk: bytes, out: bytearray, cap: int) -> None:
    # Decompress at most cap+1 bytes at a time, so a bomb never grows past the cap in memory.
    data = chunk
    while data:
        try:
            out += decoder.decompress(data, cap + 1 - len(out) or 1)
        except zlib.error as error:
            raise FetchError(f"bad compressed body: {error}") from None
        if len(out) > cap:
            raise TooLarge(f"body is over the {cap} byte cap (after decompression)")
        data = decoder.unconsumed_tail


def _checked_address(host: str, port: int) -> str:
    """The first address ``host`` resolves to, after checking that every one is allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise FetchError(f"cannot resolve {host}: {error}") from None
    addresses = [info[4][0] for info in infos]
    if not settings.FETCH_ALLOW_PRIVATE:
        for address in addresses:
            if not is_public(address):
                raise BlockedURL(
                    f"{host} resolves to {address}, a non-public address "
                    "(set FETCH_ALLOW_PRIVATE to allow)"
                )
    return addresses[0]


def is_public(address: str) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 judged as IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            ip = embedded
    return ip.is_global and not ip.is_multicast


def _connect(address: str, port: int, deadline: float) -> socket.socket:
    timeout = min(settings.FETCH_CONNECT_TIMEOUT, max(0.01, deadline - time.monotonic()))
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except TimeoutError:
        raise FetchTimeout(f"no connection to {address} within {timeout:g} s") from None
    except OSError as error:
        raise FetchError(f"cannot connect to {address}: {error}") from None
    sock.settimeout(settings.FETCH_READ_TIMEOUT)
    return sock


def _shut(fd: int) -> None:
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.detach()  # the request's own socket object closes the descriptor


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTPConnection over a socket we connected ourselves (to the checked address)."""

    def __init__(self, host: str, port: int, sock: socket.socket) -> None:
        super().__init__(host, port)
        self.sock = sock

    def connect(self) -> None:  # the socket is already connected
        pass
