"""Calendar arithmetic the rules need (months, not working days)."""

from __future__ import annotations

import calendar
from datetime import date, datetime

from service.clock import CHINA_TZ


def add_months(day: date, months: int) -> date:
    """The same day-of-month ``months`` later, clamped to the month's end (Jan 31 + 1 → Feb 28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_before(moment: datetime, months: int) -> datetime:
    """The same time of day in China ``months`` calendar months earlier (clamped to the
    month's end like ``add_months``): how long a grade has been held is counted so."""
    local = moment.astimezone(CHINA_TZ)
    return datetime.combine(add_months(local.date(), -months), local.timetz())
