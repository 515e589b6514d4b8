"""Loading generated demo records, confirmed, for a seeded demo province."""

from __future__ import annotations

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.demo.records import DemoRecord
from service.demo.registry import SeededRegistry
from service.records.rules import check_record
from service.records.schemas import RecordIn
from service.records.service import Subjects, store_batch


class DemoRecordError(ValueError):
    """A generated record broke a rule: a bug in the generator, not in the data."""


async def insert_demo_records(
    session: AsyncSession, ctx: CommandContext, registry: SeededRegistry, demo: list[DemoRecord]
) -> int:
    """Store the records confirmed, through the same path as a spreadsheet import."""
    items = []
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
        if errors := check_record(body, ctx.today()):
            raise DemoRecordError(f"generated record breaks {errors}")
        items.append((body, Subjects(institution, practitioner)))
    return len(await store_batch(session, ctx, items, confirm=True, action="demo.record"))
