"""What a Celery worker process does differently from a web process: it keeps a day's
index out of the garbage collector's sight, and refuses to start on a broker visibility
timeout shorter than a task may run."""

from __future__ import annotations

import datetime as dt
import gc
import weakref

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from config import celery
from digest import matching
from digest.models import Paper


def papers(first: int) -> list[Paper]:
    """Twenty papers never indexed before in this process (their keys start at ``first``)."""
    moment = dt.datetime(2026, 8, 20, tzinfo=dt.UTC)
    return [
        Paper(pk=n, title=f"Paper {n}", abstract="models of language", updated_at=moment)
        for n in range(first, first + 20)
    ]


@pytest.fixture
def frozen_indexes_undone():
    flag = matching.FREEZE_INDEXES
    yield
    matching.FREEZE_INDEXES = flag
    gc.unfreeze()


def test_a_web_process_never_freezes_what_it_indexes(frozen_indexes_undone):
    before = gc.get_freeze_count()
    matching.day_index(papers(10_000))
    assert gc.get_freeze_count() == before


def test_a_worker_collects_pending_garbage_before_freezing_an_index(frozen_indexes_undone):
    celery._prepare_worker()  # what the worker_init signal runs
    assert matching.FREEZE_INDEXES

    class Node:
        self: Node | None = None

    gc.disable()  # keep the cycle pending until the index is built, as under load
    try:
        cycle = Node()
        cycle.self = cycle
        probe = weakref.ref(cycle)
        del cycle
        matching.day_index(papers(20_000))
        gc.collect()
        assert probe() is None  # freed, not pinned in the permanent generation
        assert gc.get_freeze_count() > 0
    finally:
        gc.enable()


def test_a_worker_refuses_to_start_on_a_visibility_timeout_shorter_than_a_task(settings):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 120}
    with pytest.raises(ImproperlyConfigured, match="CELERY_VISIBILITY_TIMEOUT is 120 s"):
        celery._prepare_worker()


def test_the_system_check_refuses_a_visibility_timeout_below_the_lease(settings):
    settings.DIGEST_LEASE_SECONDS = 600
    settings.SEND_TASK_TIME_LIMITS = (60, 90)
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
    with pytest.raises(SystemCheckError, match=r"paperwire\.E001"):
        call_command("check")


def test_the_system_check_accepts_the_defaults(settings):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    call_command("check")
