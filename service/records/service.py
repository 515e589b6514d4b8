"""Recording facts: drafts, confirmation, corrections, revocation and rectification.

Every command runs in the caller's transaction, appends to the audit chain and, when
it changes what counts (confirm, correct, revoke, rectify), publishes an event on the
context's bus, whose subscribers run in the same transaction.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.actor import RECORDING_ROLES, STAFF_ROLES, Role
from service.audit import chain as audit
from service.audit.chain import AuditItem
from service.context import CommandContext
from service.db.paging import Listing, fetch_page
from service.db.rows import check_version, get_or_404, lock_or_404
from service.errors import Conflict, FieldError, Invalid, NotFound
from service.facts.kinds import RecordKind, RecordStatus, SubjectKind
from service.policy.document import Policy
from service.policy.store import policy_now
from service.records.events import (
    DeficiencyRectified,
    RecordConfirmed,
    RecordCorrected,
    RecordEvent,
    RecordRevoked,
    SubjectKey,
)
from service.records.models import Deficiency, Record
from service.records.reach import require_in_reach
from service.records.rules import check_record, kind_of, stored_details
from service.records.schemas import (
    CorrectionIn,
    InspectionIn,
    RecordBase,
    RecordRevocationIn,
    RectificationIn,
)
from service.registry.models import Institution, Practitioner
from service.registry.service import get_institution, get_practitioner, region_scope

# Overturning a penalty decision is a reviewer's act (four eyes over the inspector).
PENALTY_REVOKERS = (Role.REVIEWER,)


@dataclass(frozen=True, slots=True)
class Subjects:
    institution: Institution | None
    practitioner: Practitioner | None

    @property
    def region_code(self) -> str:
        """Where the record belongs: the institution's region, else the practitioner's."""
        subject = self.institution or self.practitioner
        assert subject is not None
        return subject.region_code


@dataclass(frozen=True, slots=True)
class RecordView:
    record: Record
    deficiencies: list[Deficiency]
    superseded_by_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class Chain:
    chain_id: uuid.UUID
    records: list[RecordView]

    @property
    def current(self) -> RecordView:
        """The version in force or revoked; a chain never confirmed shows its newest draft."""
        settled = [
            view
            for view in self.records
            if view.record.status in (RecordStatus.CONFIRMED, RecordStatus.REVOKED)
        ]
        return (settled or self.records)[-1]


def _subject_keys(
    institution_id: uuid.UUID | None, practitioner_id: uuid.UUID | None
) -> tuple[SubjectKey, ...]:
    keys: list[SubjectKey] = []
    if institution_id is not None:
        keys.append((SubjectKind.INSTITUTION, institution_id))
    if practitioner_id is not None:
        keys.append((SubjectKind.PRACTITIONER, practitioner_id))
    return tuple(keys)


def record_keys(record: Record) -> tuple[SubjectKey, ...]:
    return _subject_keys(record.institution_id, record.practitioner_id)


def raise_for(errors: Sequence[FieldError]) -> None:
    if errors:
        detail = "; ".join(f"{error.field}: {error.message}" for error in errors)
        raise Invalid(detail, errors=list(errors))


async def resolve_subjects(
    session: AsyncSession, body: RecordBase, prefix: str = ""
) -> tuple[Subjects, list[FieldError]]:
    errors: list[FieldError] = []
    institution = practitioner = None
    if body.institution_id is not None:
        institution = await session.get(Institution, body.institution_id)
        if institution is None:
            errors.append(FieldError(prefix + "institution_id", "no institution with this id"))
    if body.practitioner_id is not None:
        practitioner = await session.get(Practitioner, body.practitioner_id)
        if practitioner is None:
            errors.append(FieldError(prefix + "practitioner_id", "no practitioner with this id"))
    return Subjects(institution, practitioner), errors


def _content(body: RecordBase, subjects: Subjects, policy: Policy) -> dict[str, Any]:
    """The columns a record's body sets, the same for a new draft and an edited one
    (a penalty's default publication end from the policy in force)."""
    return {
        "institution_id": body.institution_id,
        "practitioner_id": body.practitioner_id,
        "region_code": subjects.region_code,
        "occurred_on": body.occurred_on,
        "document_no": body.document_no.strip() if body.document_no else None,
        "legal_basis": body.legal_basis.strip() if body.legal_basis else None,
        "details": stored_details(body, policy),
    }


def record_row(
    body: RecordBase,
    subjects: Subjects,
    ctx: CommandContext,
    policy: Policy,
    *,
    supersedes: Record | None = None,
    correction_reason: str | None = None,
) -> dict[str, Any]:
    """Every column of a new draft, as a plain row (equal to ``Record(**row).model_dump()``)."""
    now = ctx.now()
    record_id = uuid.uuid4()
    return {
        "id": record_id,
        "kind": kind_of(body).value,
        "status": RecordStatus.DRAFT.value,
        "chain_id": supersedes.chain_id if supersedes else record_id,
        "supersedes_id": supersedes.id if supersedes else None,
        "correction_reason": correction_reason,
        **_content(body, subjects, policy),
        "version": 1,
        "recorded_at": now,
        "recorded_by": ctx.actor.user_id,
        "updated_at": now,
        "confirmed_at": None,
        "confirmed_by": None,
        "superseded_at": None,
        "revoked_at": None,
        "revoked_by": None,
        "revocation_reason": None,
        "revocation_document_no": None,
    }


def deficiency_rows(
    body: RecordBase, record_id: uuid.UUID, ctx: CommandContext
) -> list[dict[str, Any]]:
    """Every column of each deficiency an inspection body lists, as plain rows."""
    if not isinstance(body, InspectionIn):
        return []
    return [
        {
            "id": uuid.uuid4(),
            "record_id": record_id,
            "position": position,
            "item": item.item.strip(),
            "code": item.code,
            "severity": item.severity.value,
            "scope": item.scope.value,
            "rectification_deadline": item.rectification_deadline,
            "rectified_on": item.rectified_on,
            "rectification_recorded_at": ctx.now() if item.rectified_on else None,
            "rectification_recorded_by": ctx.actor.user_id if item.rectified_on else None,
            "rectification_note": None,
        }
        for position, item in enumerate(body.deficiencies, start=1)
    ]


async def _checked_subjects(
    session: AsyncSession, ctx: CommandContext, body: RecordBase, prefix: str = ""
) -> Subjects:
    """The body's subjects, after every rule and the caller's jurisdiction are satisfied."""
    errors = check_record(body, ctx.today(), prefix)
    subjects, missing = await resolve_subjects(session, body, prefix)
    raise_for(errors + missing)
    ctx.actor.require_region(subjects.region_code)
    if subjects.practitioner is not None:
        field = prefix + "practitioner_id"
        await require_in_reach(session, ctx.actor, subjects.practitioner, body.occurred_on, field)
    return subjects


def _apply(ctx: CommandContext, row: Record | Deficiency, action: str, **changes: Any) -> AuditItem:
    """Apply a change to a loaded row; its audit entry (before → after)."""
    before = row.model_dump()
    for name, value in changes.items():
        setattr(row, name, value)
    if isinstance(row, Record):
        row.updated_at = ctx.now()
        row.version += 1
    target_type = "record" if isinstance(row, Record) else "deficiency"
    return AuditItem(action, target_type, row.id, before, row)


async def _change(
    session: AsyncSession,
    ctx: CommandContext,
    row: Record | Deficiency,
    action: str,
    **changes: Any,
) -> None:
    """Apply a change to a loaded row, store it and append its audit entry."""
    item = _apply(ctx, row, action, **changes)
    await session.flush()
    await audit.record_many(session, ctx, [item])


async def _store_draft(
    session: AsyncSession, ctx: CommandContext, body: RecordBase, row: dict[str, Any]
) -> RecordView:
    """Store a new draft (its ``record_row``) and the deficiencies its body lists, audited.

    Its view is built from what was stored, not read back: a record stored in this
    command has no successor yet, and its deficiencies are these (every column given).
    """
    record = Record(**row)
    deficiencies = [Deficiency(**d) for d in deficiency_rows(body, record.id, ctx)]
    await audit.record_creation(
        session, ctx, record, action="record.create", target_type="record", target_id=record.id
    )
    session.add_all(deficiencies)  # after the record they point at
    await session.flush()
    return RecordView(record, deficiencies, None)


async def create_record(
    session: AsyncSession, ctx: CommandContext, body: RecordBase, *, confirm: bool
) -> RecordView:
    ctx.actor.require_role(*RECORDING_ROLES)
    subjects = await _checked_subjects(session, ctx, body)
    row = record_row(body, subjects, ctx, await policy_now(session, ctx))
    view = await _store_draft(session, ctx, body, row)
    if confirm:
        await _confirm(session, ctx, view.record)
    return view


async def store_batch(
    session: AsyncSession,
    ctx: CommandContext,
    items: Sequence[tuple[RecordBase, Subjects]],
    *,
    confirm: bool,
    action: str,
) -> list[uuid.UUID]:
    """Store many checked bodies at once (a spreadsheet, the demo): drafts, then confirmed.

    Core inserts and one audit entry per record (the action given); confirmed, as
    ``confirm_many`` does it: one UPDATE for the lot, an event per record.
    """
    records: list[dict[str, Any]] = []
    deficiencies: list[dict[str, Any]] = []
    policy = await policy_now(session, ctx)
    for body, subjects in items:
        row = record_row(body, subjects, ctx, policy)
        records.append(row)
        deficiencies.extend(deficiency_rows(body, row["id"], ctx))
    if not records:
        return []
    # Plain rows through core INSERTs: building thousands of models would cost more
    # than storing them.
    await session.execute(sa.insert(Record), records)
    if deficiencies:
        await session.execute(sa.insert(Deficiency), deficiencies)
    if confirm:
        await confirm_many(session, ctx, records, action=action, new=True)
    else:
        created = [AuditItem(action, "record", row["id"], after=row) for row in records]
        await audit.record_many(session, ctx, created)
    return [row["id"] for row in records]


async def _locked_in_region(
    session: AsyncSession, ctx: CommandContext, record_id: uuid.UUID
) -> Record:
    record = await lock_or_404(session, Record, record_id, "record")
    ctx.actor.require_region(record.region_code)
    return record


async def _successor_id(session: AsyncSession, record_id: uuid.UUID) -> uuid.UUID | None:
    result = await session.execute(
        sa.select(col(Record.id)).where(
            col(Record.supersedes_id) == record_id, col(Record.status) != RecordStatus.DRAFT
        )
    )
    return result.scalar_one_or_none()


async def _require_in_force(session: AsyncSession, record: Record, doing: str) -> None:
    """Refuse to act on anything but the confirmed, current version of a fact."""
    if record.status == RecordStatus.CONFIRMED:
        return
    if record.status == RecordStatus.DRAFT:
        raise Conflict(
            f"record {record.id} is a draft: it is not in force yet, so it cannot be {doing}; "
            "edit it with PUT or confirm it"
        )
    if record.status == RecordStatus.SUPERSEDED:
        successor = await _successor_id(session, record.id)
        raise Conflict(
            f"record {record.id} was superseded by the correction {successor}; "
            f"that is the version that can be {doing}"
        )
    raise Conflict(f"record {record.id} was revoked on {record.revoked_at}; it cannot be {doing}")


async def replace_draft(
    session: AsyncSession,
    ctx: CommandContext,
    record_id: uuid.UUID,
    body: RecordBase,
    expected_version: int,
) -> RecordView:
    ctx.actor.require_role(*RECORDING_ROLES)
    record = await _locked_in_region(session, ctx, record_id)
    if record.status != RecordStatus.DRAFT:
        raise Conflict(
            f"record {record.id} is {record.status} and can no longer be changed; "
            f"POST /api/v1/records/{record.id}/corrections to correct it"
        )
    check_version(record, expected_version)
    if kind_of(body) != record.kind:
        raise Invalid.field("kind", f"must stay {record.kind}: a draft keeps its kind")
    subjects = await _checked_subjects(session, ctx, body)
    await session.execute(sa.delete(Deficiency).where(col(Deficiency.record_id) == record.id))
    session.add_all(Deficiency(**d) for d in deficiency_rows(body, record.id, ctx))
    content = _content(body, subjects, await policy_now(session, ctx))
    await _change(session, ctx, record, "record.update", **content)
    return await view_of(session, record)


async def delete_draft(
    session: AsyncSession, ctx: CommandContext, record_id: uuid.UUID, expected_version: int
) -> None:
    ctx.actor.require_role(*RECORDING_ROLES)
    record = await _locked_in_region(session, ctx, record_id)
    if record.status != RecordStatus.DRAFT:
        raise Conflict(
            f"record {record.id} is {record.status}: only a draft can be deleted; "
            "revoke or correct a confirmed record"
        )
    check_version(record, expected_version)
    before = record.model_dump()
    await session.delete(record)
    await session.flush()
    await audit.record(
        session,
        ctx,
        action="record.delete",
        target_type="record",
        target_id=record_id,
        before=before,
    )


async def confirm_record(
    session: AsyncSession, ctx: CommandContext, record_id: uuid.UUID
) -> RecordView:
    ctx.actor.require_role(*RECORDING_ROLES)
    record = await _locked_in_region(session, ctx, record_id)
    if record.practitioner_id is not None:  # whoever drafted it, the confirmer must reach them
        practitioner = await get_or_404(
            session, Practitioner, record.practitioner_id, "practitioner"
        )
        await require_in_reach(
            session, ctx.actor, practitioner, record.occurred_on, "practitioner_id"
        )
    await _confirm(session, ctx, record)
    return await view_of(session, record)


async def _confirm(session: AsyncSession, ctx: CommandContext, record: Record) -> None:
    if record.status != RecordStatus.DRAFT:
        raise Conflict(f"record {record.id} is already {record.status}; only a draft is confirmed")
    await confirm_many(session, ctx, [record.model_dump()])


async def confirm_many(
    session: AsyncSession,
    ctx: CommandContext,
    drafts: Sequence[dict[str, Any]],
    *,
    action: str = "record.confirm",
    new: bool = False,
) -> None:
    """Confirm drafts, given as their rows (brought up to date here): the one way a record
    comes into force, for one record or a spreadsheet's thousands.

    One UPDATE for the lot (loaded models follow it); a correction supersedes the version
    it corrects, which must still be in force. Each record gets one audit entry, ``action``:
    from its draft, or from nothing when the same step stored the drafts (``new``: a batch
    audits a record once), and its event; the events are published together, last.
    """
    if not drafts:
        return
    originals: dict[uuid.UUID, Record] = {}
    for row in drafts:
        if row["supersedes_id"] is not None:
            original = await lock_or_404(session, Record, row["supersedes_id"], "record")
            await _require_in_force(session, original, "corrected")
            originals[original.id] = original
    now = ctx.now()
    confirmed = {
        "status": RecordStatus.CONFIRMED.value,
        "confirmed_at": now,
        "confirmed_by": ctx.actor.user_id,
        "updated_at": now,
    }
    ids = [row["id"] for row in drafts]
    done = await session.execute(
        sa.update(Record)
        .where(col(Record.id).in_(ids), col(Record.status) == RecordStatus.DRAFT.value)
        .values(**confirmed, version=Record.version + 1)
    )
    if done.rowcount != len(ids):  # type: ignore[attr-defined]
        raise Conflict("only a draft is confirmed, and one of these records is not a draft")
    items: list[AuditItem] = []
    events: list[RecordEvent] = []
    for row in drafts:
        before = None if new else dict(row)
        row.update(confirmed, version=row["version"] + 1)
        items.append(AuditItem(action, "record", row["id"], before, dict(row)))
        keys = _subject_keys(row["institution_id"], row["practitioner_id"])
        replaced = originals.get(row["supersedes_id"]) if row["supersedes_id"] else None
        if replaced is None:
            events.append(RecordConfirmed(row["id"], RecordKind(row["kind"]), keys, now))
            continue
        superseded = {"status": RecordStatus.SUPERSEDED.value, "superseded_at": now}
        items.append(_apply(ctx, replaced, "record.supersede", **superseded))
        subjects = tuple(dict.fromkeys(record_keys(replaced) + keys))
        events.append(
            RecordCorrected(row["id"], RecordKind(row["kind"]), subjects, now, replaced.id)
        )
    await session.flush()
    await audit.record_many(session, ctx, items)
    await ctx.publish(session, events)


async def correct_record(
    session: AsyncSession,
    ctx: CommandContext,
    record_id: uuid.UUID,
    correction: CorrectionIn,
    *,
    confirm: bool,
) -> RecordView:
    ctx.actor.require_role(*RECORDING_ROLES)
    # Lock the original first, as every other step on a record does: concurrent
    # corrections then queue here, and each later one finds it superseded (409),
    # instead of each holding a key-share lock from its insert and deadlocking.
    original = await _locked_in_region(session, ctx, record_id)
    await _require_in_force(session, original, "corrected")
    if kind_of(correction.record) != original.kind:
        raise Invalid.field(
            "record.kind", f"must be {original.kind}: a correction keeps the kind it corrects"
        )
    subjects = await _checked_subjects(session, ctx, correction.record, prefix="record.")
    row = record_row(
        correction.record,
        subjects,
        ctx,
        await policy_now(session, ctx),
        supersedes=original,
        correction_reason=correction.reason.strip(),
    )
    view = await _store_draft(session, ctx, correction.record, row)
    if confirm:
        await _confirm(session, ctx, view.record)
    return view


async def revoke_record(
    session: AsyncSession, ctx: CommandContext, record_id: uuid.UUID, revocation: RecordRevocationIn
) -> RecordView:
    record = await lock_or_404(session, Record, record_id, "record")
    revokers = PENALTY_REVOKERS if record.kind == RecordKind.PENALTY else STAFF_ROLES
    ctx.actor.require_role(*revokers)
    ctx.actor.require_region(record.region_code)
    await _require_in_force(session, record, "revoked")
    now = ctx.now()
    reason = revocation.reason.strip()
    await _change(
        session,
        ctx,
        record,
        "record.revoke",
        status=RecordStatus.REVOKED.value,
        revoked_at=now,
        revoked_by=ctx.actor.user_id,
        revocation_reason=reason,
        revocation_document_no=revocation.document_no,
    )
    event = RecordRevoked(record.id, RecordKind(record.kind), record_keys(record), now, reason)
    await ctx.publish(session, [event])
    return await view_of(session, record)


async def rectify_deficiency(
    session: AsyncSession,
    ctx: CommandContext,
    record_id: uuid.UUID,
    deficiency_id: uuid.UUID,
    rectification: RectificationIn,
) -> RecordView:
    ctx.actor.require_role(*RECORDING_ROLES)
    record = await _locked_in_region(session, ctx, record_id)
    deficiency = await session.get(Deficiency, deficiency_id, with_for_update=True)
    if deficiency is None or deficiency.record_id != record.id:
        raise NotFound(f"record {record_id} has no deficiency {deficiency_id}")
    await _require_in_force(session, record, "rectified")
    if deficiency.rectified_on is not None:
        raise Conflict(
            f"deficiency {deficiency_id} was already recorded as rectified on "
            f"{deficiency.rectified_on.isoformat()}"
        )
    if rectification.rectified_on < record.occurred_on:
        raise Invalid.field("rectified_on", "must not be before the inspection date")
    if rectification.rectified_on > ctx.today():
        raise Invalid.field("rectified_on", f"must not be after today ({ctx.today()})")
    now = ctx.now()
    await _change(
        session,
        ctx,
        deficiency,
        "record.rectify",
        rectified_on=rectification.rectified_on,
        rectification_recorded_at=now,
        rectification_recorded_by=ctx.actor.user_id,
        rectification_note=rectification.note.strip() or None,
    )
    event = DeficiencyRectified(
        record.id, RecordKind(record.kind), record_keys(record), now, deficiency.id
    )
    await ctx.publish(session, [event])
    return await view_of(session, record)


# Reading


async def views_of(session: AsyncSession, records: Iterable[Record]) -> list[RecordView]:
    """Records with their deficiencies and successors, in two queries for the lot."""
    records = list(records)
    ids = [record.id for record in records]
    if not ids:
        return []
    deficiencies: dict[uuid.UUID, list[Deficiency]] = defaultdict(list)
    rows = await session.execute(
        sa.select(Deficiency)
        .where(col(Deficiency.record_id).in_(ids))
        .order_by(col(Deficiency.record_id), col(Deficiency.position))
    )
    for deficiency in rows.scalars():
        deficiencies[deficiency.record_id].append(deficiency)
    successors = await session.execute(
        sa.select(col(Record.supersedes_id), col(Record.id)).where(
            col(Record.supersedes_id).in_(ids), col(Record.status) != RecordStatus.DRAFT
        )
    )
    successor_of = {replaced: successor for replaced, successor in successors}
    return [
        RecordView(record, deficiencies[record.id], successor_of.get(record.id))
        for record in records
    ]


async def view_of(session: AsyncSession, record: Record) -> RecordView:
    return (await views_of(session, [record]))[0]


async def get_record(
    session: AsyncSession, ctx: CommandContext, record_id: uuid.UUID
) -> RecordView:
    ctx.actor.require_role(*STAFF_ROLES)
    record = await get_or_404(session, Record, record_id, "record")
    ctx.actor.require_region(record.region_code)
    return await view_of(session, record)


@dataclass(frozen=True, slots=True)
class RecordFilter:
    kind: RecordKind | None = None
    status: RecordStatus | None = None
    region: str | None = None
    institution_id: uuid.UUID | None = None
    practitioner_id: uuid.UUID | None = None


async def list_records(
    session: AsyncSession, ctx: CommandContext, where: RecordFilter, page: int, page_size: int
) -> tuple[list[RecordView], int]:
    ctx.actor.require_role(*STAFF_ROLES)
    query = sa.select(Record)
    scope = region_scope(ctx.actor, where.region)
    if scope:
        query = query.where(col(Record.region_code).startswith(scope, autoescape=True))
    for column, value in (
        (Record.kind, where.kind),
        (Record.status, where.status),
        (Record.institution_id, where.institution_id),
        (Record.practitioner_id, where.practitioner_id),
    ):
        if value is not None:
            query = query.where(col(column) == value)
    listing: Listing = await fetch_page(
        session, query, [col(Record.recorded_at).desc(), col(Record.id)], page, page_size
    )
    return await views_of(session, listing.rows), listing.total


async def subject_history(
    session: AsyncSession, ctx: CommandContext, subject: SubjectKind, subject_id: uuid.UUID
) -> list[Chain]:
    """Every fact recorded against a subject, each with all its versions."""
    if subject == SubjectKind.INSTITUTION:
        await get_institution(session, ctx, subject_id)
        named = col(Record.institution_id) == subject_id
    else:
        await get_practitioner(session, ctx, subject_id)
        named = col(Record.practitioner_id) == subject_id
    chain_ids = sa.select(col(Record.chain_id)).where(named).scalar_subquery()
    rows = await session.execute(
        sa.select(Record)
        .where(col(Record.chain_id).in_(chain_ids))
        .order_by(col(Record.recorded_at), col(Record.id))
    )
    chains: dict[uuid.UUID, list[RecordView]] = defaultdict(list)
    for view in await views_of(session, rows.scalars()):
        chains[view.record.chain_id].append(view)
    return sorted(
        (Chain(chain_id, views) for chain_id, views in chains.items()),
        key=lambda chain: (chain.current.record.occurred_on, chain.current.record.recorded_at),
        reverse=True,
    )
