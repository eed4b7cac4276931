from __future__ import annotations

import datetime as dt
import itertools

import pytest

from accounts.schedule import local_date, next_send_at

UTC = dt.UTC


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_it_picks_today_when_the_local_hour_is_still_ahead():
    # 05:00 UTC is 07:00 in Berlin in summer (UTC+2): 08:00 local is at 06:00 UTC.
    assert next_send_at(utc(2026, 7, 1, 5), hour=8, time_zone="Europe/Berlin") == utc(2026, 7, 1, 6)


def test_it_picks_tomorrow_once_the_local_hour_has_passed():
    assert next_send_at(utc(2026, 7, 1, 6), hour=8, time_zone="Europe/Berlin") == utc(2026, 7, 2, 6)


def test_weekly_waits_for_the_chosen_weekday():
    # 2026-07-01 is a Wednesday; Friday is 4.
    got = next_send_at(utc(2026, 7, 1, 5), hour=8, time_zone="UTC", weekly_on=4)
    assert got == utc(2026, 7, 3, 8)


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        ("America/New_York", utc(2026, 3, 7, 0)),  # spring forward on 8 March
        ("America/New_York", utc(2026, 10, 31, 0)),  # fall back on 1 November
        ("Europe/London", utc(2026, 3, 28, 0)),
        ("Europe/London", utc(2026, 10, 24, 0)),
        ("Australia/Sydney", utc(2026, 4, 3, 0)),  # fall back on 5 April
        ("Australia/Sydney", utc(2026, 10, 2, 0)),  # spring forward on 4 October
    ],
)
@pytest.mark.parametrize("hour", [1, 2, 3, 7])
def test_daylight_saving_days_give_exactly_one_send_per_local_day(zone, start, hour):
    moments = []
    moment = start
    for _ in range(5):
        moment = next_send_at(moment, hour=hour, time_zone=zone)
        moments.append(moment)
    days = [local_date(m, zone) for m in moments]
    assert days == sorted(set(days))
    assert all((b - a).days == 1 for a, b in itertools.pairwise(days))
    assert all(m.tzinfo == UTC for m in moments)


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "../../etc/passwd"])
def test_a_time_zone_that_does_not_exist_is_read_as_utc(name):
    # The one fallback delivery, resending and the email all use.
    assert next_send_at(utc(2026, 7, 1, 5), hour=8, time_zone=name) == utc(2026, 7, 1, 8)
    assert local_date(utc(2026, 7, 1, 23, 30), name) == dt.date(2026, 7, 1)
