"""Verifying the audit chain on an admin's request, and the last verification's result.

The result is kept in the chain itself, as the audit row of the verification: its action
says the outcome (``audit.verify.intact`` or ``audit.verify.broken``) and its target id
the count of rows checked or the first broken row. So no new table, and the record of
who verified when is as tamper-evident as what it vouches for.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from service.actor import Role
from service.audit import chain as audit
from service.audit.chain import ChainReport, SealSigner, verify
from service.audit.models import AuditEntry
from service.context import CommandContext

INTACT = "audit.verify.intact"
BROKEN = "audit.verify.broken"


@dataclass(frozen=True, slots=True)
class Verification:
    verified_at: datetime
    actor_role: str
    intact: bool
    rows_checked: int | None  # when intact
    first_broken_id: int | None  # when broken


async def verify_and_record(
    session: AsyncSession, ctx: CommandContext, signer: SealSigner
) -> ChainReport:
    """Seal what waits, walk the whole chain (in the caller's transaction) and seal the
    outcome into it too, so the verification covers every committed row and is itself
    in the chain when the caller commits."""
    ctx.actor.require_role(Role.ADMIN)
    connection = await session.connection()
    await _seal_unless_tampered(connection, signer)
    report = await verify(connection, signer.keys)
    await audit.record(
        session,
        ctx,
        action=INTACT if report.intact else BROKEN,
        target_type="audit_chain",
        target_id=report.rows_checked if report.intact else report.first_broken_id,
        after={"rows_checked": report.rows_checked, "problem": report.problem},
    )
    await audit.queue_now(session)
    await _seal_unless_tampered(connection, signer)
    return report


async def _seal_unless_tampered(connection: AsyncConnection, signer: SealSigner) -> None:
    """Seal, unless the head is one no sealer signed: the walk names that row, and what
    waits (this outcome too) stays queued, committed, until an admin has dealt with it."""
    with contextlib.suppress(audit.ChainTampered):
        await audit.seal(connection, signer)


async def last_verification(session: AsyncSession, ctx: CommandContext) -> Verification | None:
    ctx.actor.require_role(Role.ADMIN)
    row = await session.scalar(
        sa.select(AuditEntry)
        .where(col(AuditEntry.action).in_([INTACT, BROKEN]))
        .order_by(col(AuditEntry.id).desc())
        .limit(1)
    )
    if row is None:
        return None
    intact = row.action == INTACT
    number = int(row.target_id) if row.target_id.isdigit() else None
    return Verification(
        verified_at=row.occurred_at,
        actor_role=row.actor_role,
        intact=intact,
        rows_checked=number if intact else None,
        first_broken_id=None if intact else number,
    )
