"""The sending rate shared by every worker through the cache, on a fake clock."""

from __future__ import annotations

from digest.mail.throttle import SendThrottle


class Clock:
    """time.time and time.sleep for a throttle, without waiting."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def sends_per_second(throttle: SendThrottle, clock: Clock, count: int) -> dict[int, int]:
    seconds: dict[int, int] = {}
    for _ in range(count):
        throttle.wait()
        second = int(clock.now)
        seconds[second] = seconds.get(second, 0) + 1
    return seconds


def test_the_rate_holds_across_two_workers_sharing_the_cache():
    clock = Clock()
    # Two throttles stand for two worker processes: they share only the cache.
    first = SendThrottle(5, clock=clock.time, sleep=clock.sleep)
    second = SendThrottle(5, clock=clock.time, sleep=clock.sleep)
    seconds: dict[int, int] = {}
    for _ in range(10):
        for throttle in (first, second):
            throttle.wait()
            seconds[int(clock.now)] = seconds.get(int(clock.now), 0) + 1
    assert sum(seconds.values()) == 20
    assert max(seconds.values()) == 5


def test_a_rate_below_one_per_second_still_sends():
    clock = Clock()
    counts = sends_per_second(SendThrottle(0.5, clock=clock.time, sleep=clock.sleep), clock, 3)
    assert sum(counts.values()) == 3
    assert clock.now - 1_000_000.0 >= 4  # one message every two seconds


def test_no_rate_means_no_waiting():
    clock = Clock()
    sends_per_second(SendThrottle(0, clock=clock.time, sleep=clock.sleep), clock, 100)
    assert clock.slept == []


def test_a_pause_holds_every_worker_until_it_ends():
    clock = Clock()
    one = SendThrottle(0, clock=clock.time, sleep=clock.sleep)
    other = SendThrottle(0, clock=clock.time, sleep=clock.sleep)

    one.pause(30)
    other.wait()

    assert clock.now - 1_000_000.0 >= 30
