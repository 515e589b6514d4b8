"""Practitioners on a published black list may not be employed in care.

A new employment link for such a practitioner is refused (409) unless a reviewer or
an admin of the institution's region overrides it with a reason (a reason for anyone
else is refused, 422); an institution that employs one is flagged, in its standing
and in its eligibility reasons.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.clock import Moment
from service.context import CommandContext
from service.db.arrays import uuid_array
from service.errors import Conflict, FieldError, Invalid
from service.listing.models import ListEntry
from service.listing.queries import in_force
from service.registry.events import EmploymentStarting
from service.registry.models import Employment


def black_listed_practitioner(practitioner_id: object, moment: Moment) -> sa.ColumnElement[bool]:
    return sa.and_(
        col(ListEntry.list_type) == "black",
        col(ListEntry.subject_kind) == "practitioner",
        col(ListEntry.subject_id) == practitioner_id,
        in_force(moment),
    )


async def refuse_barred_employment(
    session: AsyncSession, ctx: CommandContext, events: Sequence[EmploymentStarting]
) -> None:
    """Subscriber: refuse employing a black-listed practitioner without an override, and
    an override where there is no bar to override."""
    moment = Moment.of(ctx.today(), ctx.now())
    for event in events:
        entry = (
            (
                await session.execute(
                    sa.select(ListEntry).where(
                        black_listed_practitioner(event.practitioner_id, moment)
                    )
                )
            )
            .scalars()
            .first()
        )
        if event.override_reason and entry is None:
            raise Invalid.field(
                "override_reason",
                "only for a practitioner on a published black list; this one is not on it",
            )
        if entry is not None and not event.override_reason:
            raise Conflict(
                f"the practitioner is on the black list (entry {entry.id}, in force until "
                f"{entry.effective_to}) and may not be employed in care; a reviewer or an admin "
                "of the region may override this with an override_reason",
                errors=[FieldError("practitioner_id", "on a published black list")],
            )


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
