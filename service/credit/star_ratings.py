"""Assessed star ratings (GB/T 37276-2018): recorded with their validity, listed per home.

Which rating is in force at a moment, and the stars it shows, is the read side's
(service.standing.stars)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.actor import RECORDING_ROLES
from service.audit import chain as audit
from service.context import CommandContext
from service.credit.events import StarRatingRecorded
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
    await audit.record_creation(
        session, ctx, rating, action="star_rating.create", target_type="star_rating",
        target_id=rating.id,
    )  # fmt: skip
    await ctx.publish(session, [StarRatingRecorded(institution.id)])
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
