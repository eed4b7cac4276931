"""Sliding-window rate limits in the Django cache, shared by every web process and worker.

Each limit keeps the times of the hits it allowed over the last ``window`` seconds and
allows another only while there are fewer than ``limit``: no window boundary lets twice
the limit through, as fixed windows do. Counting and adding are one atomic step on each
cache backend Paperwire configures: a Lua script on Redis, a file lock on the file cache
(shared by the processes of one machine), a lock on the per-process memory cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest

# Trim the window, refuse at the limit, else record this hit: one script, so atomic.
_REDIS_ALLOW = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(window))
return 1
"""
_process_lock = threading.Lock()


def allow(scope: str, key: str, *, limit: int, window: int) -> bool:
    """Count one hit of ``key`` in ``scope``: False, and not counted, when ``limit`` hits
    were already allowed in the last ``window`` seconds."""
    cache = caches["default"]
    name = _name(cache, scope, key)
    now = time.time()
    if isinstance(cache, RedisCache):
        # _cache and _dir below: private attributes of Django's caches, not in the stubs.
        client = cache._cache.get_client(name, write=True)  # type: ignore[attr-defined]
        script = client.register_script(_REDIS_ALLOW)
        return bool(script(keys=[name], args=[now, window, limit, uuid.uuid4().hex]))
    with _locked(cache):
        hits = [hit for hit in cache.get(name, []) if hit > now - window]
        allowed = len(hits) < limit
        if allowed:
            hits.append(now)
        cache.set(name, hits, timeout=window)
    return allowed


def give_back(scope: str, key: str, *, window: int) -> None:
    """Forget the latest hit of ``key``: what it paid for did not happen (the mail
    server was down), so a retry may work."""
    cache = caches["default"]
    name = _name(cache, scope, key)
    if isinstance(cache, RedisCache):
        cache._cache.get_client(name, write=True).zpopmax(name)  # type: ignore[attr-defined]
        return
    with _locked(cache):
        hits = cache.get(name, [])
        if hits:
            cache.set(name, hits[:-1], timeout=window)


def _name(cache: BaseCache, scope: str, key: str) -> str:
    # Hashed, so cache keys hold no email addresses and no odd characters.
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    name = f"ratelimit:{scope}:{digest}"
    return cache.make_and_validate_key(name) if isinstance(cache, RedisCache) else name


@contextmanager
def _locked(cache: BaseCache):
    """One process and one thread at a time between reading and writing a limit's hits."""
    with _process_lock:
        if not isinstance(cache, FileBasedCache):
            yield
            return
        path = Path(cache._dir) / "ratelimit.lock"  # type: ignore[attr-defined]
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the address our TRUSTED_PROXY_COUNT
    proxies saw, read from the right of X-Forwarded-For (the left is client-made)."""
    address = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        hops = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [hop for hop in hops if hop]
        if len(hops) >= proxies:
            address = hops[-proxies]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return ""


def client_network(request: HttpRequest) -> str:
    """What per-client limits count: the IPv4 address, or the IPv6 /64 around it (one
    customer gets a whole /64 and picks any address in it at will)."""
    address = client_ip(request)
    if not address:
        return ""
    parsed = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return address
