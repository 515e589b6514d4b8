"""Failures that are not bugs: the database is away, two writers collided, a value overflowed.

Each maps to the answer a client can act on (503 with Retry-After, 409 to retry,
4xx for a value), so no request answers 500 for them. The edges refuse bad values by
name first (service.web.guards, service.limits); what reaches this table is the last
line of defence, kept so a missed case is a clear 4xx and not a crash.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import sqlalchemy.exc

from service.errors import causes


@dataclass(frozen=True, slots=True)
class KnownFailure:
    status: int
    title: str
    detail: str
    retry_after: int | None = None  # seconds, for 503 and 409
    field: str | None = None


DATABASE_UNAVAILABLE = KnownFailure(
    503,
    "Service unavailable",
    "the database is not reachable at the moment; retry later",
    retry_after=5,
)
CONCURRENT_CHANGE = KnownFailure(
    409,
    "Conflict",
    "a concurrent request changed the same data; retry the request",
    retry_after=1,
)
UNSTORABLE_TEXT = KnownFailure(
    400,
    "Bad request",
    "the request holds text PostgreSQL cannot store (a NUL character)",
    field="body",
)
OUT_OF_RANGE = KnownFailure(
    422,
    "Invalid input",
    "a date or number in the request is outside the range this service accepts",
    field="body",
)

# SQLSTATE codes and classes (the first two characters) that mean each failure.
_BY_SQLSTATE: dict[str, KnownFailure] = {
    "08": DATABASE_UNAVAILABLE,  # connection exception
    "53": DATABASE_UNAVAILABLE,  # insufficient resources (too many connections, disk full)
    "57P01": DATABASE_UNAVAILABLE,  # admin shutdown
    "57P02": DATABASE_UNAVAILABLE,  # crash shutdown
    "57P03": DATABASE_UNAVAILABLE,  # cannot connect now (starting up, recovering)
    "57014": DATABASE_UNAVAILABLE,  # query cancelled (statement timeout, operator)
    "3D000": DATABASE_UNAVAILABLE,  # the configured database does not exist
    "28": DATABASE_UNAVAILABLE,  # the configured role may not log in
    "40P01": CONCURRENT_CHANGE,  # deadlock detected
    "40001": CONCURRENT_CHANGE,  # serialization failure
    "55P03": CONCURRENT_CHANGE,  # lock not available
    "22021": UNSTORABLE_TEXT,  # character not in repertoire (NUL)
    "22P05": UNSTORABLE_TEXT,  # untranslatable character
    "22008": OUT_OF_RANGE,  # datetime field overflow
    "22003": OUT_OF_RANGE,  # numeric value out of range
}


def sqlstate_of(error: BaseException) -> str | None:
    for link in causes(error):
        code = getattr(link, "sqlstate", None) or getattr(link, "pgcode", None)
        if isinstance(code, str) and len(code) == 5:
            return code
    return None


def classify(error: BaseException) -> KnownFailure | None:
    """The known failure an error stands for, or None for a bug (a 500, logged)."""
    code = sqlstate_of(error)
    if code is not None:
        return _BY_SQLSTATE.get(code) or _BY_SQLSTATE.get(code[:2])
    for link in causes(error):
        if isinstance(
            link,
            OSError  # refused, reset, unreachable, timed out
            | asyncpg.exceptions.ConnectionDoesNotExistError
            | sqlalchemy.exc.TimeoutError,  # every pooled connection is busy
        ):
            return DATABASE_UNAVAILABLE
        if isinstance(link, sqlalchemy.exc.DBAPIError) and link.connection_invalidated:
            return DATABASE_UNAVAILABLE
        if isinstance(link, OverflowError):
            return OUT_OF_RANGE
    return None
