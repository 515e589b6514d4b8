"""HTTP routes of employment links: hiring (with the black-list bar), ending, listing."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.employment import service
from service.employment.schemas import EmploymentCreate, EmploymentOut, EmploymentUpdate
from service.registry.models import Employment
from service.web.etags import etag, expected_version
from service.web.idempotency import IdempotencyKeyHeader, idempotent
from service.web.params import SECURITY, IfMatch

CurrentOnly = Annotated[bool, QueryParameter(description="only links without an end date")]


def _out(row: Employment) -> EmploymentOut:
    return msgspec.convert(row.model_dump(), EmploymentOut)


def _with_etag(row: Employment, status_code: int = 200) -> Response[EmploymentOut]:
    return Response(_out(row), status_code=status_code, headers={"ETag": etag(row.version)})


class EmploymentController(Controller):
    path = "/api/v1/employments"
    tags = ["registry"]
    security = SECURITY

    @post("/", status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[EmploymentCreate],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[EmploymentOut]:
        async def work() -> Response[EmploymentOut]:
            return _with_etag(await service.create_employment(db_session, ctx, data), 201)

        return await idempotent(request, db_session, ctx, idempotency_key, work)

    @patch("/{employment_id:uuid}")
    async def update(
        self,
        employment_id: FromPath[uuid.UUID],
        data: JSONBody[EmploymentUpdate],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        if_match: IfMatch = None,
    ) -> Response[EmploymentOut]:
        employment = await service.update_employment(
            db_session, ctx, employment_id, data, expected_version(if_match)
        )
        return _with_etag(employment)


@get("/api/v1/institutions/{institution_id:uuid}/employments", tags=["registry"], security=SECURITY)
async def institution_employments(
    institution_id: FromPath[uuid.UUID],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    current: CurrentOnly = False,
) -> list[EmploymentOut]:
    rows = await service.list_employments(
        db_session, ctx, institution_id=institution_id, current_only=current
    )
    return [_out(row) for row in rows]


@get(
    "/api/v1/practitioners/{practitioner_id:uuid}/employments", tags=["registry"], security=SECURITY
)
async def practitioner_employments(
    practitioner_id: FromPath[uuid.UUID],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    current: CurrentOnly = False,
) -> list[EmploymentOut]:
    rows = await service.list_employments(
        db_session, ctx, practitioner_id=practitioner_id, current_only=current
    )
    return [_out(row) for row in rows]


ROUTES: list[ControllerRouterHandler] = [
    EmploymentController,
    institution_employments,
    practitioner_employments,
]
