"""Assessed star ratings (GB/T 37276-2018): recorded with their validity, read as of a moment."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.audit import chain as audit
from service.auth.models import RECORDING_ROLES
from service.clock import Moment
from service.context import CommandContext
from service.credit.models import StarRating
from service.credit.schemas import StarRatingIn
from service.errors import Invalid
from service.registry.service import get_institution


async def record_star_rating(
    session: AsyncSession, ctx: CommandContext, institution_id: uuid.UUID, data: StarRatingIn
) -> StarRating:
    ctx.actor.require_role(*RECORDING_ROLES)
    institution = await get_institution(session, ctx, institution_id)
    ctx.actor.require_region(institution.region_code)
    if data.valid_to < data.valid_from:
        raise Invalid.field("valid_to", "must not be before valid_from")
    if data.assessed_on > ctx.today():
        raise Invalid.field("assessed_on", f"must not be after today ({ctx.today()})")
    rating = StarRating(
        institution_id=institution.id,
        level=data.level,
        assessor=data.assessor.strip(),
        assessed_on=data.assessed_on,
        valid_from=data.valid_from,
        valid_to=data.valid_to,
        document_no=data.document_no,
        recorded_at=ctx.now(),
        recorded_by=ctx.actor.user_id,
    )
    session.add(rating)
    await session.flush()
    await audit.record(
        session, ctx, action="star_rating.create", target_type="star_rating",
        target_id=rating.id, after=rating,
    )  # fmt: skip
    return rating


async def star_ratings(
    session: AsyncSession, ctx: CommandContext, institution_id: uuid.UUID
) -> list[StarRating]:
    await get_institution(session, ctx, institution_id)  # role and region checks
    rows = await session.execute(
        sa.select(StarRating)
        .where(col(StarRating.institution_id) == institution_id)
        .order_by(col(StarRating.valid_from).desc(), col(StarRating.recorded_at).desc())
    )
    return list(rows.scalars())


async def levels_in_force(
    session: AsyncSession, institution_ids: Sequence[uuid.UUID], moment: Moment
) -> dict[uuid.UUID, int]:
    """The assessed level valid on the moment's date, as known then (the latest assessed wins)."""
    if not institution_ids:
        return {}
    rows = await session.execute(
        sa.text(
            "SELECT DISTINCT ON (institution_id) institution_id, level FROM star_ratings"
            " WHERE institution_id = ANY(CAST(:ids AS uuid[])) AND valid_from <= :as_of"
            " AND valid_to >= :as_of AND recorded_at <= :known_at"
            " ORDER BY institution_id, assessed_on DESC, recorded_at DESC"
        ),
        {"ids": list(institution_ids), "as_of": moment.as_of, "known_at": moment.known_at},
    )
    return {institution_id: level for institution_id, level in rows}
