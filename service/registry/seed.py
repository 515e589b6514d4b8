"""Loading the synthetic demo province into the registry."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.audit import chain as audit
from service.context import system_context
from service.registry.demo_data import generate_demo_province
from service.registry.models import Employment, Institution, Practitioner
from service.registry.protection import IdNumberVault


async def registry_is_empty(session: AsyncSession) -> bool:
    result = await session.execute(sa.select(col(Institution.id)).limit(1))
    return result.first() is None


async def seed_demo_province(
    session: AsyncSession,
    *,
    seed: int,
    secret_key: str,
    if_empty: bool = False,
    institutions: int = 300,
    practitioners: int = 3000,
) -> str:
    """Insert one generated province in one transaction; returns what it did."""
    async with session.begin():
        if if_empty and not await registry_is_empty(session):
            return "registry not empty: demo data not loaded"
        province = generate_demo_province(
            seed, institutions=institutions, practitioners=practitioners
        )
        vault = IdNumberVault(secret_key)
        ctx = system_context()
        now = ctx.now()
        institution_rows = [
            Institution(
                name=item.name,
                uscc=item.uscc,
                region_code=item.region_code,
                kind=item.kind,
                beds=item.beds,
                address=item.address,
                status=item.status,
                created_at=now,
                updated_at=now,
            )
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
        summary = {
            "seed": seed,
            "institutions": len(institution_rows),
            "practitioners": len(practitioner_rows),
            "employments": len(employment_rows),
        }
        await audit.record(
            session,
            ctx,
            action="demo.seed",
            target_type="registry",
            target_id=f"demo-seed-{seed}",
            after=summary,
        )
    return (
        f"demo province loaded (seed {seed}): {summary['institutions']} institutions, "
        f"{summary['practitioners']} practitioners, {summary['employments']} employment links"
    )
