"""Eligibility answers for subsidy systems, one subject or ten thousand at a time.

Built for the bulk path: a handful of set queries (identifiers, scores, stars, lists)
whatever the number of subjects, then a pure decision per subject. An unknown or
malformed identifier is that subject's answer, never the batch's failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.auth.models import Role
from service.clock import Moment
from service.context import CommandContext
from service.credit.bulk import SubjectKey, score_subjects
from service.credit.eligibility import Decision, decide
from service.credit.models import CreditScore
from service.credit.scoring import moment_now
from service.credit.star_ratings import levels_in_force
from service.credit.stars import Stars, effective_stars
from service.db.arrays import text_array
from service.db.raw import fetch
from service.errors import Invalid, NotFound
from service.listing.queries import lists_in_force
from service.policy.model import Policy, Program
from service.policy.store import policy_in_force
from service.registry.identifiers import IdentifierError, normalize_id_number, normalize_uscc
from service.registry.models import Institution, Practitioner
from service.registry.protection import IdNumberVault

CALLERS = (Role.ADMIN, Role.SUBSIDY_CLIENT)


class Asked(Protocol):
    """One subject as the caller named it: by exactly one of two codes."""

    @property
    def uscc(self) -> str | None: ...

    @property
    def id_number(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Named:
    uscc: str | None = None
    id_number: str | None = None


@dataclass(slots=True)
class Answer:
    asked: Asked
    status: str  # ok, not_found, invalid
    message: str | None = None
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


def _institutions(codes: Sequence[str]) -> sa.Select[*tuple[Any, ...]]:
    """Asked institutions with their stored scores, in one query."""
    return (
        sa.select(
            col(Institution.uscc),
            col(Institution.id),
            col(Institution.status),
            col(CreditScore.score),
            col(CreditScore.grade),
            col(CreditScore.policy_version),
            col(CreditScore.next_change_on),
        )
        .outerjoin(CreditScore, _stored_score_of("institution", col(Institution.id)))
        .where(col(Institution.uscc) == sa.any_(text_array(codes)))
    )


def _practitioners(hashes: Sequence[str]) -> sa.Select[*tuple[Any, ...]]:
    return (
        sa.select(
            col(Practitioner.id_number_hash),
            col(Practitioner.id),
            col(Practitioner.id_number_masked),
            col(CreditScore.score),
            col(CreditScore.grade),
            col(CreditScore.policy_version),
            col(CreditScore.next_change_on),
        )
        .outerjoin(CreditScore, _stored_score_of("practitioner", col(Practitioner.id)))
        .where(col(Practitioner.id_number_hash) == sa.any_(text_array(hashes)))
    )


def _stored_score_of(kind: str, subject_id: Any) -> sa.ColumnElement[bool]:
    return sa.and_(col(CreditScore.subject_kind) == kind, col(CreditScore.subject_id) == subject_id)


@dataclass(slots=True)
class _Subject:
    """What was found about a subject: registry status, current stored score, stars, lists."""

    kind: str
    subject_id: uuid.UUID
    status: str | None
    stored: tuple[Decimal, str, date | None] | None  # score, grade, next change: if current
    level: int | None = None
    lists: tuple[str, ...] = ()


async def _find(
    session: AsyncSession,
    vault: IdNumberVault,
    asked: Sequence[Asked],
    moment: Moment,
    policy: Policy,
) -> tuple[list[Answer], dict[SubjectKey, _Subject]]:
    """Each asked subject found or not, with its registry status and stored score.

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
        score, grade, version, changes_on = row
        current = version == policy.version and (changes_on is None or changes_on > moment.as_of)
        found[(kind, subject_id)] = _Subject(
            kind, subject_id, status, (score, grade, changes_on) if current else None
        )

    if usccs:
        for uscc, subject_id, status, *row in await fetch(session, _institutions(list(usccs))):
            keep("institution", subject_id, status, row)
            for answer in usccs[uscc]:
                answer.status, answer.subject_kind, answer.subject_id = (
                    "ok",
                    "institution",
                    subject_id,
                )
    if hashes:
        for digest, subject_id, masked, *row in await fetch(session, _practitioners(list(hashes))):
            keep("practitioner", subject_id, None, row)
            for answer in hashes[digest]:
                answer.status, answer.subject_kind, answer.subject_id = (
                    "ok",
                    "practitioner",
                    subject_id,
                )
                answer.id_number_masked = masked
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
    moment = moment_now(ctx, as_of)
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
    institutions = [subject_id for kind, subject_id in found if kind == "institution"]
    for subject_id, level in (await levels_in_force(session, institutions, moment)).items():
        found[("institution", subject_id)].level = level
    for key, entries in (await lists_in_force(session, list(found), moment)).items():
        found[key].lists = tuple(sorted({entry.list_type for entry in entries}))
    operating = set(policy.eligibility.operating_statuses)
    # Thousands of subjects share a few dozen combinations of what decides: decide each once.
    decided: dict[tuple[Any, ...], tuple[Stars | None, Decision]] = {}
    for answer in answers:
        if answer.subject_kind is None or answer.subject_id is None:
            continue
        subject = found[(answer.subject_kind, answer.subject_id)]
        assert subject.stored is not None
        score, grade, _ = subject.stored
        situation = (subject.kind, grade, subject.level, subject.lists, subject.status)
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
            )
            decided[situation] = (stars, decision)
        answer.stars, answer.decision = decided[situation]
        answer.score, answer.grade, answer.lists = score, grade, subject.lists
    return Eligibility(program, policy, moment, answers)
