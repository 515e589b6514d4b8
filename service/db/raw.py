"""Running a Core statement on the asyncpg connection underneath, for hot bulk reads.

SQLAlchemy wraps each result row and converts each value again; for the ten thousand
rows of a bulk eligibility request that is most of the time spent. Compiling the
statement here keeps its predicates written once, in SQLAlchemy, while asyncpg's own
records come back with no second conversion.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Select


async def fetch(session: AsyncSession, statement: Select[*tuple[Any, ...]]) -> Sequence[Any]:
    """The rows (asyncpg Records: indexable, unpackable) of a Core statement."""
    connection = await session.connection()
    compiled = statement.compile(dialect=connection.dialect)
    names = compiled.positiontup or []
    arguments = [compiled.params[name] for name in names]
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    rows: Sequence[Any] = await driver.fetch(str(compiled), *arguments)
    return rows
