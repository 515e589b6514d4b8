"""Reading the audit log in tests: seal what waits in the queue first, as `audit verify`
does, so a test sees every committed row whether or not a sequencer has run yet.

``COMMAND_ROWS`` leaves out the rows the content triggers add to every write of a
protected row (decision 0035), for tests that follow the rows a command queues itself."""

from __future__ import annotations

import sqlalchemy as sa
from signing import session_sealer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.audit.chain import seal
from service.audit.content import CONTENT_ROWS

COMMAND_ROWS = f"NOT {CONTENT_ROWS}"  # a WHERE condition on audit_log or audit_queue
NOT_CONTENT = sa.text(COMMAND_ROWS)


async def seal_now(target: AsyncEngine | async_sessionmaker[AsyncSession]) -> int:
    engine = target if isinstance(target, AsyncEngine) else target.kw["bind"]
    async with engine.begin() as connection:
        return await seal(connection, session_sealer())
