"""Whom a record may name: the region wall for a record's second subject.

A record belongs to its institution's region, and the jurisdiction check on that
region says who may write it. A practitioner named beside (or instead of) the
institution is a second subject with a region of their own: a regional actor may
name one registered in their region, or one who was employed, on the day the fact
occurred, by an institution in it (care workers are often registered elsewhere).
Anyone else is out of reach: naming them would write to a person the actor may not
even read, and would feed that person's grade and lists.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.actor import Actor
from service.errors import FieldError, Forbidden
from service.registry.models import Employment, Institution, Practitioner

Named = tuple[Practitioner, date]


async def out_of_reach(
    session: AsyncSession, actor: Actor, named: Iterable[Named]
) -> set[tuple[uuid.UUID, date]]:
    """Of the (practitioner, occurred_on) pairs, those the actor may not name; one query."""
    scope = actor.jurisdiction
    outside = {
        (practitioner.id, day)
        for practitioner, day in named
        if not actor.covers_region(practitioner.region_code)
    }
    if scope is None or not outside:
        return outside
    rows = await session.execute(
        sa.select(
            col(Employment.practitioner_id), col(Employment.start_date), col(Employment.end_date)
        )
        .join(Institution, col(Institution.id) == col(Employment.institution_id))
        .where(
            col(Employment.practitioner_id).in_({person for person, _ in outside}),
            col(Institution.region_code).startswith(scope, autoescape=True),
        )
    )
    spans: dict[uuid.UUID, list[tuple[date, date | None]]] = defaultdict(list)
    for person, start, end in rows:
        spans[person].append((start, end))
    return {
        (person, day)
        for person, day in outside
        if not any(start <= day and (end is None or day <= end) for start, end in spans[person])
    }


def out_of_reach_message(actor: Actor, day: date) -> str:
    return (
        f"this practitioner is outside your jurisdiction ({actor.region_code}): registered "
        f"elsewhere and not employed on {day.isoformat()} by an institution in it"
    )


async def require_in_reach(
    session: AsyncSession, actor: Actor, practitioner: Practitioner, day: date, field: str
) -> None:
    """Refuse (403, naming the field) a record naming a practitioner out of the actor's reach."""
    if await out_of_reach(session, actor, [(practitioner, day)]):
        message = out_of_reach_message(actor, day)
        raise Forbidden(f"{field}: {message}", errors=[FieldError(field, message)])
