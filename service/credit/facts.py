"""Loading the facts the pure engine reads: a subject's confirmed records and deficiencies."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.credit.bulk import SubjectKey
from service.credit.engine import DeficiencyFact, Fact
from service.facts.kinds import RecordStatus, SubjectKind
from service.records.models import Deficiency, Record

# Plain columns, not models: rows come straight from the database, so a record changed
# earlier in the same transaction is read as it now is, and thousands cost no objects.
_RECORD_COLUMNS = (
    col(Record.id),
    col(Record.kind),
    col(Record.occurred_on),
    col(Record.confirmed_at),
    col(Record.superseded_at),
    col(Record.revoked_at),
    col(Record.details),
    col(Record.institution_id),
    col(Record.practitioner_id),
)
_DEFICIENCY_COLUMNS: tuple[Any, ...] = (
    col(Deficiency.id).label("deficiency_id"),
    col(Deficiency.severity),
    col(Deficiency.scope),
    col(Deficiency.rectification_deadline),
    col(Deficiency.rectified_on),
    col(Deficiency.rectification_recorded_at),
)


def _fact(record: Any, deficiencies: list[DeficiencyFact]) -> Fact:
    ended = [moment for moment in (record.superseded_at, record.revoked_at) if moment is not None]
    return Fact(
        record_id=record.id,
        kind=record.kind,
        occurred_on=record.occurred_on,
        confirmed_at=record.confirmed_at,
        ended_at=min(ended) if ended else None,
        details=record.details,
        deficiencies=tuple(deficiencies),
    )


async def facts_of(
    session: AsyncSession, keys: Sequence[SubjectKey], *, occurred_after: date | None = None
) -> dict[SubjectKey, list[Fact]]:
    """Every confirmed record naming each subject (the engine decides what counts when);
    with ``occurred_after``, only those that happened after that day."""
    institutions = [i for kind, i in keys if kind == SubjectKind.INSTITUTION]
    practitioners = [i for kind, i in keys if kind == SubjectKind.PRACTITIONER]
    # One statement: each record with its deficiencies (an inspection once per deficiency).
    query = (
        sa.select(*_RECORD_COLUMNS, *_DEFICIENCY_COLUMNS)
        .outerjoin(Deficiency, col(Deficiency.record_id) == col(Record.id))
        .where(
            col(Record.status) != RecordStatus.DRAFT,
            sa.or_(
                col(Record.institution_id).in_(institutions),
                col(Record.practitioner_id).in_(practitioners),
            ),
        )
        .order_by(col(Record.id), col(Deficiency.position))
    )
    if occurred_after is not None:
        query = query.where(col(Record.occurred_on) > occurred_after)
    records: dict[uuid.UUID, Any] = {}
    deficiencies: dict[uuid.UUID, list[DeficiencyFact]] = defaultdict(list)
    for row in await session.execute(query):
        records.setdefault(row.id, row)
        if row.deficiency_id is not None:
            deficiencies[row.id].append(
                DeficiencyFact(
                    id=row.deficiency_id,
                    severity=row.severity,
                    scope=row.scope,
                    rectification_deadline=row.rectification_deadline,
                    rectified_on=row.rectified_on,
                    rectification_recorded_at=row.rectification_recorded_at,
                )
            )
    found: dict[SubjectKey, list[Fact]] = {key: [] for key in keys}
    for record in records.values():
        fact = _fact(record, deficiencies[record.id])
        named: list[SubjectKey] = []
        if record.institution_id is not None:
            named.append((SubjectKind.INSTITUTION.value, record.institution_id))
        if record.practitioner_id is not None:
            named.append((SubjectKind.PRACTITIONER.value, record.practitioner_id))
        for key in named:
            if key in found:
                found[key].append(fact)
    return found
