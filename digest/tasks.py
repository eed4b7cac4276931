"""Celery tasks: thin wrappers that take ids and call plain modules."""

from __future__ import annotations

from celery import shared_task


@shared_task
def ping() -> str:
    """Round trip check for a worker (used by tests and operators)."""
    return "pong"
