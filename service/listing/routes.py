"""HTTP routes of the lists: proposals and every step of their due process.

The writes are one table, ``COMMANDS``: each row names its path, service function,
body and answer, and ``service.web.endpoints`` makes its route (idempotent, in the
request's transaction, named after the service function).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.listing import service
from service.listing.documents import is_against_the_subject, title_of
from service.listing.machine import EntryStatus
from service.listing.models import DocumentKind, ListEntry, Notice, RepairApplication
from service.listing.schemas import (
    DecisionIn,
    DocumentOut,
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
from service.web.answers import shaped, tagged
from service.web.endpoints import Endpoint, endpoint_routes
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


def document_out(document: Notice, list_type: str) -> DocumentOut:
    kind = DocumentKind(document.kind)
    return DocumentOut(
        id=document.id, kind=kind, title=title_of(kind, list_type),
        document_no=document.document_no, created_at=document.created_at,
        delivered_at=document.delivered_at, objection_deadline=document.objection_deadline,
        against_the_subject=is_against_the_subject(kind, list_type), document=document.document,
    )  # fmt: skip


def _many(shape: type[Any], rows: list[Any]) -> list[Any]:
    return [shaped(row, shape) for row in rows]


async def _entry_answer(
    session: AsyncSession, ctx: CommandContext, entry: ListEntry, status_code: int
) -> Response[EntryOut]:
    policy = await policy_now(session, ctx)
    return tagged(entry_out(entry, policy), entry, status_code, collection=ENTRIES)


async def _repair_answer(
    _session: AsyncSession, _ctx: CommandContext, application: RepairApplication, status_code: int
) -> Response[RepairOut]:
    return Response(_repair_out(application), status_code=status_code)


def _repair_out(application: RepairApplication) -> RepairOut:
    return shaped(application, RepairOut)


def _step(
    path: str,
    run: Callable[..., Awaitable[ListEntry]],
    body: type[Any],
    *,
    status_code: int = 200,
    targets: tuple[str, ...] = ("entry_id",),
) -> Endpoint:
    """A command that moves an entry and answers with it."""
    return Endpoint(path, run, body, _entry_answer, EntryOut, status_code, targets)


COMMANDS = (
    # Propose a subject for a list by hand, with the basis (any staff role).
    _step(ENTRIES, service.propose, ProposalIn, status_code=201, targets=()),
    # Serve the written notice; the objection deadline runs in Chinese working days.
    _step(f"{ENTRY}/notify", service.notify, StepIn),
    # Record the subject's objection (refused after the deadline, which it names).
    _step(f"{ENTRY}/objections", service.object_to, ObjectionIn),
    # Uphold the objection (the proposal falls) or reject it: a reviewer, not the proposer.
    _step(f"{ENTRY}/objection-decision", service.decide_objection, ObjectionDecisionIn),
    # List or dismiss after the objection period: a reviewer, not the proposer.
    _step(f"{ENTRY}/decision", service.decide, DecisionIn),
    _step(f"{ENTRY}/publish", service.publish, StepIn),
    _step(f"{ENTRY}/withdraw", service.withdraw, StepIn),
    # End a listing whose basis has fallen (a reviewer).
    _step(f"{ENTRY}/revoke", service.revoke, EntryRevocationIn),
    # Record a credit-repair application with its evidence and public commitment.
    Endpoint(
        f"{ENTRY}/repair-applications",
        service.apply_for_repair,
        RepairIn,
        _repair_answer,
        RepairOut,
        status_code=201,
        targets=("entry_id",),
    ),
    # Approve (ending the entry early) or refuse a repair: a second reviewer, per the policy.
    Endpoint(
        "/api/v1/repair-applications/{application_id:uuid}/decision",
        service.decide_repair,
        RepairDecisionIn,
        _repair_answer,
        RepairOut,
        targets=("application_id",),
    ),
)


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
        """An entry with every step it took, its objections, the documents written to its
        subject (the prior notice and each decision) and its repair applications."""
        view = await service.entry_view(db_session, ctx, entry_id)
        policy = await policy_now(db_session, ctx)
        return EntryDetailOut(
            entry=entry_out(view.entry, policy),
            transitions=_many(TransitionOut, view.transitions),
            objections=_many(ObjectionOut, view.objections),
            notices=_many(NoticeOut, view.notices),
            documents=[document_out(d, view.entry.list_type) for d in view.documents],
            repair_applications=[_repair_out(r) for r in view.repairs],
        )

    @get("/{entry_id:uuid}/documents/{document_id:uuid}", media_type="text/plain; charset=utf-8")
    async def print_document(
        self,
        entry_id: FromPath[uuid.UUID],
        document_id: FromPath[uuid.UUID],
        db_session: NamedDependency[AsyncSession],
        ctx: NamedDependency[CommandContext],
    ) -> str:
        """One document to the subject as it was sent: plain text, ready to print."""
        return (await service.entry_document(db_session, ctx, entry_id, document_id)).document


ROUTES: list[ControllerRouterHandler] = [
    ListEntryController,
    *endpoint_routes(COMMANDS, tags=TAGS),
]
