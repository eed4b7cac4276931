from __future__ import annotations

import os

import pytest

from tests.support.caching import clear_cache

_skipped: list[str] = []


def pytest_collection_modifyitems(config, items):
    # Tests of PostgreSQL itself (a server restart) do not apply to another database:
    # deselected, not skipped, since CI allows no skip.
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    kept = [item for item in items if item.get_closest_marker("postgres") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    # CI allows no skipped test: a skip there hides a missing install step.
    if os.environ.get("CI") and _skipped and session.exitstatus == 0:
        print(f"\nCI allows no skipped tests; skipped: {', '.join(_skipped)}")
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield


@pytest.fixture(autouse=True)
def _form_emails_in_process(request, monkeypatch):
    """The forms queue their emails to a Celery task once the request's transaction
    commits; outside worker tests, run that task at once, in this process (a test's
    transaction never commits)."""
    if request.node.get_closest_marker("worker"):
        return
    from accounts import tasks

    for task in (tasks.email_signup, tasks.email_sign_in, tasks.email_new_confirmation):
        monkeypatch.setattr(task, "delay_on_commit", _run_now(task))


def _run_now(task):
    def delay_on_commit(*args, **kwargs):
        task.apply(args, kwargs, throw=True)

    return delay_on_commit
