"""List entries through due process: propose, notify, object, decide, publish, end.

Every step is a transition of ``service.listing.machine`` recorded as a row, audited,
and checked here for who may take it and when:
- the objection window and the publication window count Chinese working days;
- the decider (and whoever rules on an objection or a repair) holds the reviewer role
  in the subject's region and is not the proposer: four eyes;
- an objection after its deadline is refused, naming the deadline; one received on
  the deadline day is accepted, as the notice says ("截至…（含当日）").

Every ruling the subject must be told of writes its document (``service.listing.documents``)
in the same transaction, stored with the entry and left in the outbox for delivery, as
the prior notice is.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.actor import STAFF_ROLES, SYSTEM, Role
from service.audit import chain as audit
from service.context import CommandContext
from service.dates import add_months
from service.db.paging import fetch_page
from service.db.rows import get_or_404, lock_or_404
from service.errors import Conflict, Forbidden, Invalid, NotFound
from service.identity.regions import civil_affairs_department
from service.listing.documents import Letter, record_facts_zh, render
from service.listing.events import ListEntryChanged
from service.listing.machine import END_REASONS, OPEN, Action, EntryStatus, allowed, next_status
from service.listing.models import (
    DocumentKind,
    ListEntry,
    ListTransition,
    Notice,
    Objection,
    RepairApplication,
)
from service.listing.repair import unmet_conditions
from service.listing.schemas import (
    DecisionIn,
    EntryRevocationIn,
    ObjectionDecisionIn,
    ObjectionIn,
    ProposalIn,
    RepairDecisionIn,
    RepairIn,
    StepIn,
)
from service.listing.workdays import working_days_after
from service.logs import get_logger
from service.outbox import queue as outbox
from service.policy.document import ListType, Policy, SubjectType
from service.policy.store import policy_now
from service.records.models import Record
from service.registry.models import Institution, Practitioner
from service.registry.service import region_scope, subjects_by_id

log = get_logger(__name__)
NOTICE_TOPIC = "list.notice"
DECIDERS = (Role.REVIEWER,)


@dataclass(frozen=True, slots=True)
class EntryView:
    entry: ListEntry
    transitions: list[ListTransition] = field(default_factory=list)
    objections: list[Objection] = field(default_factory=list)
    documents: list[Notice] = field(default_factory=list)  # every kind, oldest first
    repairs: list[RepairApplication] = field(default_factory=list)

    @property
    def notices(self) -> list[Notice]:
        """The prior notices among the documents."""
        return [d for d in self.documents if d.kind == DocumentKind.NOTICE]


async def _policy(session: AsyncSession, ctx: CommandContext) -> Policy:
    return await policy_now(session, ctx)


async def _subject(
    session: AsyncSession, kind: str, subject_id: uuid.UUID
) -> Institution | Practitioner:
    model: type[Institution] | type[Practitioner] = (
        Institution if kind == "institution" else Practitioner
    )
    return await get_or_404(session, model, subject_id, kind)


@dataclass(frozen=True, slots=True)
class _Step:
    """A step an entry has taken, to be recorded."""

    entry: ListEntry
    action: Action
    source: EntryStatus | None  # None: the proposal that created the entry
    before: dict[str, Any] | None
    rule: str = ""
    basis_document: str | None = None
    comment: str | None = None


def _advance(
    entry: ListEntry,
    action: Action,
    *,
    rule: str = "",
    basis_document: str | None = None,
    comment: str | None = None,
    **changes: Any,
) -> _Step:
    """Move the entry on, if the machine says the action may follow its status."""
    source = EntryStatus(entry.status)
    target = next_status(source, action)
    before = entry.model_dump()
    for name, value in changes.items():
        setattr(entry, name, value)
    entry.status = target.value
    entry.version += 1
    return _Step(entry, action, source, before, rule, basis_document, comment)


async def _record(session: AsyncSession, ctx: CommandContext, steps: Sequence[_Step]) -> None:
    """Where every step is written: its numbered transition row (one per entry and
    ``seq``, so a step cannot be recorded twice), its audit entry and its event."""
    if not steps:
        return
    now = ctx.now()
    session.add_all(
        ListTransition(
            entry_id=step.entry.id, seq=step.entry.version, action=step.action.value,
            from_status=step.source.value if step.source else None,
            to_status=step.entry.status, actor_id=ctx.actor.user_id, actor_role=ctx.actor.role,
            occurred_at=now, rule=step.rule, basis_document=step.basis_document,
            comment=step.comment,
        )
        for step in steps
    )  # fmt: skip
    await session.flush()
    await audit.record_many(
        session,
        ctx,
        [
            audit.AuditItem(f"list.{s.action.value}", "list_entry", s.entry.id, s.before, s.entry)
            for s in steps
        ],
    )
    await ctx.publish(session, [ListEntryChanged.of(s.entry, s.action, now) for s in steps])


async def _move(
    session: AsyncSession, ctx: CommandContext, entry: ListEntry, action: Action, **how: Any
) -> None:
    """Take one step (``how``: the rule, basis document and comment, and the changes)."""
    await _record(session, ctx, [_advance(entry, action, **how)])


async def _entry_in_region(
    session: AsyncSession, ctx: CommandContext, entry_id: uuid.UUID, *roles: Role
) -> ListEntry:
    ctx.actor.require_role(*roles)
    entry = await lock_or_404(session, ListEntry, entry_id, "list entry")
    ctx.actor.require_region(entry.region_code)
    return entry


def _four_eyes(ctx: CommandContext, entry: ListEntry, doing: str) -> None:
    """The second person: a reviewer of the region who did not propose the entry."""
    if ctx.actor.user_id is not None and ctx.actor.user_id == entry.proposed_by:
        raise Forbidden(
            f"you proposed this entry, so someone else must {doing}: four eyes (四眼原则)"
        )


async def propose(
    session: AsyncSession,
    ctx: CommandContext,
    data: ProposalIn,
    *,
    trigger_record_id: uuid.UUID | None = None,
) -> ListEntry:
    """A new entry in ``proposed``: by hand with a basis (any staff role), or by a trigger."""
    ctx.actor.require_role(*STAFF_ROLES)
    subject = await _subject(session, data.subject_kind.value, data.subject_id)
    ctx.actor.require_region(subject.region_code)
    reasons = (await policy_now(session, ctx)).lists.of(data.list_type.value).proposal_reasons()
    if data.reason_code not in reasons:
        raise Invalid.field(
            "reason_code",
            f"is not a reason the policy in force gives for the {data.list_type.value} list; "
            f"give one of: {', '.join(sorted(reasons))}",
        )
    now = ctx.now()
    entry = ListEntry(
        list_type=data.list_type.value,
        subject_kind=data.subject_kind.value,
        subject_id=data.subject_id,
        region_code=subject.region_code,
        status=EntryStatus.PROPOSED.value,
        reason_code=data.reason_code,
        basis=data.basis.strip(),
        trigger_record_id=trigger_record_id,
        proposed_by=ctx.actor.user_id,
        proposed_at=now,
        created_at=now,
        version=1,
    )
    try:
        async with session.begin_nested():  # a duplicate fails alone, not the transaction
            session.add(entry)
            await session.flush()
    except IntegrityError as error:
        open_entry = await open_entry_of(
            session, data.list_type.value, data.subject_kind.value, data.subject_id
        )
        raise Conflict(
            f"this {data.subject_kind.value} already has an open {data.list_type.value}-list "
            f"entry {open_entry.id if open_entry else ''} ({open_entry.status if open_entry else ''})"
        ) from error
    step = _Step(entry, Action.PROPOSE, None, None, data.reason_code, comment=data.basis.strip())
    await _record(session, ctx, [step])
    return entry


async def open_entry_of(
    session: AsyncSession, list_type: str, subject_kind: str, subject_id: uuid.UUID
) -> ListEntry | None:
    rows = await session.execute(
        sa.select(ListEntry).where(
            col(ListEntry.list_type) == list_type,
            col(ListEntry.subject_kind) == subject_kind,
            col(ListEntry.subject_id) == subject_id,
            col(ListEntry.status).in_([status.value for status in OPEN]),
        )
    )
    return rows.scalar_one_or_none()


async def propose_unless_open(
    session: AsyncSession,
    ctx: CommandContext,
    data: ProposalIn,
    *,
    trigger_record_id: uuid.UUID | None = None,
) -> ListEntry | None:
    """For triggers: propose as the system, unless the subject already has an open entry."""
    if await open_entry_of(session, data.list_type.value, data.subject_kind.value, data.subject_id):
        return None
    system = dataclasses.replace(ctx, actor=SYSTEM)  # same request, clock, steps and memo
    try:
        return await propose(session, system, data, trigger_record_id=trigger_record_id)
    except Conflict:
        return None  # proposed concurrently by another transaction: one entry is enough


async def _write(
    session: AsyncSession,
    ctx: CommandContext,
    entry: ListEntry,
    policy: Policy,
    kind: DocumentKind,
    document_no: str | None,
    *,
    subject: Institution | Practitioner | None = None,
    **letter: Any,
) -> Notice:
    """Write a document to the entry's subject, store it with the entry and leave it in
    the outbox, where the notice lane delivers it (``service.listing.delivery``).

    ``letter``: what this kind of document says beyond the facts, reasons and bases
    every document states (``documents.Letter``'s fields).
    """
    subject = await _subject(session, entry.subject_kind, entry.subject_id)
    record = await session.get(Record, entry.trigger_record_id) if entry.trigger_record_id else None
    reason = policy.list_reason(entry.list_type, entry.reason_code)
    facts = record_facts_zh(record) if record else entry.basis.strip().rstrip("。")
    legal_bases = [record.legal_basis] if record and record.legal_basis else []
    by_fallback = bool(letter.get("by_fallback", False))
    notice = Notice(
        entry_id=entry.id, kind=kind.value, document_no=document_no, document="",
        objection_deadline=letter.get("deadline"), created_at=ctx.now(),
        details={"by_fallback": by_fallback, "policy_version": policy.version},
    )  # fmt: skip
    notice.document = render(
        Letter(
            kind=kind, document_id=str(notice.id), document_no=document_no,
            list_type=entry.list_type, subject_kind=entry.subject_kind, subject_name=subject.name,
            subject_code=getattr(subject, "uscc", None),
            facts=facts or (reason.title_zh if reason else ""),
            reason_title=reason.title_zh if reason else None,
            legal_bases=[*legal_bases, policy.lists.of(entry.list_type).basis],
            authority=civil_affairs_department(entry.region_code) or f"{entry.region_code} 民政部门",
            issued_on=ctx.today(),
            remedies=policy.remedies, **letter,
        )
    )  # fmt: skip
    session.add(notice)
    await session.flush()
    outbox.enqueue(
        session,
        NOTICE_TOPIC,
        str(entry.id),
        {
            "notice_id": str(notice.id),
            "document_kind": notice.kind,
            "document_no": document_no,
            "entry_id": str(entry.id),
            "list_type": entry.list_type,
            "subject_kind": entry.subject_kind,
            "subject_id": str(entry.subject_id),
            "objection_deadline": (
                notice.objection_deadline.isoformat() if notice.objection_deadline else None
            ),
            "deadline_by_fallback": by_fallback,
            "document": notice.document,
        },
        ctx.now(),
    )
    return notice


async def _objected_on(session: AsyncSession, entry: ListEntry) -> date | None:
    """When the subject's objection to the entry, if any, was received."""
    rows = await session.execute(
        sa.select(col(Objection.filed_on))
        .where(col(Objection.entry_id) == entry.id)
        .order_by(col(Objection.recorded_at).desc())
        .limit(1)
    )
    return rows.scalar_one_or_none()


async def notify(
    session: AsyncSession, ctx: CommandContext, entry_id: uuid.UUID, data: StepIn
) -> ListEntry:
    """Serve the written notice: basis, measures, and the deadline to object."""
    entry = await _entry_in_region(session, ctx, entry_id, *STAFF_ROLES)
    next_status(EntryStatus(entry.status), Action.NOTIFY)  # refuse early, before writing
    policy = await _policy(session, ctx)
    process = policy.lists.of(entry.list_type)
    today = ctx.today()
    deadline = working_days_after(today, process.objection_working_days, policy.calendar)
    await _write(
        session, ctx, entry, policy, DocumentKind.NOTICE, data.basis_document,
        measures=policy.measures_of([entry.list_type]),
        duration_months=process.duration_months, working_days=process.objection_working_days,
        deadline=deadline.day, by_fallback=deadline.by_fallback,
    )  # fmt: skip
    await _move(
        session, ctx, entry, Action.NOTIFY, rule=entry.reason_code,
        basis_document=data.basis_document, comment=data.comment,
        notified_at=ctx.now(), objection_deadline=deadline.day,
        deadline_by_fallback=deadline.by_fallback,
    )  # fmt: skip
    return entry


async def object_to(
    session: AsyncSession, ctx: CommandContext, entry_id: uuid.UUID, data: ObjectionIn
) -> ListEntry:
    """Record the subject's objection, if it arrived within the objection window."""
    entry = await _entry_in_region(session, ctx, entry_id, *STAFF_ROLES)
    next_status(EntryStatus(entry.status), Action.OBJECT)
    received = data.received_on or ctx.today()
    if received > ctx.today():
        raise Invalid.field("received_on", f"must not be after today ({ctx.today()})")
    assert entry.objection_deadline is not None
    if received > entry.objection_deadline:
        raise Conflict(
            f"the objection period ended on {entry.objection_deadline.isoformat()}; "
            f"an objection received on {received.isoformat()} is too late"
        )
    session.add(
        Objection(
            entry_id=entry.id, filed_on=received, filed_by_name=data.filed_by_name.strip(),
            statement=data.statement.strip(), evidence=data.evidence.strip(),
            recorded_at=ctx.now(), recorded_by=ctx.actor.user_id,
        )
    )  # fmt: skip
    await _move(session, ctx, entry, Action.OBJECT, comment=data.statement.strip())
    return entry


async def decide_objection(
    session: AsyncSession, ctx: CommandContext, entry_id: uuid.UUID, data: ObjectionDecisionIn
) -> ListEntry:
    entry = await _entry_in_region(session, ctx, entry_id, *DECIDERS)
    _four_eyes(ctx, entry, "rule on the objection")
    action = Action.UPHOLD_OBJECTION if data.uphold else Action.REJECT_OBJECTION
    next_status(EntryStatus(entry.status), action)
    objection = (
        await session.execute(
            sa.select(Objection).where(
                col(Objection.entry_id) == entry.id, col(Objection.status) == "pending"
            )
        )
    ).scalar_one()
    objection.status = "upheld" if data.uphold else "rejected"
    objection.resolved_by, objection.resolved_at = ctx.actor.user_id, ctx.now()
    objection.resolution = data.resolution.strip()
    changes: dict[str, Any] = {}
    if data.uphold:
        changes = {"decided_by": ctx.actor.user_id, "decided_at": ctx.now()}
    kind = DocumentKind.OBJECTION_UPHELD if data.uphold else DocumentKind.OBJECTION_REJECTED
    await _write(
        session, ctx, entry, await _policy(session, ctx), kind, data.basis_document,
        grounds=objection.resolution, objected_on=objection.filed_on,
    )  # fmt: skip
    await _move(
        session, ctx, entry, action, basis_document=data.basis_document,
        comment=objection.resolution, **changes,
    )  # fmt: skip
    return entry


async def decide(
    session: AsyncSession, ctx: CommandContext, entry_id: uuid.UUID, data: DecisionIn
) -> ListEntry:
    """List or dismiss: after the objection window, by a second person with authority."""
    entry = await _entry_in_region(session, ctx, entry_id, *DECIDERS)
    _four_eyes(ctx, entry, "decide")
    action = Action.DECIDE_LIST if data.list else Action.DECIDE_DISMISS
    next_status(EntryStatus(entry.status), action)
    deadline = entry.objection_deadline
    if entry.status == EntryStatus.NOTIFIED and deadline and ctx.today() <= deadline:
        raise Conflict(
            f"the subject may object until {deadline.isoformat()}; decide after the objection period"
        )
    changes: dict[str, Any] = {"decided_by": ctx.actor.user_id, "decided_at": ctx.now()}
    policy = await _policy(session, ctx)
    if data.list:
        process = policy.lists.of(entry.list_type)
        days = process.publish_within_working_days
        changes["publish_by"] = working_days_after(ctx.today(), days, policy.calendar).day
        await _write(
            session, ctx, entry, policy, DocumentKind.LISTING, data.basis_document,
            measures=policy.measures_of([entry.list_type]),
            duration_months=process.duration_months, publish_by=changes["publish_by"],
            objected_on=await _objected_on(session, entry), grounds=data.comment.strip(),
        )  # fmt: skip
    else:
        await _write(
            session, ctx, entry, policy, DocumentKind.DISMISSAL, data.basis_document,
            grounds=data.comment.strip(),
        )  # fmt: skip
    await _move(
        session, ctx, entry, action, basis_document=data.basis_document,
        comment=data.comment.strip(), **changes,
    )  # fmt: skip
    return entry


async def publish(
    session: AsyncSession, ctx: CommandContext, entry_id: uuid.UUID, data: StepIn
) -> ListEntry:
    """Publish a decided listing: it is in force from today for the list's duration."""
    entry = await _entry_in_region(session, ctx, entry_id, Role.REVIEWER, Role.ADMIN)
    next_status(EntryStatus(entry.status), Action.PUBLISH)
    policy = await _policy(session, ctx)
    today = ctx.today()
    months = policy.lists.of(entry.list_type).duration_months
    await _move(
        session, ctx, entry, Action.PUBLISH, basis_document=data.basis_document,
        comment=data.comment, published_at=ctx.now(), effective_from=today,
        effective_to=add_months(today, months) - timedelta(days=1),
    )  # fmt: skip
    return entry


async def withdraw(
    session: AsyncSession, ctx: CommandContext, entry_id: uuid.UUID, data: StepIn
) -> ListEntry:
    entry = await _entry_in_region(session, ctx, entry_id, *STAFF_ROLES)
    next_status(EntryStatus(entry.status), Action.WITHDRAW)
    if entry.notified_at is not None:  # the subject was told of the proposal: tell it ended
        await _write(
            session, ctx, entry, await _policy(session, ctx), DocumentKind.DISMISSAL,
            data.basis_document, grounds=(data.comment or "").strip() or None,
        )  # fmt: skip
    await _move(
        session, ctx, entry, Action.WITHDRAW, basis_document=data.basis_document,
        comment=data.comment,
    )  # fmt: skip
    return entry


async def revoke(
    session: AsyncSession, ctx: CommandContext, entry_id: uuid.UUID, data: EntryRevocationIn
) -> ListEntry:
    """End a listing whose basis has fallen (the record revoked, the decision overturned)."""
    entry = await _entry_in_region(session, ctx, entry_id, *DECIDERS)
    next_status(EntryStatus(entry.status), Action.REVOKE)
    await _write(
        session, ctx, entry, await _policy(session, ctx), DocumentKind.REMOVAL,
        data.basis_document, grounds=data.reason.strip(), removed_on=ctx.today(),
    )  # fmt: skip
    await _move(
        session, ctx, entry, Action.REVOKE, basis_document=data.basis_document,
        comment=data.reason.strip(), ended_at=ctx.now(), end_reason=END_REASONS[Action.REVOKE],
    )  # fmt: skip
    return entry


async def expire_due(session: AsyncSession, ctx: CommandContext, limit: int = 500) -> int:
    """End published entries whose period is over; several workers may run it at once.

    ``SKIP LOCKED`` hands each worker different entries; the numbered transition rows
    (unique per entry and step) would refuse a second expiry even if it were tried.
    """
    today = ctx.today()
    rows = await session.execute(
        sa.select(ListEntry)
        .where(col(ListEntry.status) == EntryStatus.PUBLISHED, col(ListEntry.effective_to) < today)
        .order_by(col(ListEntry.effective_to), col(ListEntry.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    entries = list(rows.scalars())
    now = ctx.now()
    if entries:
        policy = await _policy(session, ctx)
        institutions, practitioners = await subjects_by_id(
            session,
            (e.subject_id for e in entries if e.subject_kind == SubjectType.INSTITUTION),
            (e.subject_id for e in entries if e.subject_kind == SubjectType.PRACTITIONER),
        )
        for entry in entries:
            subject = institutions.get(entry.subject_id) or practitioners.get(entry.subject_id)
            if subject is None:  # a broken row must not keep every other entry in force
                log.error("list_document_subject_missing", entry_id=str(entry.id))
                continue
            await _write(
                session, ctx, entry, policy, DocumentKind.REMOVAL, None, subject=subject,
                effective_to=entry.effective_to, removed_on=today,
            )  # fmt: skip
    steps = [
        _advance(
            entry, Action.EXPIRE, rule=f"effective_to {entry.effective_to}", ended_at=now,
            end_reason=END_REASONS[Action.EXPIRE],
        )
        for entry in entries
    ]  # fmt: skip
    await _record(session, ctx, steps)
    return len(entries)


async def apply_for_repair(
    session: AsyncSession, ctx: CommandContext, entry_id: uuid.UUID, data: RepairIn
) -> RepairApplication:
    """Record a credit-repair application (信用修复) with its evidence and commitment."""
    entry = await _entry_in_region(session, ctx, entry_id, *STAFF_ROLES)
    if entry.list_type != ListType.BLACK or entry.status != EntryStatus.PUBLISHED:
        raise Conflict(
            f"credit repair ends a published black-list entry early; this entry is a "
            f"{entry.list_type}-list entry that is {entry.status}"
        )
    pending = await session.execute(
        sa.select(col(RepairApplication.id)).where(
            col(RepairApplication.entry_id) == entry.id, col(RepairApplication.status) == "pending"
        )
    )
    if pending.first() is not None:
        raise Conflict("a repair application for this entry is already waiting for review")
    application = RepairApplication(
        entry_id=entry.id, filed_on=ctx.today(), evidence=data.evidence.strip(),
        obligations_fulfilled=data.obligations_fulfilled,
        public_commitment=data.public_commitment.strip(), recorded_at=ctx.now(),
        recorded_by=ctx.actor.user_id,
    )  # fmt: skip
    await audit.record_creation(
        session, ctx, application, action="list.repair_apply",
        target_type="repair_application", target_id=application.id,
    )  # fmt: skip
    return application


async def decide_repair(
    session: AsyncSession, ctx: CommandContext, application_id: uuid.UUID, data: RepairDecisionIn
) -> RepairApplication:
    """A second person checks the policy's conditions and ends the entry, or refuses."""
    application = await lock_or_404(
        session, RepairApplication, application_id, "repair application"
    )
    entry = await _entry_in_region(session, ctx, application.entry_id, *DECIDERS)
    if application.status != "pending":
        raise Conflict(f"this application was already {application.status}")
    if ctx.actor.user_id is not None and ctx.actor.user_id == application.recorded_by:
        raise Forbidden("you recorded this application, so someone else must review it: four eyes")
    policy = await _policy(session, ctx)
    unmet = unmet_conditions(
        entry, application, policy, ctx.today(), await _new_serious_records(session, entry, policy)
    )
    if data.approve and unmet:
        raise Conflict("the repair conditions are not met: " + "; ".join(unmet))
    application.status = "approved" if data.approve else "refused"
    application.reviewed_by, application.reviewed_at = ctx.actor.user_id, ctx.now()
    application.comment, application.unmet = data.comment.strip(), unmet
    await _write(
        session, ctx, entry, policy,
        DocumentKind.REPAIR_APPROVED if data.approve else DocumentKind.REPAIR_REFUSED, None,
        grounds=application.comment, removed_on=ctx.today() if data.approve else None,
    )  # fmt: skip
    if data.approve:
        await _move(
            session, ctx, entry, Action.REPAIR, rule="credit repair",
            comment=application.comment, ended_at=ctx.now(),
            end_reason=END_REASONS[Action.REPAIR],
        )  # fmt: skip
    await session.flush()
    await audit.record(
        session, ctx, action=f"list.repair_{application.status}",
        target_type="repair_application", target_id=application.id, after=application,
    )  # fmt: skip
    return application


async def _new_serious_records(session: AsyncSession, entry: ListEntry, policy: Policy) -> int:
    """Confirmed records since the listing that would trigger a black listing again."""
    named = (
        col(Record.institution_id)
        if entry.subject_kind == "institution"
        else col(Record.practitioner_id)
    )
    rows = await session.execute(
        sa.select(col(Record.kind), col(Record.details)).where(
            named == entry.subject_id,
            col(Record.status) == "confirmed",
            col(Record.confirmed_at) > entry.published_at,
        )
    )
    triggers = policy.lists.black.triggers
    return sum(1 for kind, details in rows if any(t.matches(kind, details) for t in triggers))


# Reading


async def entry_view(session: AsyncSession, ctx: CommandContext, entry_id: uuid.UUID) -> EntryView:
    ctx.actor.require_role(*STAFF_ROLES)
    entry = await get_or_404(session, ListEntry, entry_id, "list entry")
    ctx.actor.require_region(entry.region_code)

    async def rows(model: Any, order: Any) -> list[Any]:
        result = await session.execute(
            sa.select(model).where(model.entry_id == entry.id).order_by(order)
        )
        return list(result.scalars())

    return EntryView(
        entry,
        await rows(ListTransition, col(ListTransition.seq)),
        await rows(Objection, col(Objection.recorded_at)),
        await rows(Notice, col(Notice.seq)),
        await rows(RepairApplication, col(RepairApplication.recorded_at)),
    )


async def list_entries(
    session: AsyncSession,
    ctx: CommandContext,
    *,
    list_type: str | None,
    status: str | None,
    region: str | None,
    subject_id: uuid.UUID | None,
    page: int,
    page_size: int,
) -> tuple[Sequence[ListEntry], int]:
    ctx.actor.require_role(*STAFF_ROLES)
    query = sa.select(ListEntry)
    if scope := region_scope(ctx.actor, region):
        query = query.where(col(ListEntry.region_code).startswith(scope, autoescape=True))
    for column, value in (
        (ListEntry.list_type, list_type),
        (ListEntry.status, status),
        (ListEntry.subject_id, subject_id),
    ):
        if value is not None:
            query = query.where(col(column) == value)
    listing = await fetch_page(
        session, query, [col(ListEntry.created_at).desc(), col(ListEntry.id)], page, page_size
    )
    return listing.rows, listing.total


def allowed_actions(entry: ListEntry) -> list[str]:
    return [action.value for action in allowed(EntryStatus(entry.status))]


async def entry_document(
    session: AsyncSession, ctx: CommandContext, entry_id: uuid.UUID, document_id: uuid.UUID
) -> Notice:
    """One document of an entry, as written, for whoever may read the entry."""
    ctx.actor.require_role(*STAFF_ROLES)
    entry = await get_or_404(session, ListEntry, entry_id, "list entry")
    ctx.actor.require_region(entry.region_code)
    document = await session.get(Notice, document_id)
    if document is None or document.entry_id != entry.id:
        raise NotFound(f"list entry {entry_id} has no document {document_id}")
    return document
