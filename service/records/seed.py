"""Loading generated demo records, confirmed, for a seeded demo province."""

from __future__ import annotations

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.context import CommandContext
from service.errors import FieldError
from service.records.demo_records import DemoRecord
from service.records.kinds import RecordStatus
from service.records.models import Deficiency, Record
from service.records.rules import check_record
from service.records.schemas import RecordIn
from service.records.service import Subjects, build_record
from service.registry.seed import SeededRegistry


class DemoRecordError(ValueError):
    """A generated record broke a rule: a bug in the generator, not in the data."""


async def insert_demo_records(
    session: AsyncSession, ctx: CommandContext, registry: SeededRegistry, demo: list[DemoRecord]
) -> int:
    """Store the records as drafts, then confirm them all, as an inspector would."""
    records: list[Record] = []
    deficiencies: list[Deficiency] = []
    for item in demo:
        institution = (
            registry.institutions[item.institution_index]
            if item.institution_index is not None
            else None
        )
        practitioner = (
            registry.practitioners[item.practitioner_index]
            if item.practitioner_index is not None
            else None
        )
        data = {
            **item.body,
            "institution_id": str(institution.id) if institution else None,
            "practitioner_id": str(practitioner.id) if practitioner else None,
        }
        body = msgspec.convert(data, RecordIn)
        errors: list[FieldError] = check_record(body, ctx.today())
        if errors:
            raise DemoRecordError(f"generated record breaks {errors}")
        record, rows = build_record(body, Subjects(institution, practitioner), ctx)
        records.append(record)
        deficiencies.extend(rows)
    await session.execute(sa.insert(Record), [record.model_dump() for record in records])
    if deficiencies:
        await session.execute(sa.insert(Deficiency), [row.model_dump() for row in deficiencies])
    now = ctx.now()
    await session.execute(
        sa.update(Record)
        .where(col(Record.status) == RecordStatus.DRAFT)
        .values(status=RecordStatus.CONFIRMED.value, confirmed_at=now, version=Record.version + 1)
    )
    return len(records)
