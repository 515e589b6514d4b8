"""Running a Core statement on the asyncpg connection underneath, for hot bulk reads.

SQLAlchemy wraps each result row and converts each value again; for the ten thousand
rows of a bulk eligibility request that is most of the time spent. Compiling the
statement here keeps its predicates written once, in SQLAlchemy, while asyncpg's own
records come back with no second conversion.

Compiling is most of the rest for a small read (a record's public refresh reads the
star ratings and list entries of one institution): the compiled form is kept per
statement shape (SQLAlchemy's cache key, the values left out) and only the values of
this call are bound into it; asyncpg then reuses its prepared statement for the text.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import Select

# Statement shapes, not values: a few dozen in the service.
CACHE_SIZE = 500
_compiled: OrderedDict[tuple[str, Any], SQLCompiler] = OrderedDict()


async def fetch(session: AsyncSession, statement: Select[*tuple[Any, ...]]) -> Sequence[Any]:
    """The rows (asyncpg Records: indexable, unpackable) of a Core statement."""
    connection = await session.connection()
    dialect = connection.dialect
    key = statement._generate_cache_key()
    if key is None:  # a construct SQLAlchemy cannot cache: compile it every time
        compiled = statement.compile(dialect=dialect)
        params = compiled.params
    else:
        slot = (dialect.name, key.key)
        found = _compiled.get(slot)
        if found is None:
            found = statement.compile(dialect=dialect, cache_key=key)
            _compiled[slot] = found
            if len(_compiled) > CACHE_SIZE:
                _compiled.popitem(last=False)
        compiled = found
        params = compiled.construct_params(extracted_parameters=key.bindparams)
    names = compiled.positiontup or []
    arguments = [params[name] for name in names]
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    rows: Sequence[Any] = await driver.fetch(str(compiled), *arguments)
    return rows
