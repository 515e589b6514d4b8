"""A subject's standing at a moment: its assessment explained, stars and lists in force.

This is the one place that puts grade, stars and lists together; the explanation
endpoint, eligibility and the what-if all read a subject's standing from here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from service.clock import Moment
from service.context import CommandContext
from service.credit.engine import Assessment, assess
from service.credit.facts import facts_of
from service.facts.kinds import SubjectKind
from service.policy.document import Policy
from service.policy.store import policy_in_force
from service.registry.service import get_institution, get_practitioner
from service.standing.barred import barred_practitioners
from service.standing.lists import Listed, lists_in_force
from service.standing.stars import Stars, effective_stars, levels_in_force


@dataclass(frozen=True, slots=True)
class Standing:
    subject_kind: str
    subject_id: uuid.UUID
    name: str
    region_code: str
    moment: Moment
    policy: Policy
    assessment: Assessment
    stars: Stars | None  # institutions only
    lists: list[Listed]
    barred_practitioners: list[uuid.UUID]  # black-listed people an institution employs


async def standing_of(
    session: AsyncSession,
    ctx: CommandContext,
    subject: SubjectKind,
    subject_id: uuid.UUID,
    as_of: date | None,
) -> Standing:
    """For staff: the explained standing of one subject, checked against their jurisdiction."""
    if subject == SubjectKind.INSTITUTION:
        row = await get_institution(session, ctx, subject_id)
        name, region = row.name, row.region_code
    else:
        person = await get_practitioner(session, ctx, subject_id)
        name, region = person.name, person.region_code
    moment = ctx.moment(as_of)
    policy = await policy_in_force(session, moment.as_of, moment.known_at)
    key = (subject.value, subject_id)
    facts = (await facts_of(session, [key]))[key]
    assessment = assess(facts, policy, moment)
    listed = (await lists_in_force(session, [key], moment)).get(key, [])
    stars, barred = None, []
    if subject == SubjectKind.INSTITUTION:
        level = (await levels_in_force(session, [subject_id], moment)).get(subject_id)
        stars = effective_stars(level, assessment.grade, [e.list_type for e in listed], policy)
        barred = (await barred_practitioners(session, [subject_id], moment)).get(subject_id, [])
    return Standing(
        subject.value, subject_id, name, region, moment, policy, assessment, stars, listed, barred
    )
