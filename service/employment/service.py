"""Employment links: who works where, from when to when.

Hiring is where the registry meets the lists: a practitioner on a published black list
may not be employed in care (民发〔2019〕103号), so the command itself refuses it, unless
a reviewer or an admin of the institution's region overrides it with a reason. Links
follow the institution's region: hiring someone registered elsewhere is normal.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.actor import RECORDING_ROLES, STAFF_ROLES, SYSTEM_ROLE, Role
from service.audit import chain as audit
from service.context import CommandContext
from service.db.rows import check_version, get_or_404, lock_or_404
from service.employment.schemas import EmploymentCreate, EmploymentUpdate
from service.errors import Conflict, FieldError, Invalid
from service.registry.models import Employment, Institution, Practitioner
from service.registry.schemas import changes_of
from service.registry.service import get_institution, get_practitioner, save_update
from service.standing.barred import black_list_entry

# Who may employ a black-listed practitioner anyway (override_reason), in the
# institution's region: a second person above the inspector who records employments.
OVERRIDERS = (Role.REVIEWER, Role.ADMIN)


async def create_employment(
    session: AsyncSession, ctx: CommandContext, data: EmploymentCreate
) -> Employment:
    # Overriding a bar on employment is a reviewer's (or an admin's) decision, with its
    # reason; a reason where there is no bar to override is refused below.
    ctx.actor.require_role(*(STAFF_ROLES if data.override_reason else RECORDING_ROLES))
    institution = await get_or_404(session, Institution, data.institution_id, "institution")
    ctx.actor.require_region(institution.region_code)
    if data.override_reason and ctx.actor.role not in (*OVERRIDERS, SYSTEM_ROLE):
        raise Invalid.field(
            "override_reason",
            f"only a reviewer or an admin may override a bar on employment, not {ctx.actor.role}",
        )
    await get_or_404(session, Practitioner, data.practitioner_id, "practitioner")
    if data.end_date is not None and data.end_date < data.start_date:
        raise Invalid.field("end_date", "must not be before start_date")
    overlapping = await session.execute(
        sa.select(col(Employment.id)).where(
            col(Employment.institution_id) == data.institution_id,
            col(Employment.practitioner_id) == data.practitioner_id,
            col(Employment.end_date).is_(None),
        )
    )
    if data.end_date is None and overlapping.first() is not None:
        raise Conflict(
            "this practitioner already has a current employment at this institution",
            errors=[FieldError("practitioner_id", "already employed here")],
        )
    await refuse_barred(session, ctx, data.practitioner_id, data.override_reason)
    employment = Employment(
        institution_id=data.institution_id,
        practitioner_id=data.practitioner_id,
        role=data.role.value,
        start_date=data.start_date,
        end_date=data.end_date,
        override_reason=data.override_reason.strip() if data.override_reason else None,
        override_by=ctx.actor.user_id if data.override_reason else None,
        created_at=ctx.now(),
        updated_at=ctx.now(),
    )
    await audit.record_creation(
        session,
        ctx,
        employment,
        action="employment.create",
        target_type="employment",
        target_id=employment.id,
    )
    return employment


async def list_employments(
    session: AsyncSession,
    ctx: CommandContext,
    *,
    institution_id: uuid.UUID | None = None,
    practitioner_id: uuid.UUID | None = None,
    current_only: bool = False,
) -> list[Employment]:
    if institution_id is not None:
        await get_institution(session, ctx, institution_id)
    if practitioner_id is not None:
        await get_practitioner(session, ctx, practitioner_id)
    query = sa.select(Employment)
    if institution_id is not None:
        query = query.where(col(Employment.institution_id) == institution_id)
    if practitioner_id is not None:
        query = query.where(col(Employment.practitioner_id) == practitioner_id)
    if current_only:
        query = query.where(col(Employment.end_date).is_(None))
    result = await session.execute(query.order_by(col(Employment.start_date), col(Employment.id)))
    return list(result.scalars())


async def update_employment(
    session: AsyncSession,
    ctx: CommandContext,
    employment_id: uuid.UUID,
    update: EmploymentUpdate,
    expected_version: int,
) -> Employment:
    ctx.actor.require_role(*RECORDING_ROLES)
    employment = await lock_or_404(session, Employment, employment_id, "employment")
    institution = await get_or_404(session, Institution, employment.institution_id, "institution")
    ctx.actor.require_region(institution.region_code)
    check_version(employment, expected_version)
    changes = changes_of(update)
    end_date = changes.get("end_date", employment.end_date)
    if end_date is not None and end_date < employment.start_date:  # type: ignore[operator]
        raise Invalid.field("end_date", "must not be before start_date")
    return await save_update(
        session, ctx, employment, changes, action="employment.update", target_type="employment"
    )


async def refuse_barred(
    session: AsyncSession,
    ctx: CommandContext,
    practitioner_id: uuid.UUID,
    override_reason: str | None,
) -> None:
    """A practitioner on a published black list may not be employed in care, unless a
    reviewer or an admin overrides it with a reason; a reason needs a bar to override."""
    entry = await black_list_entry(session, practitioner_id, ctx.moment())
    if override_reason and entry is None:
        raise Invalid.field(
            "override_reason",
            "only for a practitioner on a published black list; this one is not on it",
        )
    if entry is not None and not override_reason:
        raise Conflict(
            f"the practitioner is on the black list (entry {entry.id}, in force until "
            f"{entry.effective_to}) and may not be employed in care; a reviewer or an admin "
            "of the region may override this with an override_reason",
            errors=[FieldError("practitioner_id", "on a published black list")],
        )
