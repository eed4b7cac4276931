from __future__ import annotations

import pytest

from digest.tasks import ping
from tests.support.workers import celery_worker


@pytest.mark.worker
def test_a_task_makes_a_round_trip_through_a_real_worker_process(transactional_db):
    with celery_worker() as proc:
        assert ping.delay().get(timeout=60) == "pong"
        assert proc.poll() is None
