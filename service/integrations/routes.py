"""HTTP routes of the sync: the operators' view and the external records reviewers read."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.actor import Role
from service.context import CommandContext
from service.integrations.inbound import external_records
from service.integrations.schemas import ExternalRecordOut, SyncStatusOut
from service.integrations.status import sync_status
from service.web.pagination import Page, PageNumber, PageSize
from service.web.params import SECURITY, RegionFilter


@get("/api/v1/admin/sync", tags=["sync"], security=SECURITY)
async def get_sync_status(
    db_session: NamedDependency[AsyncSession], ctx: NamedDependency[CommandContext]
) -> SyncStatusOut:
    """Per platform: backlog and its age, dead letters, last success, backoff; admins only."""
    ctx.actor.require_role(Role.ADMIN)
    now = ctx.now()
    platforms = await sync_status(db_session, now)
    return msgspec.convert(
        {"as_of": now, "platforms": platforms}, SyncStatusOut, from_attributes=True
    )


@get("/api/v1/external-records", tags=["sync"], security=SECURITY)
async def list_external_records(
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    record_type: Annotated[str | None, QueryParameter(max_length=40)] = None,
    matched: FromQuery[bool | None] = None,
    region: RegionFilter = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> Page[ExternalRecordOut]:
    """Other departments' list entries the platforms fed us, newest first (reviewers, admins).

    A reviewer sees those matched to subjects of their region; unmatched ones only
    an administrator sees.
    """
    found = await external_records(
        db_session, ctx, record_type=record_type, matched=matched, region=region, page=page,
        page_size=page_size,
    )  # fmt: skip
    items = [msgspec.convert(row.model_dump(), ExternalRecordOut) for row in found.rows]
    return Page(items=items, page=page, page_size=page_size, total=found.total)


ROUTES: list[ControllerRouterHandler] = [get_sync_status, list_external_records]
