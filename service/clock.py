"""The injectable clock: domain code asks it for the time instead of the system."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone

Clock = Callable[[], datetime]

# China keeps one offset all year (no daylight saving), so dates of facts (an
# inspection, a penalty decision) are read on this clock without a tz database.
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def system_clock() -> datetime:
    return datetime.now(UTC)


def local_date(moment: datetime) -> date:
    """The calendar date in China at a moment."""
    return moment.astimezone(CHINA_TZ).date()


def start_of_local_day(day: date) -> datetime:
    """Midnight in China at the start of a date, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=CHINA_TZ)
