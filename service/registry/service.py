"""Registry rules: who may register what, codes validated, changes locked and audited."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from functools import partial
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from service.actor import RECORDING_ROLES, STAFF_ROLES, Actor
from service.audit import chain as audit
from service.context import CommandContext
from service.db.like import contains
from service.db.paging import Listing, fetch_page
from service.db.rows import check_version, get_or_404, lock_or_404
from service.errors import Conflict, FieldError
from service.identity.codes import (
    IdentifierError,
    normalize_id_number,
    normalize_region_code,
    normalize_region_prefix,
    normalize_uscc,
)
from service.identity.protection import IdNumberVault
from service.registry.events import SubjectChanged
from service.registry.models import Employment, Institution, Practitioner
from service.registry.schemas import (
    InstitutionCreate,
    InstitutionUpdate,
    PractitionerCreate,
    PractitionerUpdate,
    changes_of,
)
from service.validation import checked, not_blank

Row = TypeVar("Row", Institution, Practitioner, Employment)  # what save_update changes
Subject = TypeVar("Subject", Institution, Practitioner)


def _unique_violation(error: IntegrityError) -> str | None:
    """The name of the unique constraint a flush broke, if that is what happened."""
    cause = getattr(error.orig, "__cause__", None)
    if getattr(cause, "sqlstate", None) == "23505":
        return str(getattr(cause, "constraint_name", "") or "")
    return None


async def _insert(session: AsyncSession, row: SQLModel, conflict: Conflict) -> None:
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as error:
        # Two clients registering the same code at once: the database decides, once.
        if _unique_violation(error) is not None:
            raise conflict from error
        raise


async def save_update(
    session: AsyncSession,
    ctx: CommandContext,
    row: Row,
    changes: dict[str, object],
    *,
    action: str,
    target_type: str,
) -> Row:
    before = row.model_dump()
    for name, value in changes.items():
        setattr(row, name, value)
    row.version += 1
    row.updated_at = ctx.now()
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        ctx,
        action=action,
        target_type=target_type,
        target_id=row.id,
        before=before,
        after=row,
    )
    return row


def region_scope(actor: Actor, region: str | None) -> str | None:
    """The region prefix a listing covers: the caller's filter, inside their jurisdiction."""
    if region is None:
        return actor.jurisdiction
    region = checked("region", normalize_region_prefix, region)
    actor.require_region(region)
    return region


# Institutions


async def create_institution(
    session: AsyncSession, ctx: CommandContext, data: InstitutionCreate
) -> Institution:
    ctx.actor.require_role(*RECORDING_ROLES)
    uscc = checked("uscc", normalize_uscc, data.uscc)
    region_code = checked("region_code", normalize_region_code, data.region_code)
    ctx.actor.require_region(region_code)
    institution = Institution(
        name=not_blank("name", data.name),
        uscc=uscc,
        region_code=region_code,
        kind=data.kind.value,
        beds=data.beds,
        address=data.address.strip(),
        status=data.status.value,
        created_at=ctx.now(),
        updated_at=ctx.now(),
    )
    conflict = Conflict(
        f"an institution with USCC {uscc} is already registered",
        errors=[FieldError("uscc", f"{uscc} is already registered")],
    )
    await _insert(session, institution, conflict)
    await audit.record(
        session,
        ctx,
        action="institution.create",
        target_type="institution",
        target_id=institution.id,
        after=institution,
    )
    await ctx.publish(session, [SubjectChanged("institution", institution.id)])
    return institution


async def get_institution(
    session: AsyncSession, ctx: CommandContext, institution_id: uuid.UUID
) -> Institution:
    ctx.actor.require_role(*STAFF_ROLES)
    institution = await get_or_404(session, Institution, institution_id, "institution")
    ctx.actor.require_region(institution.region_code)
    return institution


async def list_institutions(
    session: AsyncSession,
    ctx: CommandContext,
    *,
    region: str | None,
    q: str | None,
    page: int,
    page_size: int,
) -> Listing:
    ctx.actor.require_role(*STAFF_ROLES)
    query = sa.select(Institution)
    scope = region_scope(ctx.actor, region)
    if scope:
        query = query.where(col(Institution.region_code).startswith(scope, autoescape=True))
    if q and q.strip():
        term = q.strip()
        try:
            query = query.where(col(Institution.uscc) == normalize_uscc(term))
        except IdentifierError:
            query = query.where(col(Institution.name).ilike(contains(term)))
    return await fetch_page(
        session, query, [col(Institution.name), col(Institution.id)], page, page_size
    )


async def update_institution(
    session: AsyncSession,
    ctx: CommandContext,
    institution_id: uuid.UUID,
    update: InstitutionUpdate,
    expected_version: int,
) -> Institution:
    return await _update_subject(
        session, ctx, Institution, institution_id, changes_of(update), expected_version
    )


