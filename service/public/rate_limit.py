"""The public rate limit, counted once for every worker process and every host.

Each public request adds one to its client's count in PostgreSQL, in one statement
that also refuses the request when the limit is reached. The count is a sliding
window estimated from two fixed one-minute windows (this minute's count, plus last
minute's weighted by the share of it still inside the sliding minute), so a client
cannot double the limit across a minute boundary, and only accepted requests are
counted, so a refused client writes nothing. The table is UNLOGGED: counts are
worth nothing after a crash, and skipping the WAL makes each count cheaper.

The client is the connection's peer address. The server has already replaced it
with the X-Forwarded-For client only when the peer is one of ``TRUSTED_PROXIES``
(see ``credit-service serve``), so a client cannot choose what is counted.

If the database cannot count (down, slow), the request is let through and a warning
logged once a minute: the public answers come from memory and should outlive it.
"""

from __future__ import annotations

import math
import time
from typing import Any

import asyncpg
import sqlalchemy as sa
from litestar.exceptions import TooManyRequestsException
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlmodel import Field, SQLModel

from service.logs import get_logger

log = get_logger(__name__)
WINDOW_SECONDS = 60
POOL_SIZE = 4  # connections per process; one statement each, well under a millisecond
TIMEOUT_SECONDS = 1.0


class PublicRateCount(SQLModel, table=True):
    __tablename__ = "public_rate_counts"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    client: str = Field(primary_key=True, max_length=64)
    window_start: int = Field(primary_key=True, sa_type=sa.BigInteger)  # Unix seconds
    hits: int


# $1 client, $2 this window's start, $3 the limit, $4 last window's weight, $5 its start.
# A request is accepted when the estimate including it stays within the limit.
_COUNT = """
WITH previous AS (
    SELECT coalesce(max(hits), 0) * $4::float8 AS weighted
    FROM public_rate_counts WHERE client = $1 AND window_start = $5
)
INSERT INTO public_rate_counts AS c (client, window_start, hits)
SELECT $1, $2, 1 FROM previous WHERE 1 + previous.weighted <= $3
ON CONFLICT (client, window_start) DO UPDATE SET hits = c.hits + 1
WHERE c.hits + 1 + (SELECT weighted FROM previous) <= $3
RETURNING c.hits
"""
_FORGET = "DELETE FROM public_rate_counts WHERE window_start < $1"


class SharedRateLimit:
    """``limit`` public requests per client address in any sliding minute."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._pool: asyncpg.Pool | None = None
        self._window_seen = 0
        self._warned_window = 0

    async def start(self, dsn: str) -> None:
        # No connection is made until the first request: a database that is down at
        # start-up delays nothing.
        self._pool = await asyncpg.create_pool(dsn, min_size=0, max_size=POOL_SIZE)

    async def stop(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def admit(self, client: str, now: float) -> float | None:
        """None when the request may go on; else the seconds until it may be retried."""
        window = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
        weight = 1.0 - (now - window) / WINDOW_SECONDS
        pool = self._pool
        if pool is None:
            return None
        try:
            async with pool.acquire(timeout=TIMEOUT_SECONDS) as connection:
                if window != self._window_seen:
                    # Once a minute per process: forget windows no estimate needs.
                    self._window_seen = window
                    await connection.execute(
                        _FORGET, window - WINDOW_SECONDS, timeout=TIMEOUT_SECONDS
                    )
                hits = await connection.fetchval(
                    _COUNT, client, window, self.limit, weight, window - WINDOW_SECONDS,
                    timeout=TIMEOUT_SECONDS,
                )  # fmt: skip
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            if self._warned_window != window:
                self._warned_window = window
                log.warning("rate_limit_unavailable", error_type=type(error).__name__)
            return None
        if hits is not None:
            return None
        return max(1.0, window + WINDOW_SECONDS - now)


def rate_limit_middleware(limiter: SharedRateLimit) -> Any:
    """ASGI middleware for the public routes: 429 (a problem, with Retry-After) past the limit."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def limited(scope: Scope, receive: Receive, send: Send) -> None:
            client = scope.get("client")
            wait = await limiter.admit(client[0] if client else "unknown", time.time())
            if wait is not None:
                seconds = str(math.ceil(wait))
                raise TooManyRequestsException(
                    detail=f"more than {limiter.limit} public requests a minute from one address",
                    headers={
                        "Retry-After": seconds,
                        "RateLimit-Limit": str(limiter.limit),
                        "RateLimit-Remaining": "0",
                        "RateLimit-Reset": seconds,
                    },
                )
            await app(scope, receive, send)

        return limited

    return middleware
