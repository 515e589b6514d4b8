"""Fetching one row by id, plainly or locked, with a NotFound that names what was missing."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from service.errors import NotFound, PreconditionFailed

Row = TypeVar("Row", bound=SQLModel)


async def get_or_404(session: AsyncSession, model: type[Row], row_id: uuid.UUID, label: str) -> Row:
    row = await session.get(model, row_id)
    if row is None:
        raise NotFound(f"no {label} with id {row_id}")
    return row


async def lock_or_404(
    session: AsyncSession, model: type[Row], row_id: uuid.UUID, label: str
) -> Row:
    """The row, locked FOR UPDATE until the transaction ends, and freshly read."""
    primary_key: Any = model.__table__.c.id  # type: ignore[attr-defined]
    result = await session.execute(
        sa.select(model)
        .where(primary_key == row_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = result.scalar_one_or_none()
    if row is None:
        raise NotFound(f"no {label} with id {row_id}")
    return row


def check_version(row: Any, expected: int) -> None:
    """Optimistic locking: refuse a change made to a copy that is out of date."""
    if row.version != expected:
        raise PreconditionFailed(
            f"the record changed: it is at version {row.version}, your copy is version {expected}"
        )
