"""Chinese working days: statutory holidays off, adjusted weekend days (调休) on.

The chinese-calendar library knows each year's official schedule once the State
Council publishes it. For a year it does not cover, the policy's calendar (weekends,
plus the days off it lists) stands in, and every deadline so computed says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar

from service.policy.document import Calendar


@dataclass(frozen=True, slots=True)
class Deadline:
    day: date
    by_fallback: bool  # a day counted was from a year the library does not cover


def is_workday(day: date, fallback: Calendar) -> tuple[bool, bool]:
    """Whether ``day`` is a working day, and whether the fallback calendar said so."""
    try:
        return bool(chinese_calendar.is_workday(day)), False
    except NotImplementedError:
        if day in fallback.workdays:
            return True, True
        if day in fallback.holidays:
            return False, True
        return day.weekday() < 5, True


def working_days_after(start: date, count: int, fallback: Calendar) -> Deadline:
    """The day by which ``count`` working days have passed after ``start`` (not counted).

    A notice served on a Friday before National Day, with five working days to object,
    runs out on the fifth working day after it, holidays skipped, 调休 Sundays counted.
    """
    day, counted, used_fallback = start, 0, False
    while counted < count:
        day += timedelta(days=1)
        working, by_fallback = is_workday(day, fallback)
        used_fallback = used_fallback or by_fallback
        counted += working
    return Deadline(day, used_fallback)
