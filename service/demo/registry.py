"""Loading a generated demo province into the registry tables."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.context import CommandContext
from service.demo.province import DemoProvince
from service.identity.protection import IdNumberVault
from service.registry.models import Employment, Institution, Practitioner


@dataclass(frozen=True, slots=True)
class SeededRegistry:
    """The inserted rows, in the province's order, so later seeders can point at them."""

    institutions: list[Institution]
    practitioners: list[Practitioner]
    employments: list[Employment]


async def registry_is_empty(session: AsyncSession) -> bool:
    result = await session.execute(sa.select(col(Institution.id)).limit(1))
    return result.first() is None


async def insert_demo_registry(
    session: AsyncSession, ctx: CommandContext, province: DemoProvince, vault: IdNumberVault
) -> SeededRegistry:
    now = ctx.now()
    institution_rows = [
        # A demo institution is the registry's columns for one, nothing more.
        Institution(**asdict(item), created_at=now, updated_at=now)
        for item in province.institutions
    ]
    practitioner_rows = []
    for person in province.practitioners:
        protected = vault.protect(person.id_number)
        practitioner_rows.append(
            Practitioner(
                name=person.name,
                id_number_hash=protected.lookup_hash,
                id_number_masked=protected.masked,
                id_number_encrypted=protected.ciphertext,
                region_code=person.region_code,
                certificate_no=person.certificate_no,
                skill_level=person.skill_level,
                created_at=now,
                updated_at=now,
            )
        )
    employment_rows = [
        Employment(
            institution_id=institution_rows[link.institution_index].id,
            practitioner_id=practitioner_rows[link.practitioner_index].id,
            role=link.role,
            start_date=link.start_date,
            end_date=link.end_date,
            created_at=now,
            updated_at=now,
        )
        for link in province.employments
    ]
    for model, rows in (
        (Institution, institution_rows),
        (Practitioner, practitioner_rows),
        (Employment, employment_rows),
    ):
        await session.execute(sa.insert(model), [row.model_dump() for row in rows])
    return SeededRegistry(institution_rows, practitioner_rows, employment_rows)
