"""Fixed-window rate limits in the Django cache (Redis in production), shared by
every web process."""

from __future__ import annotations

import hashlib
import ipaddress
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def allow(scope: str, key: str, *, limit: int, window: int) -> bool:
    """Count one hit of ``key`` in ``scope``; False once it passed ``limit`` this window."""
    # Hashed, so cache keys hold no email addresses and no odd characters.
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    bucket = f"ratelimit:{scope}:{digest}:{int(time.time() // window)}"
    if cache.add(bucket, 1, timeout=window):
        return limit >= 1
    try:
        return cache.incr(bucket) <= limit
    except ValueError:  # expired between add and incr
        cache.add(bucket, 1, timeout=window)
        return True


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
