"""HTTP routes of the lists: proposals and every step of their due process."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.listing import service
from service.listing.machine import EntryStatus
from service.listing.models import ListEntry, RepairApplication
from service.listing.schemas import (
    DecisionIn,
    EntryDetailOut,
    EntryOut,
    EntryRevocationIn,
    MeasureOut,
    NoticeOut,
    ObjectionDecisionIn,
    ObjectionIn,
    ObjectionOut,
    ProposalIn,
    RepairDecisionIn,
    RepairIn,
    RepairOut,
    StepIn,
    TransitionOut,
)
from service.policy.document import ListType, Policy
from service.policy.store import policy_now
from service.web.etags import etag
from service.web.idempotency import IdempotencyKeyHeader, idempotent
from service.web.pagination import Page, PageNumber, PageSize
from service.web.params import SECURITY, RegionFilter


def entry_out(entry: ListEntry, policy: Policy) -> EntryOut:
    data = entry.model_dump()
    data["allowed_actions"] = service.allowed_actions(entry)
    data["measures"] = [
        MeasureOut(m.code, m.zh, m.en, m.basis) for m in policy.measures_of([entry.list_type])
    ]
    return msgspec.convert(data, EntryOut, from_attributes=True)


def _many(shape: type[Any], rows: list[Any]) -> list[Any]:
    return [msgspec.convert(row.model_dump(), shape) for row in rows]


async def _answer(
    session: AsyncSession, ctx: CommandContext, entry: ListEntry, status_code: int = 200
) -> Response[EntryOut]:
    policy = await policy_now(session, ctx)
    headers = {"ETag": etag(entry.version)}
    if status_code == 201:
        headers["Location"] = f"/api/v1/list-entries/{entry.id}"
    return Response(entry_out(entry, policy), status_code=status_code, headers=headers)


def _repair_out(application: RepairApplication) -> RepairOut:
    return msgspec.convert(application.model_dump(), RepairOut)


Step = Callable[[AsyncSession, CommandContext, uuid.UUID, Any], Awaitable[ListEntry]]


class ListEntryController(Controller):
    path = "/api/v1/list-entries"
    tags = ["lists"]
    security = SECURITY

    async def _step(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        ctx: CommandContext,
        key: str | None,
        step: Step,
        entry_id: uuid.UUID,
        data: Any,
    ) -> Response[EntryOut]:
        async def work() -> Response[EntryOut]:
            entry = await step(db_session, ctx, entry_id, data)
            return await _answer(db_session, ctx, entry)

        return await idempotent(request, db_session, ctx, key, work)

    @post("/", status_code=201)
    async def propose(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ProposalIn],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[EntryOut]:
        """Propose a subject for a list by hand, with the basis (inspector or admin)."""

        async def work() -> Response[EntryOut]:
            entry = await service.propose(db_session, ctx, data)
            return await _answer(db_session, ctx, entry, 201)

        return await idempotent(request, db_session, ctx, idempotency_key, work)

    @get("/")
    async def search(
        self,
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        list_type: FromQuery[ListType | None] = None,
        status: FromQuery[EntryStatus | None] = None,
        region: RegionFilter = None,
        subject_id: FromQuery[uuid.UUID | None] = None,
        page: PageNumber = 1,
        page_size: PageSize = 20,
    ) -> Page[EntryOut]:
        rows, total = await service.list_entries(
            db_session,
            ctx,
            list_type=list_type.value if list_type else None,
            status=status.value if status else None,
            region=region,
            subject_id=subject_id,
            page=page,
            page_size=page_size,
        )
        policy = await policy_now(db_session, ctx)
        items = [entry_out(row, policy) for row in rows]
        return Page(items=items, page=page, page_size=page_size, total=total)

    @get("/{entry_id:uuid}")
    async def read(
        self,
        entry_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
    ) -> EntryDetailOut:
        """An entry with every step it took, its objections, notices and repair applications."""
        view = await service.entry_view(db_session, ctx, entry_id)
        policy = await policy_now(db_session, ctx)
        return EntryDetailOut(
            entry=entry_out(view.entry, policy),
            transitions=_many(TransitionOut, view.transitions),
            objections=_many(ObjectionOut, view.objections),
            notices=_many(NoticeOut, view.notices),
            repair_applications=[_repair_out(r) for r in view.repairs],
        )

    @post("/{entry_id:uuid}/notify", status_code=200)
    async def notify(
        self,
        request: Request[Any, Any, Any],
        entry_id: FromPath[uuid.UUID],
        data: JSONBody[StepIn],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[EntryOut]:
        """Serve the written notice; the objection deadline runs in Chinese working days."""
        return await self._step(
            request, db_session, ctx, idempotency_key, service.notify, entry_id, data
        )

    @post("/{entry_id:uuid}/objections", status_code=200)
    async def object_to(
        self,
        request: Request[Any, Any, Any],
        entry_id: FromPath[uuid.UUID],
        data: JSONBody[ObjectionIn],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[EntryOut]:
        """Record the subject's objection (refused after the deadline, which it names)."""
        return await self._step(
            request, db_session, ctx, idempotency_key, service.object_to, entry_id, data
        )

    @post("/{entry_id:uuid}/objection-decision", status_code=200)
    async def decide_objection(
        self,
        request: Request[Any, Any, Any],
        entry_id: FromPath[uuid.UUID],
        data: JSONBody[ObjectionDecisionIn],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[EntryOut]:
        """Uphold the objection (the proposal falls) or reject it: a reviewer, not the proposer."""
        return await self._step(
            request, db_session, ctx, idempotency_key, service.decide_objection, entry_id, data
        )

    @post("/{entry_id:uuid}/decision", status_code=200)
    async def decide(
        self,
        request: Request[Any, Any, Any],
        entry_id: FromPath[uuid.UUID],
        data: JSONBody[DecisionIn],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[EntryOut]:
        """List or dismiss after the objection period: a reviewer, not the proposer."""
        return await self._step(
            request, db_session, ctx, idempotency_key, service.decide, entry_id, data
        )

    @post("/{entry_id:uuid}/publish", status_code=200)
    async def publish(
        self,
        request: Request[Any, Any, Any],
        entry_id: FromPath[uuid.UUID],
        data: JSONBody[StepIn],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[EntryOut]:
        return await self._step(
            request, db_session, ctx, idempotency_key, service.publish, entry_id, data
        )

    @post("/{entry_id:uuid}/withdraw", status_code=200)
    async def withdraw(
        self,
        request: Request[Any, Any, Any],
        entry_id: FromPath[uuid.UUID],
        data: JSONBody[StepIn],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[EntryOut]:
        return await self._step(
            request, db_session, ctx, idempotency_key, service.withdraw, entry_id, data
        )

    @post("/{entry_id:uuid}/revoke", status_code=200)
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        entry_id: FromPath[uuid.UUID],
        data: JSONBody[EntryRevocationIn],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[EntryOut]:
        """End a listing whose basis has fallen (a reviewer)."""
        return await self._step(
            request, db_session, ctx, idempotency_key, service.revoke, entry_id, data
        )

    @post("/{entry_id:uuid}/repair-applications", status_code=201)
    async def apply_for_repair(
        self,
        request: Request[Any, Any, Any],
        entry_id: FromPath[uuid.UUID],
        data: JSONBody[RepairIn],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[RepairOut]:
        """Record a credit-repair application with its evidence and public commitment."""

        async def work() -> Response[RepairOut]:
            application = await service.apply_for_repair(db_session, ctx, entry_id, data)
            return Response(_repair_out(application), status_code=201)

        return await idempotent(request, db_session, ctx, idempotency_key, work)


@post(
    "/api/v1/repair-applications/{application_id:uuid}/decision",
    status_code=200,
    tags=["lists"],
    security=SECURITY,
)
async def decide_repair(
    request: Request[Any, Any, Any],
    application_id: FromPath[uuid.UUID],
    data: JSONBody[RepairDecisionIn],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response[RepairOut]:
    """Approve (ending the entry early) or refuse a repair: a second reviewer, per the policy."""

    async def work() -> Response[RepairOut]:
        application = await service.decide_repair(db_session, ctx, application_id, data)
        return Response(_repair_out(application))

    return await idempotent(request, db_session, ctx, idempotency_key, work)


ROUTES: list[ControllerRouterHandler] = [ListEntryController, decide_repair]
