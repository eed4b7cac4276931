"""Paperwire's own HTTP client for feeds: small, strict and hard to abuse.

Every source URL comes from an operator or a redirect, so each fetch is treated as
hostile: http(s) only; each hop's host resolved and *every* address checked (loopback,
private, link-local and other non-public ranges refused unless
``settings.FETCH_ALLOW_PRIVATE``; an address wrapping an IPv4 one, such as NAT64 or
IPv4-mapped, judged by the IPv4 inside), then the connection made to an address that was
checked, each in turn until one answers, so a second DNS answer cannot swap it and a host
with broken IPv6 still works; connect and read timeouts plus one deadline for the whole
fetch (every attempt, redirect, retry and wait) that also bounds a server dripping a byte
a second; a cap on the decompressed body (gzip bombs). Conditional GET (ETag /
Last-Modified) and retries with backoff on 429 (honouring Retry-After) and 5xx.

The proxy environment variables (``https_proxy``, ``http_proxy``, ``no_proxy``) are
honoured as curl honours them, and the connection still goes to the checked address: an
https fetch asks the proxy to ``CONNECT`` to that address (TLS is still checked against
the host name), a plain http one names that address in its request line.

Built on the standard library's http.client: the only part of an HTTP library we would
use is the wire protocol, and pinning the connection to a checked address is easier here
than through urllib3's pools or pycurl's socket callbacks.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import ipaddress
import socket
import ssl
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

from django.conf import settings

MAX_REDIRECTS = 5
# A server asking us to wait longer than this is not waited for: the run fails with the
# reason and the next scheduled run tries again, so a worker is never parked for long.
MAX_RETRY_WAIT = 60.0
_CHUNK = 64 * 1024
_REDIRECTS = {301, 302, 303, 307, 308}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are IPv4


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
    deadline = time.monotonic() + settings.FETCH_TIMEOUT
    headers = {"User-Agent": user_agent(), "Accept-Encoding": "gzip, deflate", "Accept": "*/*"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    attempt = 0
    while True:
        try:
            return _fetch_once(url, headers, deadline)
        except HTTPStatusError as error:
            if attempt >= retries or not (error.status == 429 or error.status >= 500):
                raise
            wait = _retry_after(error) if error.status == 429 else None
            wait = 2.0**attempt if wait is None else wait
            if wait > MAX_RETRY_WAIT:
                raise FetchError(
                    f"{error}: asked to retry after {wait:.0f} s; not waiting"
                ) from None
            if time.monotonic() + wait >= deadline:
                raise FetchTimeout(
                    f"{error}: a retry after {wait:g} s would pass the "
                    f"{settings.FETCH_TIMEOUT:g} s deadline of this fetch"
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


def _fetch_once(url: str, headers: dict[str, str], deadline: float) -> Response:
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
    addresses = _checked_addresses(parts.hostname, port)
    proxy = _proxy_for(scheme, parts.hostname)
    sock, address = _open(addresses, port, proxy, tunnel=scheme == "https", deadline=deadline)
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
        sent = dict(headers)
        if proxy and scheme == "http":
            # The proxy is told the checked address; the server still sees its host name.
            path = f"http://{_bracketed(address)}:{port}{path}"
            sent["Host"] = parts.netloc.rsplit("@", 1)[-1]
            sent.update(proxy.headers)
        connection.request("GET", path, headers=sent)
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


def _checked_addresses(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in the resolver's order, after checking that
    every one is allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise FetchError(f"cannot resolve {host}: {error}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not settings.FETCH_ALLOW_PRIVATE:
        for address in addresses:
            if not is_public(address):
                raise BlockedURL(
                    f"{host} resolves to {address}, a non-public address "
                    "(set FETCH_ALLOW_PRIVATE to allow)"
                )
    return addresses


def is_public(address: str) -> bool:
    """True for a globally routable unicast address. An IPv6 address carrying an IPv4 one
    (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) is judged by the IPv4 inside: it
    reaches that host."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and (ip in _NAT64 or _ipv4_compatible(ip)):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            ip = embedded
    return ip.is_global and not ip.is_multicast


def _ipv4_compatible(ip: ipaddress.IPv6Address) -> bool:
    """``::a.b.c.d`` (deprecated, still routed by some stacks to a.b.c.d); not ``::`` or
    ``::1``, which keep their own meaning."""
    return int(ip) >> 32 == 0 and int(ip) > 1


@dataclass(frozen=True)
class _Proxy:
    host: str
    port: int
    headers: dict[str, str]


def _proxy_for(scheme: str, host: str) -> _Proxy | None:
    """The proxy the environment names for this scheme and host (``no_proxy`` honoured)."""
    found = urllib.request.getproxies_environment().get(scheme)
    # proxy_bypass_environment: undocumented, so not in typeshed.
    if not found or urllib.request.proxy_bypass_environment(host):  # type: ignore[attr-defined]
        return None
    parts = urlsplit(found if "://" in found else f"http://{found}")
    if not parts.hostname:
        return None
    headers = {}
    if parts.username is not None:
        secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers["Proxy-Authorization"] = f"Basic {base64.b64encode(secret.encode()).decode()}"
    return _Proxy(parts.hostname, parts.port or 8080, headers)


def _open(
    addresses: list[str], port: int, proxy: _Proxy | None, *, tunnel: bool, deadline: float
) -> tuple[socket.socket, str]:
    """A socket to the first of ``addresses`` that answers (through ``proxy`` if any,
    tunnelled with CONNECT when ``tunnel``), and that address."""
    failures = []
    for address in addresses:
        try:
            if proxy is None:
                return _connect(address, port, deadline), address
            sock = _connect(proxy.host, proxy.port, deadline)
            if tunnel:
                try:
                    _tunnel(sock, address, port, proxy, deadline)
                except BaseException:
                    sock.close()
                    raise
            return sock, address
        except FetchError as error:
            failures.append(str(error))
    raise (FetchTimeout if time.monotonic() >= deadline else FetchError)("; ".join(failures))


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


def _tunnel(sock: socket.socket, address: str, port: int, proxy: _Proxy, deadline: float) -> None:
    """Ask the proxy for a tunnel to the checked address (not the host name, which the
    proxy would resolve again)."""
    target = f"{_bracketed(address)}:{port}"
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    lines += [f"{name}: {value}" for name, value in proxy.headers.items()]
    try:
        sock.settimeout(min(settings.FETCH_READ_TIMEOUT, max(0.01, deadline - time.monotonic())))
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(1024)
            if not chunk or len(answer) > _CHUNK:
                break
            answer += chunk
    except OSError as error:
        raise FetchError(f"proxy {proxy.host}: {error}") from None
    status = answer.split(b"\r\n", 1)[0].decode("latin-1")
    if status.split(" ")[1:2] != ["200"]:
        raise FetchError(f"proxy {proxy.host} refused CONNECT {target}: {status[:100]!r}")
    sock.settimeout(settings.FETCH_READ_TIMEOUT)


def _bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address


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
