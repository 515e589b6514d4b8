"""HTTP routes of the credit domain: assessed star ratings."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.credit.schemas import StarRatingIn, StarRatingOut
from service.credit.star_ratings import record_star_rating, star_ratings
from service.web.idempotency import IdempotencyKeyHeader, idempotent
from service.web.params import SECURITY


def _rating_out(rating: Any) -> StarRatingOut:
    return msgspec.convert(rating, StarRatingOut, from_attributes=True)


@post(
    "/api/v1/institutions/{institution_id:uuid}/star-ratings",
    status_code=201,
    tags=["credit"],
    security=SECURITY,
)
async def create_star_rating(
    request: Request[Any, Any, Any],
    institution_id: FromPath[uuid.UUID],
    data: JSONBody[StarRatingIn],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response[StarRatingOut]:
    """Record an assessed star rating (level 1 to 5) with its validity."""

    async def work() -> Response[StarRatingOut]:
        rating = await record_star_rating(db_session, ctx, institution_id, data)
        return Response(_rating_out(rating), status_code=201)

    return await idempotent(request, db_session, ctx, idempotency_key, work)


@get("/api/v1/institutions/{institution_id:uuid}/star-ratings", tags=["credit"], security=SECURITY)
async def list_star_ratings(
    institution_id: FromPath[uuid.UUID],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
) -> list[StarRatingOut]:
    return [_rating_out(rating) for rating in await star_ratings(db_session, ctx, institution_id)]


ROUTES: list[ControllerRouterHandler] = [create_star_rating, list_star_ratings]
