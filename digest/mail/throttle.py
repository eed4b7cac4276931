"""The sending rate every worker shares, kept in the Django cache (Redis in production).

Two things live there: a bucket of ``SEND_RATE_PER_SECOND`` tokens refilled every window
(one atomic ``INCR`` per message, so the rate holds across processes and hosts), and a
"paused until" time set when the provider answers 429, so one throttled request slows
every worker, not only the thread that saw it.

The local file cache's ``incr`` is not atomic across processes: there the rate is
approximate, which is fine for a laptop.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

PAUSE_KEY = "send:paused-until"


class SendThrottle:
    def __init__(
        self,
        rate: float | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = settings.SEND_RATE_PER_SECOND if rate is None else rate
        self.clock = clock
        self.sleep = sleep

    def wait(self) -> None:
        """Block until this process may hand one message to the provider.

        With the cache unreachable, sending goes on unthrottled (and says so): the
        provider's own 429s still slow it down."""
        try:
            self._wait()
        except Exception:
            logger.warning("send throttle unavailable, sending without it", exc_info=True)

    def _wait(self) -> None:
        while True:
            paused_until = cache.get(PAUSE_KEY) or 0.0
            now = self.clock()
            if paused_until > now:
                self.sleep(paused_until - now)
                continue
            if self.rate <= 0:
                return
            # A window of at least one second, so a rate below 1/s still gets a token.
            window = max(1.0, 1.0 / self.rate)
            capacity = max(1, math.floor(self.rate * window))
            slot = math.floor(now / window)
            key = f"send:bucket:{slot}"
            cache.add(key, 0, timeout=math.ceil(window) + 5)
            try:
                taken = cache.incr(key)
            except ValueError:  # expired between add and incr: take the next window
                continue
            if taken <= capacity:
                return
            self.sleep((slot + 1) * window - now)

    def pause(self, seconds: float) -> None:
        """Hold every worker's sending for ``seconds`` (the provider said 429)."""
        until = self.clock() + seconds
        try:
            if until > (cache.get(PAUSE_KEY) or 0.0):
                cache.set(PAUSE_KEY, until, timeout=math.ceil(seconds) + 5)
        except Exception:  # the cache down: this thread still waits
            logger.warning("send throttle unavailable, pausing this thread only", exc_info=True)
            self.sleep(seconds)