async def _update_subject(
    session: AsyncSession,
    ctx: CommandContext,
    model: type[Subject],
    subject_id: uuid.UUID,
    changes: dict[str, object],
    expected_version: int,
) -> Subject:
    """Change an institution or practitioner: locked, in jurisdiction before and after."""
    ctx.actor.require_role(*RECORDING_ROLES)
    label = model.__tablename__.removesuffix("s")
    subject = await lock_or_404(session, model, subject_id, label)
    ctx.actor.require_region(subject.region_code)
    check_version(subject, expected_version)
    if "name" in changes:
        changes["name"] = not_blank("name", str(changes["name"]))
    if "region_code" in changes:
        region_code = checked("region_code", normalize_region_code, str(changes["region_code"]))
        ctx.actor.require_region(region_code)
        changes["region_code"] = region_code
    saved = await save_update(
        session, ctx, subject, changes, action=f"{label}.update", target_type=label
    )
    await ctx.publish(session, [SubjectChanged(label, saved.id)])
    return saved


# Practitioners


async def create_practitioner(
    session: AsyncSession, ctx: CommandContext, vault: IdNumberVault, data: PractitionerCreate
) -> Practitioner:
    ctx.actor.require_role(*RECORDING_ROLES)
    # Born by today on the request's clock: a test or a replay may pin it.
    by_today = partial(normalize_id_number, today=ctx.today())
    id_number = checked("id_number", by_today, data.id_number)
    region_code = checked("region_code", normalize_region_code, data.region_code)
    ctx.actor.require_region(region_code)
    protected = vault.protect(id_number)
    practitioner = Practitioner(
        name=not_blank("name", data.name),
        id_number_hash=protected.lookup_hash,
        id_number_masked=protected.masked,
        id_number_encrypted=protected.ciphertext,
        region_code=region_code,
        certificate_no=data.certificate_no.strip() if data.certificate_no else None,
        skill_level=data.skill_level.value if data.skill_level else None,
        status=data.status.value,
        created_at=ctx.now(),
        updated_at=ctx.now(),
    )
    conflict = Conflict(
        f"a practitioner with ID number {protected.masked} is already registered",
        errors=[FieldError("id_number", f"{protected.masked} is already registered")],
    )
    await _insert(session, practitioner, conflict)
    await audit.record(
        session,
        ctx,
        action="practitioner.create",
        target_type="practitioner",
        target_id=practitioner.id,
        after=practitioner,
    )
    await ctx.publish(session, [SubjectChanged("practitioner", practitioner.id)])
    return practitioner


async def get_practitioner(
    session: AsyncSession, ctx: CommandContext, practitioner_id: uuid.UUID
) -> Practitioner:
    ctx.actor.require_role(*STAFF_ROLES)
    practitioner = await get_or_404(session, Practitioner, practitioner_id, "practitioner")
    ctx.actor.require_region(practitioner.region_code)
    return practitioner


async def list_practitioners(
    session: AsyncSession,
    ctx: CommandContext,
    vault: IdNumberVault,
    *,
    region: str | None,
    q: str | None,
    page: int,
    page_size: int,
) -> Listing:
    """Search by name, or by a full ID number through its keyed hash."""
    ctx.actor.require_role(*STAFF_ROLES)
    query = sa.select(Practitioner)
    scope = region_scope(ctx.actor, region)
    if scope:
        query = query.where(col(Practitioner.region_code).startswith(scope, autoescape=True))
    if q and q.strip():
        term = q.strip()
        try:
            query = query.where(
                col(Practitioner.id_number_hash) == vault.lookup_hash(normalize_id_number(term))
            )
        except IdentifierError:
            query = query.where(col(Practitioner.name).ilike(contains(term)))
    return await fetch_page(
        session, query, [col(Practitioner.name), col(Practitioner.id)], page, page_size
    )


async def update_practitioner(
    session: AsyncSession,
    ctx: CommandContext,
    practitioner_id: uuid.UUID,
    update: PractitionerUpdate,
    expected_version: int,
) -> Practitioner:
    return await _update_subject(
        session, ctx, Practitioner, practitioner_id, changes_of(update), expected_version
    )


async def subjects_by_id(
    session: AsyncSession,
    institution_ids: Iterable[uuid.UUID],
    practitioner_ids: Iterable[uuid.UUID],
) -> tuple[dict[uuid.UUID, Institution], dict[uuid.UUID, Practitioner]]:
    """For derived views (sync, public): the subjects they name, no jurisdiction check."""
    institutions: dict[uuid.UUID, Institution] = {}
    practitioners: dict[uuid.UUID, Practitioner] = {}
    if orgs := set(institution_ids):
        rows = await session.execute(sa.select(Institution).where(col(Institution.id).in_(orgs)))
        institutions = {row.id: row for row in rows.scalars()}
    if people := set(practitioner_ids):
        found = await session.execute(
            sa.select(Practitioner).where(col(Practitioner.id).in_(people))
        )
        practitioners = {row.id: row for row in found.scalars()}
    return institutions, practitioners
