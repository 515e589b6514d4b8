"""Importing an inspector's spreadsheet: every bad row named, the good ones stored at once.

The whole import runs in the request's one transaction. In ``best_effort`` mode the
records whose rows are all good are stored and the rest reported; in
``all_or_nothing`` mode a single bad row refuses the file and nothing is stored.
A row is never half stored: an inspection with one bad deficiency row is refused
whole, and its other rows are reported as held back by it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import partial

import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.actor import RECORDING_ROLES
from service.context import CommandContext
from service.errors import FieldError, Invalid
from service.facts.kinds import RecordKind
from service.identity.codes import IdentifierError, normalize_id_number, normalize_uscc
from service.identity.protection import IdNumberVault
from service.records.import_rows import (
    INSTITUTION_COLUMN,
    PRACTITIONER_COLUMN,
    KindColumns,
    RowGroup,
    RowProblem,
    build_groups,
    convert,
    unknown_columns,
)
from service.records.reach import out_of_reach, out_of_reach_message
from service.records.rules import check_record
from service.records.schemas import RecordBase
from service.records.service import Subjects, store_batch
from service.registry.models import Institution, Practitioner
from service.tabular import TableError, TableRow, read_table
from service.upload_limits import MAX_IMPORT_ROWS, PARALLEL_SPREADSHEET_READS

# Reading a spreadsheet is CPU-bound: it runs in a worker thread, so the event loop keeps
# answering other requests, and only this many at once, so memory stays bounded.
_SPREADSHEET_READERS = threading.BoundedSemaphore(PARALLEL_SPREADSHEET_READS)


class ImportMode(StrEnum):
    BEST_EFFORT = "best_effort"
    ALL_OR_NOTHING = "all_or_nothing"


@dataclass(frozen=True, slots=True)
class ImportResult:
    rows: int
    rows_stored: int
    record_ids: list[uuid.UUID]
    problems: list[RowProblem]


@dataclass(slots=True)
class _Candidate:
    group: RowGroup
    body: RecordBase
    subjects: Subjects


async def _institutions(session: AsyncSession, codes: set[str]) -> dict[str, Institution]:
    if not codes:
        return {}
    rows = await session.execute(sa.select(Institution).where(col(Institution.uscc).in_(codes)))
    return {institution.uscc: institution for institution in rows.scalars()}


async def _practitioners(session: AsyncSession, hashes: set[str]) -> dict[str, Practitioner]:
    if not hashes:
        return {}
    rows = await session.execute(
        sa.select(Practitioner).where(col(Practitioner.id_number_hash).in_(hashes))
    )
    return {practitioner.id_number_hash: practitioner for practitioner in rows.scalars()}


def _code(group: RowGroup, column: str, normalize: Callable[[str], str]) -> str | None:
    raw = group.first.cells.get(column)
    if raw is None:
        return None
    try:
        return normalize(raw)
    except IdentifierError as error:
        group.problems.append(RowProblem(group.first.line, column, str(error)))
        return None


def _subject_codes(
    vault: IdNumberVault, groups: list[RowGroup], today: date
) -> list[tuple[RowGroup, str | None, str | None]]:
    """Each group with its USCC and ID-number hash; bad codes become problems."""
    id_number_by_today = partial(normalize_id_number, today=today)
    coded = []
    for group in groups:
        uscc = _code(group, INSTITUTION_COLUMN, normalize_uscc)
        id_number = _code(group, PRACTITIONER_COLUMN, id_number_by_today)
        coded.append((group, uscc, vault.lookup_hash(id_number) if id_number else None))
    return coded


async def _candidates(
    session: AsyncSession,
    ctx: CommandContext,
    vault: IdNumberVault,
    columns: KindColumns,
    groups: list[RowGroup],
) -> list[_Candidate]:
    coded = _subject_codes(vault, groups, ctx.today())
    institutions = await _institutions(session, {uscc for _, uscc, _ in coded if uscc})
    practitioners = await _practitioners(session, {h for _, _, h in coded if h})
    candidates = []
    today = ctx.today()
    for group, uscc, id_hash in coded:
        institution = institutions.get(uscc) if uscc else None
        practitioner = practitioners.get(id_hash) if id_hash else None
        line = group.first.line
        if uscc and institution is None:
            group.problems.append(
                RowProblem(line, INSTITUTION_COLUMN, "no institution is registered with this USCC")
            )
        if id_hash and practitioner is None:
            group.problems.append(
                RowProblem(
                    line, PRACTITIONER_COLUMN, "no practitioner is registered with this ID number"
                )
            )
        if institution is not None:
            group.body["institution_id"] = str(institution.id)
        if practitioner is not None:
            group.body["practitioner_id"] = str(practitioner.id)
        body = convert(columns, group)
        if body is None:
            continue
        for error in check_record(body, today):
            group.fail(columns, error.field, error.message)
        subjects = Subjects(institution, practitioner)
        if not group.problems and not ctx.actor.covers_region(subjects.region_code):
            column = INSTITUTION_COLUMN if institution else PRACTITIONER_COLUMN
            group.problems.append(
                RowProblem(
                    line,
                    column,
                    f"region {subjects.region_code} is outside your jurisdiction "
                    f"({ctx.actor.region_code})",
                )
            )
        if not group.problems:
            candidates.append(_Candidate(group, body, subjects))
    named = [(c.subjects.practitioner, c.body.occurred_on) for c in candidates]
    beyond = await out_of_reach(session, ctx.actor, [(p, day) for p, day in named if p])
    for candidate in candidates:
        practitioner, day = candidate.subjects.practitioner, candidate.body.occurred_on
        if practitioner is not None and (practitioner.id, day) in beyond:
            message = out_of_reach_message(ctx.actor, day)
            candidate.group.problems.append(
                RowProblem(candidate.group.first.line, PRACTITIONER_COLUMN, message)
            )
    return [candidate for candidate in candidates if not candidate.group.problems]


def _read_upload(content: bytes) -> tuple[list[str], list[TableRow]]:
    with _SPREADSHEET_READERS:
        return read_table(content, MAX_IMPORT_ROWS)


def _held_back(groups: list[RowGroup]) -> list[RowProblem]:
    """Rows refused only because another row of the same inspection was bad."""
    held: list[RowProblem] = []
    for group in groups:
        if not group.problems:
            continue
        bad_lines = {problem.line for problem in group.problems}
        first_bad = min(bad_lines)
        held.extend(
            RowProblem(line, "ref", f"not stored: line {first_bad} of the same inspection is bad")
            for line in group.lines
            if line not in bad_lines
        )
    return held


async def import_records(
    session: AsyncSession,
    ctx: CommandContext,
    vault: IdNumberVault,
    *,
    kind: RecordKind,
    content: bytes,
    mode: ImportMode,
    confirm: bool,
) -> ImportResult:
    ctx.actor.require_role(*RECORDING_ROLES)
    try:
        header, rows = await anyio.to_thread.run_sync(_read_upload, content)
    except TableError as error:
        raise Invalid.field("body", str(error)) from error
    columns = KindColumns.of(kind)
    if unknown := unknown_columns(columns, header):
        raise Invalid(
            f"the file has columns that {kind.value} records do not have; nothing was stored",
            errors=[FieldError(p.column, p.message, p.line) for p in unknown],
        )
    groups = build_groups(columns, rows)
    candidates = await _candidates(session, ctx, vault, columns, groups)
    problems = sorted(
        [problem for group in groups for problem in group.problems] + _held_back(groups),
        key=lambda problem: (problem.line, problem.column),
    )
    if problems and mode == ImportMode.ALL_OR_NOTHING:
        bad_rows = len({problem.line for problem in problems})
        raise Invalid(
            f"{bad_rows} of {len(rows)} rows have problems; nothing was stored (all_or_nothing)",
            errors=[FieldError(p.column, p.message, p.line) for p in problems],
        )
    record_ids = await store_batch(
        session,
        ctx,
        [(candidate.body, candidate.subjects) for candidate in candidates],
        confirm=confirm,
        action="record.import",
    )
    return ImportResult(
        rows=len(rows),
        rows_stored=sum(len(candidate.group.rows) for candidate in candidates),
        record_ids=record_ids,
        problems=problems,
    )
