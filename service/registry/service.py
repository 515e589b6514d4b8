"""Registry rules: who may register what, codes validated, changes locked and audited."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.actor import RECORDING_ROLES, STAFF_ROLES, Actor
from service.audit import chain as audit
from service.context import CommandContext
from service.db.like import contains, use_name_similarity
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


async def _register(
    session: AsyncSession, ctx: CommandContext, subject: Subject, duplicate: Conflict
) -> Subject:
    """Store a new institution or practitioner, audited, and tell what derives from it."""
    label = _label(type(subject))
    session.add(subject)
    try:
        await session.flush()
    except IntegrityError as error:
        # Two clients registering the same code at once: the database decides, once.
        if _unique_violation(error) is not None:
            raise duplicate from error
        raise
    await audit.record(
        session,
        ctx,
        action=f"{label}.create",
        target_type=label,
        target_id=subject.id,
        after=subject,
    )
    await ctx.publish(session, [SubjectChanged(label, subject.id)])
    return subject


def _label(model: type[Subject]) -> str:
    """``institution`` or ``practitioner``: the audit's target type and the events' kind."""
    return model.__tablename__.removesuffix("s")


async def _get_subject(
    session: AsyncSession, ctx: CommandContext, model: type[Subject], subject_id: uuid.UUID
) -> Subject:
    ctx.actor.require_role(*STAFF_ROLES)
    subject = await get_or_404(session, model, subject_id, _label(model))
    ctx.actor.require_region(subject.region_code)
    return subject


async def _list_subjects(
    session: AsyncSession,
    ctx: CommandContext,
    model: type[Subject],
    q: str | None,
    by_code: Callable[[str], sa.ColumnElement[bool]],
    *,
    region: str | None,
    page: int,
    page_size: int,
) -> Listing:
    """A page of subjects in the caller's jurisdiction (and region filter), by name.

    A search term that is a valid identifier matches it exactly (``by_code``); any
    other term is looked for in names.
    """
    ctx.actor.require_role(*STAFF_ROLES)
    query = sa.select(model)
    if scope := region_scope(ctx.actor, region):
        query = query.where(col(model.region_code).startswith(scope, autoescape=True))
    if q and q.strip():
        term = q.strip()
        try:
            query = query.where(by_code(term))
        except IdentifierError:
            query = query.where(col(model.name).ilike(contains(term)))
    return await fetch_page(session, query, [col(model.name), col(model.id)], page, page_size)


@dataclass(frozen=True, slots=True)
class FoundSubjects:
    institutions: list[Institution]
    practitioners: list[Practitioner]


def _by_name(model: type[Subject], term: str) -> tuple[sa.ColumnElement[bool], list[Any]]:
    """Names like the term, typos and parts forgiven; the best matches first.

    The filter uses pg_trgm's operators (thresholds from ``use_name_similarity``), which
    the trigram index serves; the functions rank only the rows it found.
    """
    name = col(model.name)
    likeness = sa.func.greatest(sa.func.similarity(name, term), sa.func.word_similarity(term, name))
    matches = sa.or_(
        name.ilike(contains(term)), name.op("%")(term), sa.literal(term).op("<%")(name)
    )
    order = [(name == term).desc(), name.ilike(contains(term)).desc(), likeness.desc(), name]
    return matches, order


async def find_subjects(
    session: AsyncSession, ctx: CommandContext, vault: IdNumberVault, term: str, *, limit: int
) -> FoundSubjects:
    """For staff: institutions and practitioners in the caller's jurisdiction, by an exact
    USCC or ID number, or else by name with typos forgiven (trigram similarity)."""
    ctx.actor.require_role(*STAFF_ROLES)
    term = term.strip()
    if not term:
        return FoundSubjects([], [])
    scope = ctx.actor.jurisdiction

    async def rows(
        model: type[Subject], where: sa.ColumnElement[bool], order: list[Any]
    ) -> list[Subject]:
        query = sa.select(model).where(where)
        if scope:
            query = query.where(col(model.region_code).startswith(scope, autoescape=True))
        found = await session.execute(query.order_by(*order, col(model.id)).limit(limit))
        return list(found.scalars())

    try:
        uscc = normalize_uscc(term)
    except IdentifierError:
        pass
    else:
        return FoundSubjects(await rows(Institution, col(Institution.uscc) == uscc, []), [])
    try:
        id_number = normalize_id_number(term, today=ctx.today())
    except IdentifierError:
        pass
    else:
        by_hash = col(Practitioner.id_number_hash) == vault.lookup_hash(id_number)
        return FoundSubjects([], await rows(Practitioner, by_hash, []))
    await use_name_similarity(session)
    return FoundSubjects(
        await rows(Institution, *_by_name(Institution, term)),
        await rows(Practitioner, *_by_name(Practitioner, term)),
    )


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
    already = f"{uscc} is already registered"
    conflict = Conflict(f"an institution with USCC {already}", errors=[FieldError("uscc", already)])
    return await _register(session, ctx, institution, conflict)


async def get_institution(
    session: AsyncSession, ctx: CommandContext, institution_id: uuid.UUID
) -> Institution:
    return await _get_subject(session, ctx, Institution, institution_id)


async def list_institutions(
    session: AsyncSession,
    ctx: CommandContext,
    *,
    region: str | None,
    q: str | None,
    page: int,
    page_size: int,
) -> Listing:
    def by_code(term: str) -> sa.ColumnElement[bool]:
        return col(Institution.uscc) == normalize_uscc(term)

    return await _list_subjects(
        session, ctx, Institution, q, by_code, region=region, page=page, page_size=page_size
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
    label = _label(model)
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
    already = f"{protected.masked} is already registered"
    conflict = Conflict(
        f"a practitioner with ID number {already}", errors=[FieldError("id_number", already)]
    )
    return await _register(session, ctx, practitioner, conflict)


async def get_practitioner(
    session: AsyncSession, ctx: CommandContext, practitioner_id: uuid.UUID
) -> Practitioner:
    return await _get_subject(session, ctx, Practitioner, practitioner_id)


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

    def by_number(term: str) -> sa.ColumnElement[bool]:
        return col(Practitioner.id_number_hash) == vault.lookup_hash(normalize_id_number(term))

    return await _list_subjects(
        session, ctx, Practitioner, q, by_number, region=region, page=page, page_size=page_size
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
