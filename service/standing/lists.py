"""Which list entries are in force for a set of subjects at a moment."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.clock import Moment
from service.db.arrays import uuid_array
from service.db.raw import fetch
from service.listing.models import ListEntry

SubjectKey = tuple[str, uuid.UUID]


@dataclass(frozen=True, slots=True)
class Listed:
    entry_id: uuid.UUID
    list_type: str
    reason_code: str
    effective_from: date | None
    effective_to: date | None


def in_force(moment: Moment) -> sa.ColumnElement[bool]:
    """Published by the moment's knowledge, not ended by it, and within its dates."""
    return sa.and_(
        col(ListEntry.published_at) <= moment.known_at,
        sa.or_(col(ListEntry.ended_at).is_(None), col(ListEntry.ended_at) > moment.known_at),
        sa.or_(
            col(ListEntry.effective_from).is_(None),
            col(ListEntry.effective_from) <= moment.as_of,
        ),
        sa.or_(col(ListEntry.effective_to).is_(None), col(ListEntry.effective_to) >= moment.as_of),
    )


async def lists_in_force(
    session: AsyncSession, keys: Sequence[SubjectKey], moment: Moment
) -> dict[SubjectKey, list[Listed]]:
    found: dict[SubjectKey, list[Listed]] = defaultdict(list)
    if not keys:
        return found
    ids = list({subject_id for _, subject_id in keys})
    rows = await fetch(
        session,
        sa.select(
            col(ListEntry.subject_kind),
            col(ListEntry.subject_id),
            col(ListEntry.id),
            col(ListEntry.list_type),
            col(ListEntry.reason_code),
            col(ListEntry.effective_from),
            col(ListEntry.effective_to),
        ).where(
            col(ListEntry.subject_id) == sa.any_(uuid_array(ids)),
            in_force(moment),
        ),
    )
    wanted = set(keys)
    for kind, subject_id, entry_id, list_type, reason, start, end in rows:
        if (kind, subject_id) in wanted:
            found[(kind, subject_id)].append(Listed(entry_id, list_type, reason, start, end))
    return found
