"""The Celery app. The whole beat schedule is written here, in one place."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_init
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("paperwire")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule(sender: Celery, **kwargs) -> None:
    sender.conf.beat_schedule = {
        "ingest-daily": {
            "task": "digest.tasks.ingest_all",
            "schedule": crontab(hour=settings.INGEST_HOUR_UTC, minute=settings.INGEST_MINUTE_UTC),
        },
        "dispatch-due-digests": {
            "task": "digest.tasks.dispatch_due",
            "schedule": float(settings.DISPATCH_EVERY_SECONDS),
        },
        "delete-unconfirmed-subscribers": {
            "task": "accounts.tasks.delete_unconfirmed",
            "schedule": crontab(hour=settings.UNCONFIRMED_DELETE_HOUR_UTC, minute=0),
        },
    }


@worker_init.connect
def _prepare_worker(**kwargs) -> None:
    """In the worker's main process, before the pool forks."""
    from django.core.exceptions import ImproperlyConfigured

    from digest import checks, matching

    # A worker does not start on settings that would run a task twice.
    errors = checks.visibility_timeout_outlasts_every_task()
    if errors:
        raise ImproperlyConfigured(f"{errors[0].msg} {errors[0].hint}")
    # Every process that runs tasks freezes a day's index once built (digest/matching.py).
    # Web processes do not: their preview indexes are small and come and go.
    matching.FREEZE_INDEXES = True
