"""HTTP routes of the lists: proposals and every step of their due process.

The writes are one table, ``COMMANDS``: each names its path, body, service function and
answer, and ``_route`` makes the route (idempotent, in the request's transaction).
A handler's name is its service function's, so the OpenAPI summary and operation id
follow from the table too.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.params import BodyKwarg, FromPath, FromQuery
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

ENTRIES = "/api/v1/list-entries"
ENTRY = ENTRIES + "/{entry_id:uuid}"
TAGS = ["lists"]


def entry_out(entry: ListEntry, policy: Policy) -> EntryOut:
    data = entry.model_dump()
    data["allowed_actions"] = service.allowed_actions(entry)
    data["measures"] = [
        MeasureOut(m.code, m.zh, m.en, m.basis) for m in policy.measures_of([entry.list_type])
    ]
    return msgspec.convert(data, EntryOut, from_attributes=True)


def _many(shape: type[Any], rows: list[Any]) -> list[Any]:
    return [msgspec.convert(row.model_dump(), shape) for row in rows]


async def _entry_answer(
    session: AsyncSession, ctx: CommandContext, entry: ListEntry, status_code: int
) -> Response[EntryOut]:
    policy = await policy_now(session, ctx)
    headers = {"ETag": etag(entry.version)}
    if status_code == 201:
        headers["Location"] = f"{ENTRIES}/{entry.id}"
    return Response(entry_out(entry, policy), status_code=status_code, headers=headers)


async def _repair_answer(
    _session: AsyncSession, _ctx: CommandContext, application: RepairApplication, status_code: int
) -> Response[RepairOut]:
    return Response(_repair_out(application), status_code=status_code)


def _repair_out(application: RepairApplication) -> RepairOut:
    return msgspec.convert(application.model_dump(), RepairOut)


Answer = Callable[[AsyncSession, CommandContext, Any, int], Awaitable[Response[Any]]]


@dataclass(frozen=True, slots=True)
class Command:
    """One write of the due process as a POST route."""

    path: str
    run: Callable[..., Awaitable[Any]]  # (session, ctx, [the path's id,] body)
    body: type[Any]
    answer: Answer = _entry_answer
    shape: type[Any] = EntryOut  # what the answer holds
    status_code: int = 200
    target: str | None = "entry_id"  # the path's id, passed to ``run`` before the body


COMMANDS = (
    # Propose a subject for a list by hand, with the basis (any staff role).
    Command(ENTRIES, service.propose, ProposalIn, status_code=201, target=None),
    # Serve the written notice; the objection deadline runs in Chinese working days.
    Command(f"{ENTRY}/notify", service.notify, StepIn),
    # Record the subject's objection (refused after the deadline, which it names).
    Command(f"{ENTRY}/objections", service.object_to, ObjectionIn),
    # Uphold the objection (the proposal falls) or reject it: a reviewer, not the proposer.
    Command(f"{ENTRY}/objection-decision", service.decide_objection, ObjectionDecisionIn),
    # List or dismiss after the objection period: a reviewer, not the proposer.
    Command(f"{ENTRY}/decision", service.decide, DecisionIn),
    Command(f"{ENTRY}/publish", service.publish, StepIn),
    Command(f"{ENTRY}/withdraw", service.withdraw, StepIn),
    # End a listing whose basis has fallen (a reviewer).
    Command(f"{ENTRY}/revoke", service.revoke, EntryRevocationIn),
    # Record a credit-repair application with its evidence and public commitment.
    Command(
        f"{ENTRY}/repair-applications",
        service.apply_for_repair,
        RepairIn,
        answer=_repair_answer,
        shape=RepairOut,
        status_code=201,
    ),
    # Approve (ending the entry early) or refuse a repair: a second reviewer, per the policy.
    Command(
        "/api/v1/repair-applications/{application_id:uuid}/decision",
        service.decide_repair,
        RepairDecisionIn,
        answer=_repair_answer,
        shape=RepairOut,
        target="application_id",
    ),
)


def _keyword(name: str, annotation: Any, **default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, **default)


def _route(command: Command) -> HTTPRouteHandler:
    """The route of a command: its parameters declared from the table, its work idempotent.

    Litestar reads a handler's parameters from its signature and annotations, so the
    one handler below gets those of its row (the path's id, the body's type)."""
    target = [_keyword(command.target, FromPath[uuid.UUID])] if command.target else []
    parameters = [
        _keyword("request", Request[Any, Any, Any]),
        *target,
        _keyword("data", Annotated[command.body, BodyKwarg(media_type=RequestEncodingType.JSON)]),
        _keyword("db_session", NamedDependency[AsyncSession]),
        _keyword("ctx", NamedDependency[CommandContext]),
        _keyword("idempotency_key", IdempotencyKeyHeader, default=None),
    ]
    returns = Response[command.shape]  # type: ignore[name-defined]

    async def handler(**given: Any) -> Response[Any]:
        session: AsyncSession = given["db_session"]
        ctx: CommandContext = given["ctx"]
        ids = [given[command.target]] if command.target else []

        async def work() -> Response[Any]:
            done = await command.run(session, ctx, *ids, given["data"])
            return await command.answer(session, ctx, done, command.status_code)

        return await idempotent(given["request"], session, ctx, given["idempotency_key"], work)

    handler.__name__ = handler.__qualname__ = command.run.__name__
    handler.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
    handler.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": returns}
    route = post(command.path, status_code=command.status_code, tags=TAGS, security=SECURITY)
    return route(handler)


class ListEntryController(Controller):
    path = ENTRIES
    tags = TAGS
    security = SECURITY

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


ROUTES: list[ControllerRouterHandler] = [
    ListEntryController,
    *(_route(command) for command in COMMANDS),
]
