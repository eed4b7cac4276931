"""When a subscriber's next digest is due, in UTC, from their local hour."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

UTC = dt.UTC
logger = logging.getLogger(__name__)


@functools.cache
def time_zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def is_valid_time_zone(name: str) -> bool:
    return name in time_zone_names()


def zone(name: str) -> ZoneInfo:
    """The time zone called ``name``, or UTC when there is none by that name (forms refuse
    unknown names, but a zone can leave the tz database, or a script store a typo), so a
    subscriber with a broken zone is still scheduled and mailed, in UTC."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown time zone %r: using UTC", name)
        return ZoneInfo("UTC")


def next_send_at(
    after: dt.datetime,
    *,
    hour: int,
    time_zone: str,
    weekly_on: int | None = None,
) -> dt.datetime:
    """The first local ``hour``:00 strictly after ``after`` (on weekday
    ``weekly_on``, Monday being 0, when given), as an aware UTC datetime.

    Days are counted in local dates, so a daylight-saving change never gives
    two sends, or none, on one local day. An hour that does not exist locally
    (the spring-forward gap) resolves to the same instant an hour later.
    """
    tz = zone(time_zone)
    day = after.astimezone(tz).date()
    for _ in range(15):
        if weekly_on is None or day.weekday() == weekly_on:
            candidate = dt.datetime.combine(day, dt.time(hour), tzinfo=tz).astimezone(UTC)
            if candidate > after:
                return candidate
        day += dt.timedelta(days=1)
    raise AssertionError("unreachable: a matching day always falls within 15 days")


def local_date(moment: dt.datetime, time_zone: str) -> dt.date:
    """The subscriber's calendar date at ``moment``: the edition a digest belongs to."""
    return moment.astimezone(zone(time_zone)).date()
