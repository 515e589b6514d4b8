"""Keeping the public read model current, in the transactions that change what it shows.

Subscribers refresh the rows of the institutions and list entries an event touches;
a daily job rebuilds everything, for what changes with time alone (a penalty's
publication ending, a star rating running out, scores the nightly recompute moved).
Every refresh ends with ``NOTIFY public_changed``: PostgreSQL delivers it when the
transaction commits, and every service process then drops its cached answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.context import CommandContext
from service.credit.events import StarRatingRecorded
from service.credit.models import CreditScore
from service.facts.details import PenaltyDetails, commendation_details, penalty_details
from service.facts.kinds import RecordKind, RecordStatus
from service.identity.protection import mask_name
from service.listing.events import ListEntryChanged
from service.listing.machine import DISCLOSING
from service.listing.models import ListEntry
from service.policy.document import ListType, Policy
from service.policy.events import PolicyInstalled
from service.policy.store import policy_now
from service.public.models import PublicInstitution, PublicListEntry
from service.records.disclosure import disclosed_now
from service.records.events import RecordEvent
from service.records.models import Record
from service.registry.events import SubjectChanged
from service.registry.models import Institution, Practitioner
from service.registry.service import subjects_by_id
from service.standing.lists import lists_in_force
from service.standing.stars import effective_stars, levels_in_force

CHANNEL = "public_changed"
REBUILD_BATCH = 2000


async def notify_changed(session: AsyncSession) -> None:
    """Tell every process to drop cached public answers, once this transaction commits."""
    await session.execute(sa.select(sa.func.pg_notify(CHANNEL, "")))


def _measures(policy: Policy, list_type: str) -> list[dict[str, str]]:
    return [
        {"code": m.code, "zh": m.zh, "en": m.en, "basis": m.basis}
        for m in policy.measures_of([list_type])
    ]


def _penalty(record: Record, penalty: PenaltyDetails) -> dict[str, Any]:
    return {
        "decision_no": record.document_no,
        "decision_date": record.occurred_on.isoformat(),
        "violation_type": penalty.violation_type,
        "penalty_kinds": [kind.value for kind in penalty.penalty_kinds],
        "content": penalty.content,
        "fine_amount": None if penalty.fine_amount is None else str(penalty.fine_amount),
        "legal_basis": record.legal_basis,
        "authority_name": penalty.authority_name,
        "publication_end_date": penalty.publication_ends_on.isoformat(),
    }


def _commendation(record: Record) -> dict[str, Any]:
    commendation = commendation_details(record.details)
    return {
        "title": commendation.title,
        "awarding_body": commendation.awarding_body,
        "level": commendation.level.value,
        "date": record.occurred_on.isoformat(),
    }


async def refresh_institutions(
    session: AsyncSession, ctx: CommandContext, institution_ids: Iterable[uuid.UUID]
) -> int:
    """Recompute the public answer of these institutions, as of now."""
    ids = list(dict.fromkeys(institution_ids))
    if not ids:
        return 0
    now = ctx.now()
    moment = ctx.moment()
    policy = await policy_now(session, ctx)
    institutions = (
        await session.execute(sa.select(Institution).where(col(Institution.id).in_(ids)))
    ).scalars()
    scores = {
        row.subject_id: row
        for row in (
            await session.execute(
                sa.select(CreditScore).where(
                    col(CreditScore.subject_kind) == "institution",
                    col(CreditScore.subject_id).in_(ids),
                )
            )
        ).scalars()
    }
    levels = await levels_in_force(session, ids, moment)
    listed = await lists_in_force(session, [("institution", i) for i in ids], moment)
    shown_records: dict[uuid.UUID, list[Record]] = {}
    for record in (
        await session.execute(
            sa.select(Record)
            .where(
                col(Record.institution_id).in_(ids),
                col(Record.kind).in_([RecordKind.PENALTY, RecordKind.COMMENDATION]),
                col(Record.status) == RecordStatus.CONFIRMED,
            )
            .order_by(col(Record.occurred_on).desc())
        )
    ).scalars():
        assert record.institution_id is not None
        shown_records.setdefault(record.institution_id, []).append(record)
    rows = []
    for institution in institutions:
        rows.append(
            _institution_row(
                institution,
                scores.get(institution.id),
                levels.get(institution.id),
                listed.get(("institution", institution.id), []),
                shown_records.get(institution.id, []),
                policy,
                now,
            )
        )
    if rows:
        statement = insert(PublicInstitution).values(rows)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["institution_id"],
                set_={
                    name: statement.excluded[name] for name in rows[0] if name != "institution_id"
                },
            )
        )
        await notify_changed(session)
    return len(rows)


def _institution_row(
    institution: Institution,
    score: CreditScore | None,
    level: int | None,
    listed: Sequence[Any],
    records: Sequence[Record],
    policy: Policy,
    now: datetime,
) -> dict[str, Any]:
    grade = score.grade if score else None
    stars = effective_stars(level, grade or "", [entry.list_type for entry in listed], policy)
    penalties, commendations, changed = [], [], [institution.updated_at]
    for record in records:
        if record.kind == RecordKind.COMMENDATION:
            commendations.append(_commendation(record))
        else:
            penalty = penalty_details(record.details)
            if disclosed_now(record, penalty, policy, now) is None:
                continue
            penalties.append(_penalty(record, penalty))
        if record.confirmed_at:
            changed.append(record.confirmed_at)
    if score is not None:
        changed.append(score.computed_at)
    document = {
        "uscc": institution.uscc,
        "name": institution.name,
        "region_code": institution.region_code,
        "kind": institution.kind,
        "status": institution.status,
        "beds": institution.beds,
        "credit": {
            "grade": grade,
            "policy_version": score.policy_version if score else None,
            "scored_as_of": score.as_of.isoformat() if score else None,
        },
        "stars": {
            "effective": stars.effective,
            "assessed": stars.assessed,
            "suspended": stars.suspended,
            "capped": stars.capped,
        },
        "lists": [
            {
                "list_type": entry.list_type,
                "reason_code": entry.reason_code,
                "effective_from": entry.effective_from.isoformat()
                if entry.effective_from
                else None,
                "effective_to": entry.effective_to.isoformat() if entry.effective_to else None,
                "measures": _measures(policy, entry.list_type),
            }
            for entry in listed
        ],
        "penalties": penalties,
        "commendations": commendations,
    }
    return {
        "institution_id": institution.id,
        "uscc": institution.uscc,
        "name": institution.name,
        "region_code": institution.region_code,
        "document": document,
        "computed_at": now,
        "data_updated_at": max(changed),
    }


async def refresh_list_entries(
    session: AsyncSession, ctx: CommandContext, entry_ids: Iterable[uuid.UUID]
) -> int:
    """Bring the public rows of these entries up to date (published ones only).

    A practitioner is public only while on a published black list: their other
    entries are never shown, and once a black-list entry ends its row keeps the dates
    but no longer the name or the ID number.
    """
    ids = list(dict.fromkeys(entry_ids))
    if not ids:
        return 0
    entries = list(
        (
            await session.execute(
                sa.select(ListEntry).where(
                    col(ListEntry.id).in_(ids), col(ListEntry.published_at).is_not(None)
                )
            )
        ).scalars()
    )
    institutions, practitioners = await subjects_by_id(
        session,
        [e.subject_id for e in entries if e.subject_kind == "institution"],
        [e.subject_id for e in entries if e.subject_kind == "practitioner"],
    )
    rows = []
    for entry in entries:
        row = _entry_row(
            entry, institutions.get(entry.subject_id), practitioners.get(entry.subject_id)
        )
        if row is not None:
            rows.append(row)
    if rows:
        statement = insert(PublicListEntry).values(rows)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["entry_id"],
                set_={name: statement.excluded[name] for name in rows[0] if name != "entry_id"},
            )
        )
        await notify_changed(session)
    return len(rows)


def _entry_row(
    entry: ListEntry, institution: Institution | None, practitioner: Practitioner | None
) -> dict[str, Any] | None:
    assert entry.published_at is not None
    name, uscc, masked = "", None, None
    if institution is not None:
        name, uscc = institution.name, institution.uscc
    elif practitioner is not None:
        if entry.list_type != ListType.BLACK:
            return None  # only the black list names people
        if entry.ended_at is None:
            name, masked = mask_name(practitioner.name), practitioner.id_number_masked
    else:
        return None
    return {
        "entry_id": entry.id,
        "list_type": entry.list_type,
        "subject_kind": entry.subject_kind,
        "subject_name": name,
        "uscc": uscc,
        "id_number_masked": masked,
        "region_code": entry.region_code,
        "reason_code": entry.reason_code,
        "effective_from": entry.effective_from,
        "effective_to": entry.effective_to,
        "published_at": entry.published_at,
        "ended_at": entry.ended_at,
        "end_reason": entry.end_reason,
        "changed_at": entry.ended_at or entry.published_at,
    }


async def rebuild(session: AsyncSession, ctx: CommandContext) -> int:
    """Every institution and every published entry, in batches (the daily job)."""
    done = 0
    last: uuid.UUID | None = None
    while True:
        query = sa.select(col(Institution.id)).order_by(col(Institution.id)).limit(REBUILD_BATCH)
        if last is not None:
            query = query.where(col(Institution.id) > last)
        batch = list((await session.execute(query)).scalars())
        if not batch:
            break
        done += await refresh_institutions(session, ctx, batch)
        last = batch[-1]
    entries = (
        await session.execute(
            sa.select(col(ListEntry.id)).where(col(ListEntry.published_at).is_not(None))
        )
    ).scalars()
    await refresh_list_entries(session, ctx, list(entries))
    return done


async def public_view_missing(session: AsyncSession) -> bool:
    """Institutions exist but none has a public row (a database from before this view)."""
    found = await session.execute(
        sa.text(
            "SELECT EXISTS (SELECT 1 FROM institutions)"
            " AND NOT EXISTS (SELECT 1 FROM public_institutions)"
        )
    )
    return bool(found.scalar())


# Subscribers (wired in service.subscribers)


async def on_records(
    session: AsyncSession, ctx: CommandContext, events: Sequence[RecordEvent]
) -> None:
    ids = {subject_id for e in events for kind, subject_id in e.subjects if kind == "institution"}
    await refresh_institutions(session, ctx, ids)


async def on_list_entries(
    session: AsyncSession, ctx: CommandContext, events: Sequence[ListEntryChanged]
) -> None:
    """Only publication and its end change what the public sees."""
    shown = [e for e in events if e.action in DISCLOSING]
    await refresh_list_entries(session, ctx, [e.entry_id for e in shown])
    await refresh_institutions(
        session, ctx, [e.subject_id for e in shown if e.subject_kind == "institution"]
    )


async def on_subjects(
    session: AsyncSession, ctx: CommandContext, events: Sequence[SubjectChanged]
) -> None:
    await refresh_institutions(
        session, ctx, [e.subject_id for e in events if e.subject_kind == "institution"]
    )
    people = [e.subject_id for e in events if e.subject_kind == "practitioner"]
    if people:
        entries = await session.execute(
            sa.select(col(ListEntry.id)).where(col(ListEntry.subject_id).in_(people))
        )
        await refresh_list_entries(session, ctx, list(entries.scalars()))


async def on_policy_installed(
    session: AsyncSession, ctx: CommandContext, events: Sequence[PolicyInstalled]
) -> None:
    """Cached pages name reasons by the policy's titles: drop them when a version arrives."""
    await notify_changed(session)


async def on_star_ratings(
    session: AsyncSession, ctx: CommandContext, events: Sequence[StarRatingRecorded]
) -> None:
    await refresh_institutions(session, ctx, [e.institution_id for e in events])
