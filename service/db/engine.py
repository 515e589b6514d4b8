"""The async engine and session factory, one per process."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# The service's mark on every connection it opens: a custom setting, given at connection
# start (no extra statement), that the content-audit triggers and the records guard read
# to tell the service's writes from anyone else's (decision 0035). A psql session or a
# raw driver connection does not carry it.
ORIGIN_SETTING = "credit.origin"
SERVICE_ORIGIN = "service"


def make_engine(
    database_url: str, pool_size: int = 10, *, connect_timeout: float | None = None
) -> AsyncEngine:
    # asyncpg prepares every statement, and after five runs PostgreSQL may switch a
    # prepared statement to a generic plan, blind to its parameters: for the scoring
    # SQL over an array of ten thousand ids that plan took 83 s instead of 1 s.
    # Planning with the actual parameters each time costs well under a millisecond.
    connect_args: dict[str, Any] = {
        "server_settings": {"plan_cache_mode": "force_custom_plan", ORIGIN_SETTING: SERVICE_ORIGIN}
    }
    if connect_timeout is not None:
        connect_args["timeout"] = connect_timeout  # asyncpg waits 60 s by default
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # SQL parameters carry names and ID numbers: keep them out of error messages and logs.
        hide_parameters=True,
        connect_args=connect_args,
    )


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
