"""HTTP routes of a subject's standing: score, grade, every point explained, stars, lists."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date

import msgspec
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.credit.engine import Contribution
from service.credit.schemas import points
from service.facts.kinds import SubjectKind
from service.standing.schemas import ContributionOut, CreditOut, LiftOut, ListedOut, StarsOut
from service.standing.view import Standing, standing_of
from service.web.endpoints import Option, endpoint_routes, subject_reads
from service.web.params import AsOf


def _contribution(part: Contribution) -> ContributionOut:
    return ContributionOut(
        record_id=part.record_id,
        deficiency_id=part.deficiency_id,
        code=part.code,
        kind=part.kind,
        points=points(part.points),
        fact_class=part.fact_class.value,
        occurred_on=part.occurred_on,
        stops_counting_on=part.stops_counting_on,
        why=part.why,
        grade_cap=part.grade_cap,
        rectification=part.rectification,
        points_if_rectified=(
            None if part.points_if_rectified is None else points(part.points_if_rectified)
        ),
    )


def credit_out(standing: Standing) -> CreditOut:
    result = standing.assessment
    lift = result.lift
    return CreditOut(
        subject_kind=standing.subject_kind,
        subject_id=standing.subject_id,
        name=standing.name,
        region_code=standing.region_code,
        as_of=result.as_of,
        policy_version=result.policy_version,
        score=points(result.score),
        grade=result.grade,
        grade_by_score=result.grade_by_score,
        next_change_on=result.next_change_on,
        contributions=[_contribution(part) for part in result.contributions],
        lift=None
        if lift is None
        else LiftOut(
            grade=lift.grade,
            needs_score=points(lift.needs_score),
            points_short=points(lift.points_short),
            held_by_caps=list(lift.held_by_caps),
            lifts_on=lift.lifts_on,
            by_expiry=[_contribution(part) for part in lift.by_expiry],
            by_rectification=[_contribution(part) for part in lift.by_rectification],
        ),
        stars=None
        if standing.stars is None
        else msgspec.convert(standing.stars, StarsOut, from_attributes=True),
        lists=[msgspec.convert(entry, ListedOut, from_attributes=True) for entry in standing.lists],
        measures=[m.code for m in standing.policy.measures_of(e.list_type for e in standing.lists)],
        barred_practitioners=standing.barred_practitioners,
    )


def _credit_of(subject: str) -> Callable[..., Awaitable[CreditOut]]:
    """Score, grade and every point explained; what would lift it; stars and lists."""

    async def credit(
        session: AsyncSession, ctx: CommandContext, subject_id: uuid.UUID, *, as_of: date | None
    ) -> CreditOut:
        return credit_out(await standing_of(session, ctx, SubjectKind(subject), subject_id, as_of))

    return credit


ROUTES: list[ControllerRouterHandler] = endpoint_routes(
    subject_reads("credit", _credit_of, CreditOut, name="credit", options=(Option("as_of", AsOf),)),
    tags=["credit"],
)
