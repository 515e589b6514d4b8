"""Eligibility answers for subsidy systems, one subject or ten thousand at a time.

Built for the bulk path: a handful of set queries (identifiers, scores, stars, lists)
whatever the number of subjects, then a pure decision per subject. An unknown or
malformed identifier is that subject's answer, never the batch's failure.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.actor import Role
from service.clock import Moment
from service.context import CommandContext
from service.credit.bulk import SubjectKey, score_subjects
from service.credit.models import CreditScore, StarRating
from service.db.arrays import text_array
from service.db.raw import fetch
from service.eligibility.decisions import Decision, decide
from service.errors import Invalid, NotFound
from service.identity.codes import IdentifierError, normalize_id_number, normalize_uscc
from service.identity.protection import IdNumberVault
from service.listing.models import ListEntry
from service.policy.document import Policy, Program
from service.policy.store import policy_in_force
from service.registry.models import Employment, Institution, Practitioner
from service.standing.barred import black_listed_practitioner
from service.standing.lists import in_force
from service.standing.stars import LATEST_FIRST, Stars, effective_stars, rating_in_force

CALLERS = (Role.ADMIN, Role.SUBSIDY_CLIENT)
ID_NUMBER_SHAPE = re.compile(r"[0-9]{17}[0-9Xx]")


class Asked(Protocol):
    """One subject as the caller named it: by exactly one of two codes."""

    @property
    def uscc(self) -> str | None: ...

    @property
    def id_number(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Named:
    """A subject named by code where there is no request body (one USCC in a URL)."""

    uscc: str | None = None
    id_number: str | None = None

    @classmethod
    def by_code(cls, code: str) -> Named:
        """A code from a URL: a valid USCC names an institution; anything else shaped
        like an ID number (17 digits and a digit or X) names a person, so that its
        answer shows it only masked, as the bulk route does."""
        try:
            return cls(uscc=normalize_uscc(code))
        except IdentifierError:
            pass
        if ID_NUMBER_SHAPE.fullmatch(code.strip()):
            return cls(id_number=code)
        return cls(uscc=code)


@dataclass(slots=True)
class Answer:
    asked: Asked
    status: str  # ok, not_found, invalid
    message: str | None = None
    # The code the subject is registered by: its USCC, or its ID number's keyed hash.
    code: str | None = None
    subject_kind: str | None = None
    subject_id: uuid.UUID | None = None
    id_number_masked: str | None = None
    decision: Decision | None = None
    score: Decimal | None = None
    grade: str | None = None
    stars: Stars | None = None
    lists: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Eligibility:
    program: Program
    policy: Policy
    moment: Moment
    answers: list[Answer]


def _asked_rows(kind: str, asked: Any, moment: Moment) -> sa.Select[*tuple[Any, ...]]:
    """The asked subjects (a CTE of code, id and a detail: an institution's status, a
    practitioner's masked ID number) with stored score, lists and star level in force.

    One statement, one array parameter: the stars and lists in force are set queries
    over the asked ids, hash-joined, so ten thousand subjects cost a few scans.
    """
    ids = sa.select(asked.c.id)
    lists = (
        sa.select(
            col(ListEntry.subject_id).label("subject_id"),
            sa.func.array_agg(sa.distinct(col(ListEntry.list_type))).label("lists"),
        )
        .where(
            col(ListEntry.subject_kind) == kind,
            col(ListEntry.subject_id).in_(ids),
            in_force(moment),
        )
        .group_by(col(ListEntry.subject_id))
        .cte(f"{kind}_lists")
    )
    columns: list[Any] = [
        *asked.c,
        col(CreditScore.score),
        col(CreditScore.grade),
        col(CreditScore.policy_version),
        col(CreditScore.next_change_on),
        lists.c.lists,
    ]
    query = (
        sa.select(*columns)
        .select_from(asked)
        .outerjoin(
            CreditScore,
            sa.and_(
                col(CreditScore.subject_kind) == kind, col(CreditScore.subject_id) == asked.c.id
            ),
        )
        .outerjoin(lists, lists.c.subject_id == asked.c.id)
    )
    if kind == "institution":
        levels = (
            sa.select(col(StarRating.institution_id).label("institution_id"), col(StarRating.level))
            .ext(distinct_on(col(StarRating.institution_id)))
            .where(col(StarRating.institution_id).in_(ids), rating_in_force(moment))
            .order_by(col(StarRating.institution_id), *LATEST_FIRST)
            .cte("levels")
        )
        barred = (
            sa.select(col(Employment.institution_id).label("institution_id"))
            .distinct()
            .join(ListEntry, black_listed_practitioner(col(Employment.practitioner_id), moment))
            .where(
                col(Employment.institution_id).in_(ids),
                col(Employment.start_date) <= moment.as_of,
                sa.or_(
                    col(Employment.end_date).is_(None), col(Employment.end_date) >= moment.as_of
                ),
            )
            .cte("barred")
        )
        query = (
            query.add_columns(levels.c.level, barred.c.institution_id.is_not(None))
            .outerjoin(levels, levels.c.institution_id == asked.c.id)
            .outerjoin(barred, barred.c.institution_id == asked.c.id)
        )
    return query


# Per kind: the column a subject is asked by, its id, and the detail the answer tells
# (an institution's status, a practitioner's masked ID number).
_ASKED_COLUMNS: dict[str, tuple[Any, Any, Any]] = {
    "institution": (Institution.uscc, Institution.id, Institution.status),
    "practitioner": (Practitioner.id_number_hash, Practitioner.id, Practitioner.id_number_masked),
}


def _asked_subjects(kind: str, codes: Sequence[str], moment: Moment) -> sa.Select[*tuple[Any, ...]]:
    """The subjects of one kind whose code is among ``codes`` (USCCs, or ID-number hashes)."""
    code, subject_id, detail = _ASKED_COLUMNS[kind]
    asked = (
        sa.select(col(code).label("code"), col(subject_id), col(detail).label("detail"))
        .where(col(code) == sa.any_(text_array(codes)))
        .cte(f"asked_{kind}s")
    )
    return _asked_rows(kind, asked, moment)


@dataclass(slots=True)
class _Subject:
    """What was found about a subject: registry status, current stored score, stars, lists."""

    kind: str
    subject_id: uuid.UUID
    status: str | None
    stored: tuple[Decimal, str, date | None] | None  # score, grade, next change: if current
    level: int | None = None
    lists: tuple[str, ...] = ()
    employs_barred: bool = False


async def _find(
    session: AsyncSession,
    vault: IdNumberVault,
    asked: Sequence[Asked],
    moment: Moment,
    policy: Policy,
) -> tuple[list[Answer], dict[SubjectKey, _Subject]]:
    """Each asked subject found or not, with status, stored score, stars and lists in force.

    Codes are looked up as given (trimmed, upper-cased): a registered code was checked
    when it was registered. Only a code that matches nothing is checked, to tell a
    malformed code (invalid) from an unknown one (not_found).
    """
    answers: list[Answer] = []
    usccs: dict[str, list[Answer]] = {}
    hashes: dict[str, list[Answer]] = {}
    for item in asked:
        answer = Answer(item, "not_found")
        answers.append(answer)
        if (item.uscc is None) == (item.id_number is None):
            answer.status, answer.message = (
                "invalid",
                "name the subject by exactly one of uscc, id_number",
            )
        elif item.uscc is not None:
            usccs.setdefault(item.uscc.strip().upper(), []).append(answer)
        elif item.id_number is not None:
            hashes.setdefault(vault.lookup_hash(item.id_number.strip().upper()), []).append(answer)
    found: dict[SubjectKey, _Subject] = {}

    def keep(kind: str, subject_id: uuid.UUID, status: str | None, row: Sequence[Any]) -> None:
        score, grade, version, changes_on, lists, *institution_only = row
        level, barred = institution_only or (None, False)
        current = version == policy.version and (changes_on is None or changes_on > moment.as_of)
        found[(kind, subject_id)] = _Subject(
            kind,
            subject_id,
            status,
            (score, grade, changes_on) if current else None,
            level,
            tuple(sorted(lists)) if lists else (),
            bool(barred),
        )

    for kind, by_code in (("institution", usccs), ("practitioner", hashes)):
        if not by_code:
            continue
        for code, subject_id, detail, *row in await fetch(
            session, _asked_subjects(kind, list(by_code), moment)
        ):
            # The detail (see _ASKED_COLUMNS): an institution's status, a masked ID number.
            is_institution = kind == "institution"
            keep(kind, subject_id, detail if is_institution else None, row)
            for answer in by_code[code]:
                answer.status, answer.subject_kind, answer.subject_id = "ok", kind, subject_id
                answer.code = code
                if not is_institution:
                    answer.id_number_masked = detail
    for answer in answers:
        if answer.status == "not_found":
            _explain_unmatched(answer)
    return answers, found


def _explain_unmatched(answer: Answer) -> None:
    try:
        if answer.asked.uscc is not None:
            normalize_uscc(answer.asked.uscc)
        elif answer.asked.id_number is not None:
            normalize_id_number(answer.asked.id_number)
        answer.message = "no subject is registered with this code"
    except IdentifierError as error:
        answer.status, answer.message = "invalid", str(error)


async def eligibility(
    session: AsyncSession,
    ctx: CommandContext,
    vault: IdNumberVault,
    *,
    program_code: str,
    as_of: date | None,
    asked: Sequence[Asked],
) -> Eligibility:
    ctx.actor.require_role(*CALLERS)
    if as_of is not None and as_of > ctx.today():
        raise Invalid.field("as_of", f"must not be after today ({ctx.today()})")
    moment = ctx.moment(as_of)
    policy = await policy_in_force(session, moment.as_of, moment.known_at)
    program = policy.program(program_code)
    if program is None:
        known = ", ".join(p.code for p in policy.programs)
        raise NotFound(f"policy {policy.version} has no programme {program_code!r}; it has {known}")
    answers, found = await _find(session, vault, asked, moment, policy)
    if moment.as_of != ctx.today():
        # A past date is answered from what was known then, never from stored state.
        for subject in found.values():
            subject.stored = None
    stale = [key for key, subject in found.items() if subject.stored is None]
    for fresh in await score_subjects(session, policy, moment, keys=stale):
        found[(fresh.subject_kind, fresh.subject_id)].stored = (
            fresh.score,
            fresh.grade,
            fresh.next_change_on,
        )
    operating = set(policy.eligibility.operating_statuses)
    # Thousands of subjects share a few dozen combinations of what decides: decide each once.
    decided: dict[tuple[Any, ...], tuple[Stars | None, Decision]] = {}
    for answer in answers:
        if answer.subject_kind is None or answer.subject_id is None:
            continue
        subject = found[(answer.subject_kind, answer.subject_id)]
        assert subject.stored is not None
        score, grade, _ = subject.stored
        situation = (
            subject.kind,
            grade,
            subject.level,
            subject.lists,
            subject.status,
            subject.employs_barred,
        )
        if situation not in decided:
            stars = None
            if subject.kind == "institution":
                stars = effective_stars(subject.level, grade, subject.lists, policy)
            decision = decide(
                program,
                policy,
                subject_kind=subject.kind,
                grade=grade,
                stars=stars,
                lists=subject.lists,
                operating=subject.kind != "institution" or subject.status in operating,
                employs_barred=subject.employs_barred,
            )
            decided[situation] = (stars, decision)
        answer.stars, answer.decision = decided[situation]
        answer.score, answer.grade, answer.lists = score, grade, subject.lists
    return Eligibility(program, policy, moment, answers)
