"""HTTP routes of the registry: thin adapters from requests to registry.service."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from service.context import CommandContext
from service.identity.protection import IdNumberVault
from service.registry import service
from service.registry.schemas import (
    InstitutionCreate,
    InstitutionOut,
    InstitutionUpdate,
    PractitionerCreate,
    PractitionerOut,
    PractitionerUpdate,
)
from service.validation import NO_NUL
from service.web.etags import etag, expected_version
from service.web.idempotency import IdempotencyKeyHeader, idempotent
from service.web.pagination import Page, PageNumber, PageSize
from service.web.params import SECURITY, IfMatch, RegionFilter

SearchTerm = Annotated[str | None, QueryParameter(max_length=100, pattern=NO_NUL)]


def _out(row: SQLModel, shape: type[Any]) -> Any:
    return msgspec.convert(row.model_dump(), shape)


def _with_etag(row: Any, shape: type[Any], status_code: int = 200) -> Response[Any]:
    return Response(_out(row, shape), status_code=status_code, headers={"ETag": etag(row.version)})


class InstitutionController(Controller):
    path = "/api/v1/institutions"
    tags = ["registry"]
    security = SECURITY

    @post("/", status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[InstitutionCreate],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[InstitutionOut]:
        async def work() -> Response[InstitutionOut]:
            institution = await service.create_institution(db_session, ctx, data)
            response = _with_etag(institution, InstitutionOut, 201)
            response.headers["Location"] = f"{self.path}/{institution.id}"
            return response

        return await idempotent(request, db_session, ctx, idempotency_key, work)

    @get("/{institution_id:uuid}")
    async def read(
        self,
        institution_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
    ) -> Response[InstitutionOut]:
        institution = await service.get_institution(db_session, ctx, institution_id)
        return _with_etag(institution, InstitutionOut)

    @get("/")
    async def search(
        self,
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        region: RegionFilter = None,
        q: SearchTerm = None,
        page: PageNumber = 1,
        page_size: PageSize = 20,
    ) -> Page[InstitutionOut]:
        listing = await service.list_institutions(
            db_session, ctx, region=region, q=q, page=page, page_size=page_size
        )
        items = [_out(row, InstitutionOut) for row in listing.rows]
        return Page(items=items, page=page, page_size=page_size, total=listing.total)

    @patch("/{institution_id:uuid}")
    async def update(
        self,
        institution_id: FromPath[uuid.UUID],
        data: JSONBody[InstitutionUpdate],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        if_match: IfMatch = None,
    ) -> Response[InstitutionOut]:
        institution = await service.update_institution(
            db_session, ctx, institution_id, data, expected_version(if_match)
        )
        return _with_etag(institution, InstitutionOut)


class PractitionerController(Controller):
    path = "/api/v1/practitioners"
    tags = ["registry"]
    security = SECURITY

    @post("/", status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[PractitionerCreate],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        vault: NamedDependency[IdNumberVault],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[PractitionerOut]:
        async def work() -> Response[PractitionerOut]:
            practitioner = await service.create_practitioner(db_session, ctx, vault, data)
            response = _with_etag(practitioner, PractitionerOut, 201)
            response.headers["Location"] = f"{self.path}/{practitioner.id}"
            return response

        return await idempotent(request, db_session, ctx, idempotency_key, work)

    @get("/{practitioner_id:uuid}")
    async def read(
        self,
        practitioner_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
    ) -> Response[PractitionerOut]:
        practitioner = await service.get_practitioner(db_session, ctx, practitioner_id)
        return _with_etag(practitioner, PractitionerOut)

    @get("/")
    async def search(
        self,
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        vault: NamedDependency[IdNumberVault],
        region: RegionFilter = None,
        q: SearchTerm = None,
        page: PageNumber = 1,
        page_size: PageSize = 20,
    ) -> Page[PractitionerOut]:
        listing = await service.list_practitioners(
            db_session, ctx, vault, region=region, q=q, page=page, page_size=page_size
        )
        items = [_out(row, PractitionerOut) for row in listing.rows]
        return Page(items=items, page=page, page_size=page_size, total=listing.total)

    @patch("/{practitioner_id:uuid}")
    async def update(
        self,
        practitioner_id: FromPath[uuid.UUID],
        data: JSONBody[PractitionerUpdate],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        if_match: IfMatch = None,
    ) -> Response[PractitionerOut]:
        practitioner = await service.update_practitioner(
            db_session, ctx, practitioner_id, data, expected_version(if_match)
        )
        return _with_etag(practitioner, PractitionerOut)


ROUTES = [InstitutionController, PractitionerController]
