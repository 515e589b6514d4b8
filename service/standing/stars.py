"""Stars at a moment: the assessed rating in force, and the stars it shows once the grade
and the lists are applied (the linkage of GB/T 37276-2018 ratings with credit)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.clock import Moment
from service.credit.models import StarRating
from service.db.arrays import uuid_array
from service.db.raw import fetch
from service.policy.document import Policy


@dataclass(frozen=True, slots=True)
class Stars:
    assessed: int | None  # the level of the rating in force, if any
    effective: int | None  # what is shown and used: capped by grade, None when suspended
    suspended: bool
    capped: bool


def effective_stars(
    assessed: int | None, grade: str, lists: Collection[str], policy: Policy
) -> Stars:
    if assessed is None:
        return Stars(None, None, suspended=False, capped=False)
    if any(measure.suspends_stars for measure in policy.measures_of(lists)):
        return Stars(assessed, None, suspended=True, capped=False)
    cap = policy.stars.cap_by_grade.get(grade)
    effective = assessed if cap is None else min(assessed, cap)
    return Stars(assessed, effective, suspended=False, capped=effective < assessed)


def rating_in_force(moment: Moment) -> sa.ColumnElement[bool]:
    """Valid on the moment's date and recorded by the moment's knowledge."""
    return sa.and_(
        col(StarRating.valid_from) <= moment.as_of,
        col(StarRating.valid_to) >= moment.as_of,
        col(StarRating.recorded_at) <= moment.known_at,
    )


# When two ratings are in force, the one assessed last counts.
LATEST_FIRST = (col(StarRating.assessed_on).desc(), col(StarRating.recorded_at).desc())


async def levels_in_force(
    session: AsyncSession, institution_ids: Sequence[uuid.UUID], moment: Moment
) -> dict[uuid.UUID, int]:
    """The assessed level in force for each institution, as known at the moment."""
    if not institution_ids:
        return {}
    rows = await fetch(
        session,
        sa.select(col(StarRating.institution_id), col(StarRating.level))
        .ext(distinct_on(col(StarRating.institution_id)))
        .where(
            col(StarRating.institution_id) == sa.any_(uuid_array(institution_ids)),
            rating_in_force(moment),
        )
        .order_by(col(StarRating.institution_id), *LATEST_FIRST),
    )
    return {institution_id: level for institution_id, level in rows}
