"""System checks of settings whose mistakes would only show in production.

Run by every management command (``migrate`` in a deployment) and by each Celery worker
as it starts (config/celery.py).
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.compatibility)
def visibility_timeout_outlasts_every_task(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Redis hands an unacknowledged task to another worker after the visibility timeout:
    shorter than a task may run (or than a lease), and a chunk still sending is started a
    second time."""
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}
    timeout = options.get("visibility_timeout")
    if timeout is None:
        return []
    longest = max(
        settings.DIGEST_LEASE_SECONDS,
        settings.SEND_TASK_TIME_LIMITS[1],
        settings.INGEST_TASK_TIME_LIMITS[1],
        settings.CELERY_TASK_TIME_LIMIT,
    )
    if timeout >= longest:
        return []
    return [
        checks.Error(
            f"CELERY_VISIBILITY_TIMEOUT is {timeout} s, shorter than a task may run "
            f"({longest:.0f} s: a digest chunk's hard time limit, from DIGEST_CHUNK_SECONDS "
            "and DIGEST_LEASE_SECONDS): Redis would hand a running task to a second worker.",
            hint=f"Set CELERY_VISIBILITY_TIMEOUT to at least {longest:.0f}.",
            id="paperwire.E001",
        )
    ]
