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
