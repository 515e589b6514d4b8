"""HTTP routes of the credit domain: assessed star ratings."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Response
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.credit.schemas import StarRatingIn, StarRatingOut
from service.credit.star_ratings import record_star_rating, star_ratings
from service.web.answers import as_is
from service.web.endpoints import Endpoint, endpoint_routes

STAR_RATINGS = "/api/v1/institutions/{institution_id:uuid}/star-ratings"


def _rating_out(rating: Any) -> StarRatingOut:
    return msgspec.convert(rating, StarRatingOut, from_attributes=True)


async def _rating_answer(
    _session: AsyncSession, _ctx: CommandContext, rating: Any, status_code: int
) -> Response[StarRatingOut]:
    return Response(_rating_out(rating), status_code=status_code)


async def _ratings(
    session: AsyncSession, ctx: CommandContext, institution_id: uuid.UUID
) -> list[StarRatingOut]:
    return [_rating_out(rating) for rating in await star_ratings(session, ctx, institution_id)]


ENDPOINTS = (
    # Record an assessed star rating (level 1 to 5) with its validity.
    Endpoint(
        STAR_RATINGS, record_star_rating, StarRatingIn, _rating_answer, StarRatingOut, 201,
        targets=("institution_id",), name="create_star_rating",
    ),
    Endpoint(
        STAR_RATINGS, _ratings, None, as_is, list[StarRatingOut], targets=("institution_id",),
        method="GET", name="list_star_ratings",
    ),
)  # fmt: skip

ROUTES: list[ControllerRouterHandler] = endpoint_routes(ENDPOINTS, tags=["credit"])
