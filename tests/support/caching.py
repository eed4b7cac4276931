from __future__ import annotations

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache


def clear_cache() -> None:
    """Empty Paperwire's cache without touching anything else in its store.

    On Redis the cache shares a database with the Celery broker, and
    ``cache.clear()`` would FLUSHDB it, dropping queued tasks and bindings.
    """
    if isinstance(cache, RedisCache):
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{cache.key_prefix}:*"))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()
