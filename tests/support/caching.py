from __future__ import annotations

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache


def clear_cache() -> None:
    """Empty Paperwire's cache without touching anything else in its store.

    On Redis the cache shares a database with the Celery broker, and
    ``cache.clear()`` would FLUSHDB it, dropping queued tasks and bindings.
    """
    if isinstance(cache, RedisCache):
        # _cache: private to Django's Redis cache, so not in the stubs.
        client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
        keys = list(client.scan_iter(match=f"{cache.key_prefix}:*"))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()
