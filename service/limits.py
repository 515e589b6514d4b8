"""The bounds every request is held to, in one place (uploaded files have theirs in
service.upload_limits); the README's "Errors and limits" table states them.

Dates: a date outside these years is a typing slip (0001, 9999), never a fact this
service records or asks about, and arithmetic near the calendar's edge (a day before
0001-01-01, a moment at 9999-12-31 -14:00 in UTC) overflows. One range for every date,
in bodies, query strings, paths and spreadsheets.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)
DATE_RANGE_MESSAGE = f"must be between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}"

# JSON bodies nested deeper than this are refused before they are decoded: no request
# body of this API nests more than a handful of levels.
MAX_JSON_DEPTH = 32


def date_in_range(value: date | datetime) -> bool:
    """Whether a date, or a moment (its date where it was written), lies in the accepted range."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            try:
                value.astimezone(UTC)
            except OverflowError:  # 9999-12-31T23:59:59-14:00 is past the calendar's end
                return False
        value = value.date()
    return EARLIEST_DATE <= value <= LATEST_DATE


def dates_out_of_range(value: Any) -> bool:
    """Whether a value, or any date inside a list of them, is outside the accepted range."""
    if isinstance(value, date):
        return not date_in_range(value)
    if isinstance(value, list | tuple):
        return any(dates_out_of_range(item) for item in value)
    return False


# Staff sign-in (decision 0027): every bound of the workbench's sign-in, in one place.
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128  # argon2 takes any length; a bound keeps hashing cheap to refuse
ENROLMENT_LINK_VALIDITY = timedelta(hours=72)
SESSION_IDLE_TIMEOUT = timedelta(minutes=30)
SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=12)
# Between a password accepted and its TOTP code: long enough to open the app, no longer.
SECOND_FACTOR_STEP_TIMEOUT = timedelta(minutes=5)
SIGN_IN_LOCKOUT = timedelta(minutes=15)
# Failed attempts within SIGN_IN_LOCKOUT that lock a login for SIGN_IN_LOCKOUT.
FAILURES_LOCKING_A_LOGIN = 5
# The same from one client address, over every login: password spraying tries one
# guess per login. Higher than per login, since a bureau's staff share one NAT address.
FAILURES_LOCKING_AN_ADDRESS = 20
# How long sign-in attempts and sessions stay in their tables (lockouts read 15 minutes,
# sessions end within 12 hours); the audit chain keeps every sign-in for good.
SIGN_IN_RECORDS_KEPT = timedelta(days=30)
