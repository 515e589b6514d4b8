"""Eligibility answers for subsidy systems, one subject or ten thousand at a time.

Built for the bulk path: a handful of set queries (identifiers, scores, stars, lists)
whatever the number of subjects, then a pure decision per subject. An unknown or
malformed identifier is that subject's answer, never the batch's failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.models import Role
from service.clock import Moment
from service.context import CommandContext
from service.credit.bulk import Scored, SubjectKey, score_subjects
from service.credit.eligibility import Decision, decide
from service.credit.scoring import current_scores, moment_now
from service.credit.star_ratings import levels_in_force
from service.credit.stars import Stars, effective_stars
from service.errors import Invalid, NotFound
from service.listing.queries import lists_in_force
from service.policy.model import Policy, Program
from service.policy.store import policy_in_force
from service.registry.identifiers import IdentifierError, normalize_id_number, normalize_uscc
from service.registry.protection import IdNumberVault

CALLERS = (Role.ADMIN, Role.SUBSIDY_CLIENT)


@dataclass(frozen=True, slots=True)
class Asked:
    """One subject as the caller named it."""

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
    lists: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Eligibility:
    program: Program
    policy: Policy
    moment: Moment
    answers: list[Answer]


async def _identify(
    session: AsyncSession, vault: IdNumberVault, asked: Sequence[Asked]
) -> tuple[list[Answer], dict[SubjectKey, str]]:
    """Each asked subject found (or not); and each institution's registry status."""
    answers: list[Answer] = []
    usccs: dict[str, list[Answer]] = {}
    hashes: dict[str, list[Answer]] = {}
    for item in asked:
        answer = Answer(item, "not_found")
        answers.append(answer)
        try:
            if item.uscc is not None:
                usccs.setdefault(normalize_uscc(item.uscc), []).append(answer)
            elif item.id_number is not None:
                hashes.setdefault(
                    vault.lookup_hash(normalize_id_number(item.id_number)), []
                ).append(answer)
        except IdentifierError as error:
            answer.status, answer.message = "invalid", str(error)
    statuses: dict[SubjectKey, str] = {}
    if usccs:
        rows = await session.execute(
            sa.text(
                "SELECT uscc, id, status FROM institutions WHERE uscc = ANY(CAST(:codes AS text[]))"
            ),
            {"codes": list(usccs)},
        )
        for uscc, subject_id, status in rows:
            statuses[("institution", subject_id)] = status
            for answer in usccs[uscc]:
                answer.status, answer.subject_kind, answer.subject_id = (
                    "ok",
                    "institution",
                    subject_id,
                )
    if hashes:
        rows = await session.execute(
            sa.text(
                "SELECT id_number_hash, id, id_number_masked FROM practitioners"
                " WHERE id_number_hash = ANY(CAST(:hashes AS text[]))"
            ),
            {"hashes": list(hashes)},
        )
        for digest, subject_id, masked in rows:
            for answer in hashes[digest]:
                answer.status, answer.subject_kind, answer.subject_id = (
                    "ok",
                    "practitioner",
                    subject_id,
                )
                answer.id_number_masked = masked
    for answer in answers:
        if answer.status == "not_found":
            answer.message = "no subject is registered with this code"
    return answers, statuses


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
    answers, statuses = await _identify(session, vault, asked)
    typed_keys: list[SubjectKey] = list(
        dict.fromkeys(
            (a.subject_kind, a.subject_id)
            for a in answers
            if a.subject_kind is not None and a.subject_id is not None
        )
    )
    scores: dict[SubjectKey, Scored]
    if moment.as_of == ctx.today():
        scores = await current_scores(session, typed_keys, policy, moment)
    else:  # a past date: computed from what was known then, never from stored state
        found = await score_subjects(session, policy, moment, keys=typed_keys)
        scores = {(s.subject_kind, s.subject_id): s for s in found}
    institutions = [subject_id for kind, subject_id in typed_keys if kind == "institution"]
    levels = await levels_in_force(session, institutions, moment)
    listed = await lists_in_force(session, typed_keys, moment)
    operating = set(policy.eligibility.operating_statuses)
    for answer in answers:
        if answer.status != "ok" or answer.subject_id is None or answer.subject_kind is None:
            continue
        key = (answer.subject_kind, answer.subject_id)
        scored = scores[key]
        lists = sorted({entry.list_type for entry in listed.get(key, [])})
        stars = None
        if answer.subject_kind == "institution":
            stars = effective_stars(levels.get(answer.subject_id), scored.grade, lists, policy)
        answer.score, answer.grade, answer.stars, answer.lists = (
            scored.score,
            scored.grade,
            stars,
            lists,
        )
        answer.decision = decide(
            program,
            policy,
            subject_kind=answer.subject_kind,
            grade=scored.grade,
            stars=stars,
            lists=lists,
            operating=answer.subject_kind != "institution" or statuses.get(key) in operating,
        )
    return Eligibility(program, policy, moment, answers)
