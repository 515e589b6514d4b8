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
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.clock import local_date
from service.context import CommandContext
from service.facts.details import PenaltyDetails, penalty_details
from service.facts.kinds import RecordKind
from service.integrations.models import SyncAction, SyncRecord
from service.listing.events import ListEntryChanged
from service.listing.machine import DISCLOSING, Action
from service.listing.models import ListEntry, ListTransition
from service.logs import get_logger
from service.policy.store import policy_now
from service.records.disclosure import penalty_fields, publication_window
from service.records.events import RecordEvent
from service.records.models import Record
from service.registry.events import SubjectChanged
from service.registry.models import Institution, Practitioner
from service.registry.service import subjects_by_id

log = get_logger(__name__)
LIST_RECORD_TYPES = {"black": "blacklist", "watch": "watchlist", "red": "redlist"}
LIST_PREFIXES = {"black": "BL", "watch": "WL", "red": "RL"}
PENALTY_PREFIX = "PN"


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
    return await _next_versions(
        session,
        now,
        record_ids,
        only_published=True,
        action=SyncAction.WITHDRAW.value,
    )


async def _next_versions(
    session: AsyncSession,
    now: datetime,
    record_ids: Iterable[str],
    *,
    only_published: bool = False,
    **changes: Any,
) -> int:
    """Give these records their next version (with ``changes``), for every platform taking them."""
    ids = list(dict.fromkeys(record_ids))
    if not ids:
        return 0
    conditions: list[sa.ColumnElement[bool]] = [col(SyncRecord.record_id).in_(ids)]
    if only_published:
        conditions.append(col(SyncRecord.action) == SyncAction.PUBLISH.value)
    rows = (
        await session.execute(
            sa.update(SyncRecord)
            .where(*conditions)
            .values(version=col(SyncRecord.version) + 1, updated_at=now, **changes)
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
    penalty: PenaltyDetails,
    institution: Institution | None,
    practitioner: Practitioner | None,
) -> Staged:
    if institution is not None:
        subject, person_id = _org(institution), None
    else:
        assert practitioner is not None  # a record names at least one subject
        subject, person_id = {"kind": "person", "name": practitioner.name}, practitioner.id
    body = {
        "subject": subject,
        "effective_from": record.occurred_on.isoformat(),
        "effective_to": penalty.publication_ends_on.isoformat(),
        "reason_code": penalty.violation_type[:64],
        "summary": penalty.violation_facts[:2000],
        "decision_no": record.document_no,
        "authority": {"name": penalty.authority_name, "uscc": penalty.authority_uscc},
        "penalty": penalty_fields(record, penalty),
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
        built = await _penalty_records(session, ctx, [e.record_id for e in penalty_events])
        await _stage_rebuilt(session, ctx.now(), built)


async def on_subjects(
    session: AsyncSession, ctx: CommandContext, events: Sequence[SubjectChanged]
) -> None:
    """Subscriber: a renamed (or otherwise changed) institution or practitioner changes
    every record that names it, so each goes out again as a new version."""
    # Each branch walks an index from the subjects to the few records naming them.
    named = await session.execute(
        sa.text(
            """
            SELECT s.record_id FROM list_entries e JOIN sync_records s ON s.source_id = e.id
            WHERE (e.subject_kind = 'institution' AND e.subject_id = ANY(:institutions))
               OR (e.subject_kind = 'practitioner' AND e.subject_id = ANY(:practitioners))
            UNION
            SELECT s.record_id FROM records r JOIN sync_records s ON s.source_id = r.chain_id
            WHERE r.kind = 'penalty'
              AND (r.institution_id = ANY(:institutions)
                   OR r.practitioner_id = ANY(:practitioners))
            """
        ).bindparams(
            sa.bindparam("institutions", type_=ARRAY(sa.Uuid())),
            sa.bindparam("practitioners", type_=ARRAY(sa.Uuid())),
        ),
        {
            "institutions": list({e.subject_id for e in events if e.subject_kind == "institution"}),
            "practitioners": list(
                {e.subject_id for e in events if e.subject_kind == "practitioner"}
            ),
        },
    )
    await restage(session, ctx, list(named.scalars()))


@dataclass(slots=True)
class Rebuilt:
    """Records as their sources say they should be now."""

    staged: list[Staged] = field(default_factory=list)  # content and action, rebuilt
    withdrawn: list[str] = field(default_factory=list)  # no longer disclosed; content as sent

    def extend(self, other: Rebuilt) -> None:
        self.staged.extend(other.staged)
        self.withdrawn.extend(other.withdrawn)


async def _penalty_records(
    session: AsyncSession, ctx: CommandContext, record_ids: Sequence[uuid.UUID]
) -> Rebuilt:
    """Each of these penalty records as the record of its chain: published while it is in
    its disclosure period, withdrawn (with its content) once that has ended, and withdrawn
    as it was sent if it is never to be disclosed (a correction to a warning alone)."""
    now = ctx.now()
    rows = await session.execute(
        sa.select(Record, Institution, Practitioner)
        .outerjoin(Institution, col(Institution.id) == col(Record.institution_id))
        .outerjoin(Practitioner, col(Practitioner.id) == col(Record.practitioner_id))
        .where(col(Record.id).in_(record_ids))
    )
    policy = await policy_now(session, ctx)
    built = Rebuilt()
    for record, institution, practitioner in rows:
        penalty = penalty_details(record.details)
        window = publication_window(record, penalty, policy)
        if window is None or now < window.published_at:
            built.withdrawn.append(penalty_record_id(record.chain_id))
            continue
        staged = _penalty_record(record, penalty, institution, practitioner)
        if now >= window.withdrawn_at:  # revoked, corrected or its period over
            staged = replace(staged, action=SyncAction.WITHDRAW)
        built.staged.append(staged)
    return built


async def _stage_rebuilt(session: AsyncSession, now: datetime, built: Rebuilt) -> None:
    await stage(session, now, built.staged)
    await stage_withdrawn(session, now, built.withdrawn)


async def rebuild(session: AsyncSession, ctx: CommandContext, record_ids: Iterable[str]) -> Rebuilt:
    """These records as their sources say they should be now (a record whose source is
    gone is left out: there is nothing to rebuild it from)."""
    sources = (
        await session.execute(
            sa.select(col(SyncRecord.record_type), col(SyncRecord.source_id)).where(
                col(SyncRecord.record_id).in_(list(record_ids))
            )
        )
    ).all()
    entry_ids = [source for kind, source in sources if kind != "penalty"]
    chain_ids = [source for kind, source in sources if kind == "penalty"]
    built = Rebuilt()
    if entry_ids:
        rows = await session.execute(
            sa.select(ListEntry).where(
                col(ListEntry.id).in_(entry_ids), col(ListEntry.published_at).is_not(None)
            )
        )
        built.staged.extend(await list_entry_records(session, list(rows.scalars())))
    if chain_ids:
        latest = await session.execute(
            sa.select(col(Record.id))
            .where(col(Record.chain_id).in_(chain_ids), col(Record.status) != "draft")
            .order_by(col(Record.chain_id), col(Record.confirmed_at).desc())
            .ext(distinct_on(col(Record.chain_id)))
        )
        built.extend(await _penalty_records(session, ctx, list(latest.scalars())))
    return built


async def restage(session: AsyncSession, ctx: CommandContext, record_ids: Iterable[str]) -> None:
    """Build these records again from their sources (a subject renamed, a source an
    operator corrected): a record whose content changed gets a new version and goes out."""
    ids = list(dict.fromkeys(record_ids))
    if ids:
        await _stage_rebuilt(session, ctx.now(), await rebuild(session, ctx, ids))


async def stale_here(
    session: AsyncSession, ctx: CommandContext, record_ids: Sequence[str]
) -> list[str]:
    """Those of these records whose source says something else than ``sync_records``
    holds (a change that was not staged): what ``restage`` would give a new version."""
    built = await rebuild(session, ctx, record_ids)
    held = {
        row.record_id: row
        for row in await session.execute(
            sa.select(col(SyncRecord.record_id), col(SyncRecord.action), col(SyncRecord.body))
            .where(col(SyncRecord.record_id).in_(list(record_ids)))
        )
    }  # fmt: skip
    stale = {
        item.record_id
        for item in built.staged
        if (row := held.get(item.record_id)) is not None
        and (row.action != item.action.value or row.body != _as_stored(item.body))
    }
    stale.update(
        record_id
        for record_id in built.withdrawn
        if (row := held.get(record_id)) is not None and row.action == SyncAction.PUBLISH.value
    )
    return sorted(stale)


def _as_stored(body: dict[str, Any]) -> Any:
    """The body as it reads back from its JSONB column."""
    return msgspec.json.decode(msgspec.json.encode(body))


async def bump(session: AsyncSession, now: datetime, record_ids: Iterable[str]) -> int:
    """A new version of these records with the same content, for every platform taking
    them: for a platform that holds other content at our version (it would answer
    ``duplicate`` to the same version sent again)."""
    return await _next_versions(session, now, record_ids)


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
