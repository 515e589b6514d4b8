"""Barred practitioners: those on a published black list in force, who may not be
employed in care. The hiring command refuses them (service.employment); an institution
that employs one is flagged, in its standing and in its eligibility reasons.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.clock import Moment
from service.db.arrays import uuid_array
from service.listing.models import ListEntry
from service.registry.models import Employment
from service.standing.lists import in_force


def black_listed_practitioner(practitioner_id: object, moment: Moment) -> sa.ColumnElement[bool]:
    return sa.and_(
        col(ListEntry.list_type) == "black",
        col(ListEntry.subject_kind) == "practitioner",
        col(ListEntry.subject_id) == practitioner_id,
        in_force(moment),
    )


async def black_list_entry(
    session: AsyncSession, practitioner_id: uuid.UUID, moment: Moment
) -> ListEntry | None:
    """The published black-list entry in force for this practitioner, if any."""
    found = await session.execute(
        sa.select(ListEntry).where(black_listed_practitioner(practitioner_id, moment))
    )
    return found.scalars().first()


async def barred_practitioners(
    session: AsyncSession, institution_ids: Sequence[uuid.UUID], moment: Moment
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """For each institution, the black-listed practitioners it employs at the moment."""
    found: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if not institution_ids:
        return found
    rows = await session.execute(
        sa.select(col(Employment.institution_id), col(Employment.practitioner_id))
        .join(ListEntry, black_listed_practitioner(col(Employment.practitioner_id), moment))
        .where(
            col(Employment.institution_id) == sa.any_(uuid_array(institution_ids)),
            col(Employment.start_date) <= moment.as_of,
            sa.or_(col(Employment.end_date).is_(None), col(Employment.end_date) >= moment.as_of),
        )
    )
    for institution_id, practitioner_id in rows:
        found[institution_id].append(practitioner_id)
    return found
