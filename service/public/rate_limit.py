"""The public rate limit, counted once for every worker process and every host.

Each public request is counted in PostgreSQL against its client's address, by one
statement that admits it only while the limit is not reached. Requests that arrive
while a count is on its way wait for the next one, which counts them together: one
statement per batch, not per request. The count is a sliding window estimated from
two fixed one-minute windows (this minute's count, plus last minute's weighted by the
share of it still inside the sliding minute), so a client cannot double the limit
across a minute boundary. Only admitted requests are counted, and a refused client
writes nothing. The table is UNLOGGED: counts are worth nothing after a crash, and
skipping the WAL makes each count cheaper.

The client is the connection's peer address. The server has already replaced it
with the X-Forwarded-For client only when the peer is one of ``TRUSTED_PROXIES``
(see ``credit-service serve``), so a client cannot choose what is counted.

If the database cannot count (down, slow), the request is let through and a warning
logged once a minute: the public answers come from memory and should outlive it.
"""

from __future__ import annotations

import asyncio
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
POOL_SIZE = 2  # connections per process: one count in flight, one to spare
TIMEOUT_SECONDS = 1.0


class PublicRateCount(SQLModel, table=True):
    __tablename__ = "public_rate_counts"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    client: str = Field(primary_key=True, max_length=64)
    window_start: int = Field(primary_key=True, sa_type=sa.BigInteger)  # Unix seconds
    hits: int  # requests admitted in this window
    asked: int = 0  # of the last batch that counted here: requests asked, and admitted
    admitted: int = 0


# One statement counts a batch: $1 clients, $2 requests each, $3 this window's start,
# $4 last window's weight, $5 its start, $6 the limit. Each client is admitted as many
# of its requests as keep (admitted + last window's weighted count) within the limit,
# computed from the row as it is once locked, so concurrent workers never overshoot.
_LAST_WINDOW = (
    "coalesce((SELECT p.hits FROM public_rate_counts p"
    " WHERE p.client = {client} AND p.window_start = $5), 0) * $4::float8"
)
_ROOM = "greatest(0, floor($6::float8 - {hits} - " + _LAST_WINDOW + ")::int)"
_COUNT = f"""
INSERT INTO public_rate_counts AS t (client, window_start, hits, asked, admitted)
SELECT a.client, $3, r.room, a.n, r.room
FROM unnest($1::text[], $2::int[]) AS a(client, n)
CROSS JOIN LATERAL (SELECT least(a.n, {_ROOM.format(hits="0", client="a.client")}) AS room) r
ON CONFLICT (client, window_start) DO UPDATE SET
    hits = t.hits + least(excluded.asked, {_ROOM.format(hits="t.hits", client="t.client")}),
    asked = excluded.asked,
    admitted = least(excluded.asked, {_ROOM.format(hits="t.hits", client="t.client")})
WHERE {_ROOM.format(hits="t.hits", client="t.client")} > 0
RETURNING t.client, t.admitted
"""
_FORGET = "DELETE FROM public_rate_counts WHERE window_start < $1"


class SharedRateLimit:
    """``limit`` public requests per client address in any sliding minute.

    Requests that arrive while a count is on its way to PostgreSQL wait for the next
    one, which counts them all: one statement per batch rather than per request, so
    the cost per request falls as the load rises, and each process keeps one
    statement in flight.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._pool: asyncpg.Pool | None = None
        self._waiting: dict[str, list[asyncio.Future[bool]]] = {}
        self._counting = False
        self._counter: asyncio.Task[None] | None = None
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

    async def admit(self, client: str) -> float | None:
        """None when the request may go on; else the seconds until it may be retried."""
        if self._pool is None:
            return None
        admitted: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(client, []).append(admitted)
        if not self._counting:
            self._counting = True
            self._counter = asyncio.create_task(self._count_while_waiting())
        if await admitted:
            return None
        now = time.time()
        return max(1.0, WINDOW_SECONDS - now % WINDOW_SECONDS)

    async def _count_while_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, {}
                counted = await self._count({client: len(f) for client, f in batch.items()})
                for client, futures in batch.items():
                    room = counted.get(client, 0) if counted is not None else len(futures)
                    for position, future in enumerate(futures):
                        if not future.done():  # its request may have been cancelled
                            future.set_result(position < room)
        finally:
            self._counting = False

    async def _count(self, asked: dict[str, int]) -> dict[str, int] | None:
        """How many of each client's requests are admitted; None if nothing could count."""
        now = time.time()
        window = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
        weight = 1.0 - (now - window) / WINDOW_SECONDS
        assert self._pool is not None
        try:
            async with self._pool.acquire(timeout=TIMEOUT_SECONDS) as connection:
                if window != self._window_seen:
                    # Once a minute per process: forget windows no estimate needs.
                    self._window_seen = window
                    await connection.execute(
                        _FORGET, window - WINDOW_SECONDS, timeout=TIMEOUT_SECONDS
                    )
                rows = await connection.fetch(
                    _COUNT, list(asked), list(asked.values()), window, weight,
                    window - WINDOW_SECONDS, self.limit, timeout=TIMEOUT_SECONDS,
                )  # fmt: skip
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            if self._warned_window != window:
                self._warned_window = window
                log.warning("rate_limit_unavailable", error_type=type(error).__name__)
            return None
        return {client: admitted for client, admitted in rows}


def rate_limit_middleware(limiter: SharedRateLimit) -> Any:
    """ASGI middleware for the public routes: 429 (a problem, with Retry-After) past the limit."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def limited(scope: Scope, receive: Receive, send: Send) -> None:
            client = scope.get("client")
            wait = await limiter.admit(client[0] if client else "unknown")
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
