"""One page of a query's rows, with the total the page belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class Listing:
    rows: list[Any]
    total: int


async def fetch_page(
    session: AsyncSession, query: Any, order: list[Any], page: int, page_size: int
) -> Listing:
    total = await session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = await session.execute(
        query.order_by(*order).offset((page - 1) * page_size).limit(page_size)
    )
    return Listing(rows=list(rows.scalars()), total=int(total or 0))
