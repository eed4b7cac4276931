"""The Celery app. The whole beat schedule is written here, in one place."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab
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
            "schedule": 300.0,
        },
        "delete-unconfirmed-subscribers": {
            "task": "accounts.tasks.delete_unconfirmed",
            "schedule": crontab(hour=settings.UNCONFIRMED_DELETE_HOUR_UTC, minute=0),
        },
    }
