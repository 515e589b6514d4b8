"""The injectable clock: domain code asks it for the time instead of the system."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Moment:
    """The date a question is about, and the instant up to which facts are known."""

    as_of: date
    known_at: datetime

    @classmethod
    def of(cls, as_of: date, now: datetime) -> Moment:
        """A past date is answered with what was known by its end; today with what is known now."""
        return cls(as_of, min(now, start_of_local_day(as_of + timedelta(days=1))))
