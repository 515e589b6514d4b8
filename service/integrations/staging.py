"""What the platforms should hold: published list entries and disclosed penalties.

A change that publishes or withdraws a disclosed fact stages it here, in the
change's own transaction: the record's new state goes into ``sync_records`` with its
version raised (only if it really changed), and one outbox message per platform that
takes its record type goes into the outbox. Nothing is sent here; the worker
delivers (``service.integrations.delivery``).

Record ids are stable for the life of the fact: ``BL-``/``WL-``/``RL-`` and the list
entry's id, ``PN-`` and the penalty's chain (a correction is a new version of the
same record, not a new record).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.clock import local_date
from service.context import CommandContext
from service.integrations.models import SyncAction, SyncRecord
from service.listing.events import ListEntryChanged
from service.listing.machine import DISCLOSING, Action
from service.listing.models import ListEntry, ListTransition
from service.logs import get_logger
from service.policy.store import policy_in_force
from service.records.disclosure import Party, PartyKind, disclosed_now, disclosure_row
from service.records.events import RecordEvent
from service.records.kinds import RecordKind
from service.records.models import Record
from service.registry.models import Institution, Practitioner
from service.registry.service import subjects_by_id

log = get_logger(__name__)
LIST_RECORD_TYPES = {"black": "blacklist", "watch": "watchlist", "red": "redlist"}
LIST_PREFIXES = {"black": "BL", "watch": "WL", "red": "RL"}
PENALTY_PREFIX = "PN"
# Disclosure columns that are the subject or the feed's own bookkeeping, not the penalty.
_NOT_PENALTY_FIELDS = frozenset(
    {"record_id", "disclosure_status", "changed_at", "withdrawal_reason", "subject_name",
     "subject_kind", "uscc", "id_number_masked"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Staged:
    record_id: str
    record_type: str
    source_id: uuid.UUID
    body: dict[str, Any]
    person_id: uuid.UUID | None = None
    action: SyncAction = SyncAction.PUBLISH


def list_record_id(list_type: str, entry_id: uuid.UUID) -> str:
    return f"{LIST_PREFIXES[list_type]}-{entry_id}"


def penalty_record_id(chain_id: uuid.UUID) -> str:
    return f"{PENALTY_PREFIX}-{chain_id}"


async def _fan_out(session: AsyncSession, now: datetime, rows: Sequence[Any]) -> int:
    """One pending outbox message per (changed record, platform taking its type)."""
    if not rows:
        return 0
    result = await session.execute(
        sa.text(
            """
            INSERT INTO outbox (topic, key, payload, status, attempts, available_at, created_at)
            SELECT 'sync:' || p.name, r.record_id, jsonb_build_object('version', r.version),
                   'pending', 0, :now, :now
            FROM unnest(CAST(:ids AS text[]), CAST(:types AS text[]), CAST(:versions AS int[]))
                 WITH ORDINALITY AS r(record_id, record_type, version, ord)
            JOIN sync_platforms p ON p.enabled AND r.record_type = ANY(p.record_types)
            ORDER BY r.ord, p.name
            """
        ),
        {
            "now": now,
            "ids": [row.record_id for row in rows],
            "types": [row.record_type for row in rows],
            "versions": [row.version for row in rows],
        },
    )
    return result.rowcount  # type: ignore[attr-defined,no-any-return]


async def stage(session: AsyncSession, now: datetime, items: Iterable[Staged]) -> int:
    """Record this state of each record; one that did not change keeps its version."""
    latest = {item.record_id: item for item in items}  # one row per record and statement
    if not latest:
        return 0
    statement = insert(SyncRecord).values(
        [
            {
                "record_id": item.record_id,
                "record_type": item.record_type,
                "source_id": item.source_id,
                "version": 1,
                "action": item.action.value,
                "body": item.body,
                "person_id": item.person_id,
                "updated_at": now,
            }
            for item in latest.values()
        ]
    )
    current = SyncRecord.__table__.c  # type: ignore[attr-defined]
    upsert = statement.on_conflict_do_update(
        index_elements=["record_id"],
        set_={
            "version": current.version + 1,
            "action": statement.excluded.action,
            "body": statement.excluded.body,
            "person_id": statement.excluded.person_id,
            "updated_at": statement.excluded.updated_at,
        },
        where=sa.or_(
            current.action != statement.excluded.action,
            current.body != statement.excluded.body,
        ),
    ).returning(current.record_id, current.record_type, current.version)
    rows = (await session.execute(upsert)).all()
    return await _fan_out(session, now, rows)


async def stage_withdrawn(session: AsyncSession, now: datetime, record_ids: Iterable[str]) -> int:
    """Withdraw these records where they are published (the others were never sent)."""
    ids = list(dict.fromkeys(record_ids))
    if not ids:
        return 0
    rows = (
        await session.execute(
            sa.update(SyncRecord)
            .where(col(SyncRecord.record_id).in_(ids), col(SyncRecord.action) == "publish")
            .values(
                action=SyncAction.WITHDRAW.value,
                version=col(SyncRecord.version) + 1,
                updated_at=now,
            )
            .returning(
                col(SyncRecord.record_id), col(SyncRecord.record_type), col(SyncRecord.version)
            )
        )
    ).all()
    return await _fan_out(session, now, rows)


def _org(institution: Institution) -> dict[str, Any]:
    return {"kind": "org", "name": institution.name, "uscc": institution.uscc}


async def list_entry_records(session: AsyncSession, entries: Sequence[ListEntry]) -> list[Staged]:
    """The platform records of entries that were published: in force, or withdrawn since.

    The decision's document is the record's decision_no.
    """
    decisions = dict(
        (
            await session.execute(
                sa.select(col(ListTransition.entry_id), col(ListTransition.basis_document))
                .where(
                    col(ListTransition.entry_id).in_([entry.id for entry in entries]),
                    col(ListTransition.action) == Action.DECIDE_LIST.value,
                )
                .order_by(col(ListTransition.seq))
            )
        ).all()
    )
    institutions, practitioners = await subjects_by_id(
        session,
        {e.subject_id for e in entries if e.subject_kind == "institution"},
        {e.subject_id for e in entries if e.subject_kind == "practitioner"},
    )
    staged = []
    for entry in entries:
        person_id = None
        institution = institutions.get(entry.subject_id)
        practitioner = practitioners.get(entry.subject_id)
        if institution is not None:
            subject = _org(institution)
        elif practitioner is not None:
            subject, person_id = {"kind": "person", "name": practitioner.name}, entry.subject_id
        else:  # no such subject: a broken row must not stop the transaction that ends it
            log.error(
                "sync_subject_missing", entry_id=str(entry.id), subject_id=str(entry.subject_id)
            )
            continue
        body = {
            "subject": subject,
            "effective_from": entry.effective_from.isoformat() if entry.effective_from else None,
            "effective_to": entry.effective_to.isoformat() if entry.effective_to else None,
            "reason_code": entry.reason_code,
            "summary": entry.basis[:2000],
            "decision_no": decisions.get(entry.id),
        }
        staged.append(
            Staged(
                list_record_id(entry.list_type, entry.id),
                LIST_RECORD_TYPES[entry.list_type],
                entry.id,
                body,
                person_id,
                SyncAction.PUBLISH if entry.status == "published" else SyncAction.WITHDRAW,
            )
        )
    return staged


async def on_list_entries(
    session: AsyncSession, ctx: CommandContext, events: Sequence[ListEntryChanged]
) -> None:
    """Subscriber: a published entry goes out; one that ends is withdrawn."""
    changed = [e.entry_id for e in events if e.action in DISCLOSING]
    if not changed:
        return
    rows = await session.execute(
        sa.select(ListEntry).where(
            col(ListEntry.id).in_(changed), col(ListEntry.published_at).is_not(None)
        )
    )
    await stage(session, ctx.now(), await list_entry_records(session, list(rows.scalars())))


def _penalty_record(
    record: Record,
    institution: Institution | None,
    practitioner: Practitioner | None,
    row: dict[str, Any],
) -> Staged:
    details = record.details
    if institution is not None:
        subject, person_id = _org(institution), None
    else:
        assert practitioner is not None  # a record names at least one subject
        subject, person_id = {"kind": "person", "name": practitioner.name}, practitioner.id
    body = {
        "subject": subject,
        "effective_from": record.occurred_on.isoformat(),
        "effective_to": details["publication_end_date"],
        "reason_code": str(details.get("violation_type") or "")[:64],
        "summary": str(details.get("violation_facts") or "")[:2000],
        "decision_no": record.document_no,
        "authority": {"name": details["authority_name"], "uscc": details["authority_uscc"]},
        "penalty": {key: value for key, value in row.items() if key not in _NOT_PENALTY_FIELDS},
    }
    return Staged(penalty_record_id(record.chain_id), "penalty", record.chain_id, body, person_id)


async def on_penalties(
    session: AsyncSession, ctx: CommandContext, events: Sequence[RecordEvent]
) -> None:
    """Subscriber: a penalty in its disclosure period goes out; a revoked one is withdrawn.

    A correction publishes the corrected content as the next version of the same
    record, or withdraws it if the corrected penalty is not to be disclosed.
    """
    penalty_events = [e for e in events if e.kind == RecordKind.PENALTY]
    if penalty_events:
        await _stage_penalties(session, ctx, [e.record_id for e in penalty_events])


async def _stage_penalties(
    session: AsyncSession, ctx: CommandContext, record_ids: Sequence[uuid.UUID]
) -> None:
    """Publish each of these penalty records that is in its disclosure period now (as the
    record of its chain); withdraw the chain of each that is not, if it was published."""
    now = ctx.now()
    rows = await session.execute(
        sa.select(Record, Institution, Practitioner)
        .outerjoin(Institution, col(Institution.id) == col(Record.institution_id))
        .outerjoin(Practitioner, col(Practitioner.id) == col(Record.practitioner_id))
        .where(col(Record.id).in_(record_ids))
    )
    policy = await policy_in_force(session, ctx.today(), now)
    publish: list[Staged] = []
    withdraw: list[str] = []
    for record, institution, practitioner in rows:
        window = disclosed_now(record, policy, now)
        if window is None:
            withdraw.append(penalty_record_id(record.chain_id))
            continue
        party = Party(PartyKind.LEGAL_PERSON, "")  # the row's party fields are dropped
        row = disclosure_row(record, party, window, now)
        assert row is not None  # published_at <= now
        publish.append(_penalty_record(record, institution, practitioner, row))
    await stage(session, now, publish)
    await stage_withdrawn(session, now, withdraw)


async def restage(session: AsyncSession, ctx: CommandContext, record_ids: Iterable[str]) -> None:
    """Build these records again from their sources (after an operator corrected one);
    a record whose content changed gets a new version and goes out again."""
    entry_ids: list[uuid.UUID] = []
    chain_ids: list[uuid.UUID] = []
    for record_id in record_ids:
        prefix, _, source = record_id.partition("-")
        (chain_ids if prefix == PENALTY_PREFIX else entry_ids).append(uuid.UUID(source))
    if entry_ids:
        rows = await session.execute(
            sa.select(ListEntry).where(
                col(ListEntry.id).in_(entry_ids), col(ListEntry.published_at).is_not(None)
            )
        )
        await stage(session, ctx.now(), await list_entry_records(session, list(rows.scalars())))
    if chain_ids:
        latest = await session.execute(
            sa.select(col(Record.id))
            .where(col(Record.chain_id).in_(chain_ids), col(Record.status) != "draft")
            .order_by(col(Record.chain_id), col(Record.confirmed_at).desc())
            .distinct(col(Record.chain_id))
        )
        await _stage_penalties(session, ctx, list(latest.scalars()))


async def withdraw_ended_penalties(session: AsyncSession, ctx: CommandContext) -> int:
    """Daily: withdraw penalties whose publication end date has passed."""
    today = local_date(ctx.now()).isoformat()
    ended = await session.execute(
        sa.select(col(SyncRecord.record_id)).where(
            col(SyncRecord.record_type) == "penalty",
            col(SyncRecord.action) == SyncAction.PUBLISH.value,
            col(SyncRecord.body)["effective_to"].astext < today,
        )
    )
    ids = list(ended.scalars())
    await stage_withdrawn(session, ctx.now(), ids)
    return len(ids)
