"""Reading the audit log in tests: seal what waits in the queue first, as `audit verify`
does, so a test sees every committed row whether or not a sequencer has run yet."""

from __future__ import annotations

from signing import session_sealer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.audit.chain import seal


async def seal_now(target: AsyncEngine | async_sessionmaker[AsyncSession]) -> int:
    engine = target if isinstance(target, AsyncEngine) else target.kw["bind"]
    async with engine.begin() as connection:
        return await seal(connection, session_sealer())
