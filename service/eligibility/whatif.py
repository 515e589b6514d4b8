"""What-if: how a draft policy would change grades, stars and eligibility, changing nothing.

Scores every subject under the policy in force and under the draft (one SQL pass
each), then compares what each subject would get: its grade, its effective stars,
and its eligibility for every programme either policy defines.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from service.actor import Role
from service.context import CommandContext
from service.credit.bulk import Scored, score_subjects
from service.eligibility.decisions import decide
from service.policy.document import Policy
from service.policy.store import policy_in_force
from service.standing.lists import lists_in_force
from service.standing.stars import effective_stars, levels_in_force


@dataclass(frozen=True, slots=True)
class Outcome:
    grade: str
    stars: int | None
    eligible: dict[str, bool]


@dataclass(frozen=True, slots=True)
class Change:
    subject_kind: str
    subject_id: uuid.UUID
    region_code: str
    before: Outcome
    after: Outcome


@dataclass(slots=True)
class Simulation:
    current_version: str
    draft_version: str
    as_of: date
    subjects: int = 0
    grade_changes: int = 0
    star_changes: int = 0
    eligibility_changes: dict[str, int] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)


def _outcome(
    policy: Policy, scored: Scored, level: int | None, lists: list[str], status: str | None
) -> Outcome:
    stars = None
    if scored.subject_kind == "institution":
        stars = effective_stars(level, scored.grade, lists, policy)
    eligible = {
        program.code: decide(
            program,
            policy,
            subject_kind=scored.subject_kind,
            grade=scored.grade,
            stars=stars,
            lists=lists,
            operating=status is None or status in policy.eligibility.operating_statuses,
        ).eligible
        for program in policy.programs
        if program.subject_kind == scored.subject_kind
    }
    return Outcome(scored.grade, stars.effective if stars else None, eligible)


async def simulate(
    session: AsyncSession, ctx: CommandContext, draft: Policy, as_of: date | None = None
) -> Simulation:
    ctx.actor.require_role(Role.ADMIN)
    moment = ctx.moment(as_of)
    current = await policy_in_force(session, moment.as_of, moment.known_at)
    before = {
        (s.subject_kind, s.subject_id): s for s in await score_subjects(session, current, moment)
    }
    after = await score_subjects(session, draft, moment)
    keys = list(before)
    institutions = [subject_id for kind, subject_id in keys if kind == "institution"]
    levels = await levels_in_force(session, institutions, moment)
    listed = await lists_in_force(session, keys, moment)
    rows = await session.execute(sa.text("SELECT id, status FROM institutions"))
    statuses: dict[uuid.UUID, str] = {subject_id: status for subject_id, status in rows}
    report = Simulation(current.version, draft.version, moment.as_of, subjects=len(after))
    for scored in after:
        key = (scored.subject_kind, scored.subject_id)
        lists = sorted({entry.list_type for entry in listed.get(key, [])})
        level, status = levels.get(scored.subject_id), statuses.get(scored.subject_id)
        old = _outcome(current, before[key], level, lists, status)
        new = _outcome(draft, scored, level, lists, status)
        if old == new:
            continue
        report.changes.append(
            Change(scored.subject_kind, scored.subject_id, scored.region_code, old, new)
        )
        report.grade_changes += old.grade != new.grade
        report.star_changes += old.stars != new.stars
        for program in sorted(set(old.eligible) | set(new.eligible)):
            if old.eligible.get(program) != new.eligible.get(program):
                report.eligibility_changes[program] = report.eligibility_changes.get(program, 0) + 1
    return report
