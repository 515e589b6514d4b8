"""Loading the facts the pure engine reads: a subject's confirmed records and deficiencies."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.credit.bulk import SubjectKey
from service.credit.engine import DeficiencyFact, Fact
from service.facts.kinds import RecordStatus, SubjectKind
from service.records.models import Deficiency, Record


def _fact(record: Record, deficiencies: list[Deficiency]) -> Fact:
    assert record.confirmed_at is not None
    ended = [moment for moment in (record.superseded_at, record.revoked_at) if moment is not None]
    return Fact(
        record_id=record.id,
        kind=record.kind,
        occurred_on=record.occurred_on,
        confirmed_at=record.confirmed_at,
        ended_at=min(ended) if ended else None,
        details=record.details,
        deficiencies=tuple(
            DeficiencyFact(
                id=d.id,
                severity=d.severity,
                scope=d.scope,
                rectification_deadline=d.rectification_deadline,
                rectified_on=d.rectified_on,
                rectification_recorded_at=d.rectification_recorded_at,
            )
            for d in deficiencies
        ),
    )


async def facts_of(
    session: AsyncSession, keys: Sequence[SubjectKey]
) -> dict[SubjectKey, list[Fact]]:
    """Every confirmed record ever naming each subject (the engine decides what counts when)."""
    institutions = [i for kind, i in keys if kind == SubjectKind.INSTITUTION]
    practitioners = [i for kind, i in keys if kind == SubjectKind.PRACTITIONER]
    records = list(
        (
            await session.execute(
                sa.select(Record).where(
                    col(Record.status) != RecordStatus.DRAFT,
                    sa.or_(
                        col(Record.institution_id).in_(institutions),
                        col(Record.practitioner_id).in_(practitioners),
                    ),
                )
            )
        ).scalars()
    )
    deficiencies: dict[uuid.UUID, list[Deficiency]] = defaultdict(list)
    inspection_ids = [record.id for record in records if record.kind == "inspection"]
    if inspection_ids:
        rows = await session.execute(
            sa.select(Deficiency)
            .where(col(Deficiency.record_id).in_(inspection_ids))
            .order_by(col(Deficiency.position))
        )
        for deficiency in rows.scalars():
            deficiencies[deficiency.record_id].append(deficiency)
    found: dict[SubjectKey, list[Fact]] = {key: [] for key in keys}
    for record in records:
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
