"""The demo dataset `make run` starts with: a generated province and its records."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.audit import chain as audit
from service.demo.lists import publish_demo_lists
from service.demo.province import generate_demo_province
from service.demo.record_rows import insert_demo_records
from service.demo.records import generate_demo_records
from service.demo.registry import insert_demo_registry, registry_is_empty
from service.identity.protection import IdNumberVault
from service.public.readmodel import rebuild as rebuild_public_view
from service.secret import Secret
from service.wiring import system_context


async def seed_demo(
    session: AsyncSession,
    *,
    seed: int,
    secret_key: Secret,
    if_empty: bool = False,
    institutions: int = 300,
    practitioners: int = 3000,
) -> str:
    """Insert one generated province and its records in one transaction; say what it did."""
    async with session.begin():
        if if_empty and not await registry_is_empty(session):
            return "registry not empty: demo data not loaded"
        province = generate_demo_province(
            seed, institutions=institutions, practitioners=practitioners
        )
        ctx = system_context()
        registry = await insert_demo_registry(session, ctx, province, IdNumberVault(secret_key))
        records = await insert_demo_records(
            session, ctx, registry, generate_demo_records(seed, province)
        )
        listed = await publish_demo_lists(session, ctx)
        await rebuild_public_view(session, ctx)
        summary = {
            "seed": seed,
            "institutions": len(registry.institutions),
            "practitioners": len(registry.practitioners),
            "employments": len(registry.employments),
            "records": records,
            "list_entries": listed,
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
        f"{summary['practitioners']} practitioners, {summary['employments']} employment links, "
        f"{summary['records']} confirmed records, {listed} published list entries"
    )
