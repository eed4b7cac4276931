"""Celery tasks about subscribers: thin wrappers around QuerySet methods."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from accounts.models import Subscriber

logger = logging.getLogger(__name__)


@shared_task
def delete_unconfirmed() -> int:
    """Beat, daily: erase signups never confirmed within ``UNCONFIRMED_DELETE_AFTER_DAYS``
    (their consent record too; suppressions stay). Returns how many went; a second run
    the same day finds nothing more to delete."""
    days = settings.UNCONFIRMED_DELETE_AFTER_DAYS
    deleted = Subscriber.objects.unconfirmed_for(days).erase()
    logger.info("deleted %d signups still unconfirmed after %d days", deleted, days)
    return deleted
