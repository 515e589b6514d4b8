"""HTTP routes of the credit engine: standings, star ratings, eligibility, policies, what-if."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.models import Role
from service.context import CommandContext
from service.credit.engine import Contribution
from service.credit.schemas import (
    AnswerOut,
    ChangeOut,
    ContributionOut,
    CreditOut,
    EligibilityIn,
    EligibilityOut,
    LiftOut,
    ListedOut,
    OutcomeOut,
    PolicyVersionOut,
    ReasonOut,
    SimulationOut,
    StarRatingIn,
    StarRatingOut,
    StarsOut,
)
from service.credit.standing import Standing, standing_of
from service.credit.star_ratings import record_star_rating, star_ratings
from service.credit.subsidies import Eligibility, Named, eligibility
from service.credit.whatif import simulate
from service.errors import Invalid
from service.policy import store as policies
from service.records.kinds import SubjectKind
from service.registry.protection import IdNumberVault
from service.web.idempotency import IdempotencyKeyHeader, idempotent
from service.web.openapi import raw_body
from service.web.params import SECURITY

AsOf = Annotated[
    date | None,
    QueryParameter(description="the date to answer for (China time); default today"),
]
TOML_MEDIA_TYPE = "application/toml"
MAX_ELIGIBILITY_BYTES = 4 * 1024 * 1024
CENT = Decimal("0.01")


def points(value: Decimal) -> Decimal:
    """Scores and points as answers show them: always two decimals (85.00, 17.50)."""
    return value.quantize(CENT)


LIST_OF_CHANGES = 1000


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


@get("/api/v1/institutions/{institution_id:uuid}/credit", tags=["credit"], security=SECURITY)
async def institution_credit(
    institution_id: FromPath[uuid.UUID],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    as_of: AsOf = None,
) -> CreditOut:
    """Score, grade and every point explained; what would lift it; stars and lists."""
    standing = await standing_of(db_session, ctx, SubjectKind.INSTITUTION, institution_id, as_of)
    return credit_out(standing)


@get("/api/v1/practitioners/{practitioner_id:uuid}/credit", tags=["credit"], security=SECURITY)
async def practitioner_credit(
    practitioner_id: FromPath[uuid.UUID],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    as_of: AsOf = None,
) -> CreditOut:
    standing = await standing_of(db_session, ctx, SubjectKind.PRACTITIONER, practitioner_id, as_of)
    return credit_out(standing)


def _rating_out(rating: Any) -> StarRatingOut:
    return msgspec.convert(rating, StarRatingOut, from_attributes=True)


@post(
    "/api/v1/institutions/{institution_id:uuid}/star-ratings",
    status_code=201,
    tags=["credit"],
    security=SECURITY,
)
async def create_star_rating(
    request: Request[Any, Any, Any],
    institution_id: FromPath[uuid.UUID],
    data: JSONBody[StarRatingIn],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response[StarRatingOut]:
    """Record an assessed star rating (level 1 to 5) with its validity."""

    async def work() -> Response[StarRatingOut]:
        rating = await record_star_rating(db_session, ctx, institution_id, data)
        return Response(_rating_out(rating), status_code=201)

    return await idempotent(request, db_session, ctx, idempotency_key, work)


@get("/api/v1/institutions/{institution_id:uuid}/star-ratings", tags=["credit"], security=SECURITY)
async def list_star_ratings(
    institution_id: FromPath[uuid.UUID],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
) -> list[StarRatingOut]:
    return [_rating_out(rating) for rating in await star_ratings(db_session, ctx, institution_id)]


def _eligibility_out(result: Eligibility) -> EligibilityOut:
    answers = []
    codes: set[str] = set()
    for index, answer in enumerate(result.answers):
        decision = answer.decision
        reasons = list(decision.reasons) if decision else []
        codes.update(reasons)
        answers.append(
            AnswerOut(
                index=index,
                status=answer.status,
                uscc=answer.asked.uscc,
                id_number_masked=answer.id_number_masked,
                message=answer.message,
                eligible=decision.eligible if decision else None,
                review=decision.review if decision else None,
                reasons=reasons,
                grade=answer.grade,
                score=None if answer.score is None else points(answer.score),
                effective_stars=answer.stars.effective if answer.stars else None,
                assessed_stars=answer.stars.assessed if answer.stars else None,
                lists=list(answer.lists),
                policy_version=result.policy.version,
                as_of=result.moment.as_of,
            )
        )
    glossary = {
        code: ReasonOut(reason.effect.value, reason.zh, reason.en)
        for code, reason in result.policy.reasons.items()
        if code in codes
    }
    return EligibilityOut(
        program=result.program.code,
        policy_version=result.policy.version,
        as_of=result.moment.as_of,
        answers=answers,
        reasons=glossary,
    )


@post(
    "/api/v1/eligibility",
    status_code=200,
    tags=["eligibility"],
    security=SECURITY,
    request_max_body_size=MAX_ELIGIBILITY_BYTES,
)
async def bulk_eligibility(
    data: JSONBody[EligibilityIn],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    vault: NamedDependency[IdNumberVault],
) -> EligibilityOut:
    """Up to 10,000 subjects at once; each answer carries its reasons, grade, stars, lists."""
    result = await eligibility(
        db_session, ctx, vault, program_code=data.program, as_of=data.as_of, asked=data.subjects
    )
    return _eligibility_out(result)


@get("/api/v1/eligibility/{program:str}/{code:str}", tags=["eligibility"], security=SECURITY)
async def one_eligibility(
    program: FromPath[str],
    code: FromPath[str],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    vault: NamedDependency[IdNumberVault],
    as_of: AsOf = None,
) -> AnswerOut:
    """One subject's answer for one programme: an institution by USCC, a practitioner by
    ID number (shown masked in the answer, never in full)."""
    asked = [Named.by_code(code)]
    result = await eligibility(
        db_session, ctx, vault, program_code=program, as_of=as_of, asked=asked
    )
    return _eligibility_out(result).answers[0]


async def _document(request: Request[Any, Any, Any]) -> str:
    try:
        return (await request.body()).decode("utf-8")
    except UnicodeDecodeError as error:
        raise Invalid.field("body", "a policy file is UTF-8 TOML text") from error


@get("/api/v1/policies", tags=["policies"], security=SECURITY)
async def list_policies(
    db_session: NamedDependency[AsyncSession], ctx: NamedDependency[CommandContext]
) -> list[PolicyVersionOut]:
    """Every installed policy version; ``in_force`` marks the one in force now."""
    ctx.actor.require_role(*Role)
    in_force = await policies.version_in_force(db_session, ctx.today(), ctx.now())
    return [
        PolicyVersionOut(
            v.version,
            v.effective_from,
            v.title,
            v.sha256,
            v.activated_at,
            v.version == in_force.version,
        )
        for v in await policies.versions(db_session)
    ]


@get(
    "/api/v1/policies/{version:str}",
    tags=["policies"],
    security=SECURITY,
    media_type="application/toml",
)
async def read_policy(
    version: FromPath[str],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
) -> str:
    """The policy document exactly as installed (TOML)."""
    ctx.actor.require_role(*Role)
    return (await policies.stored_version(db_session, version)).document


@post(
    "/api/v1/policies",
    status_code=201,
    tags=["policies"],
    security=SECURITY,
    opt=raw_body("the policy, a TOML document", TOML_MEDIA_TYPE, "text/plain"),
)
async def install_policy(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
) -> PolicyVersionOut:
    """Install a new policy version (the raw TOML document as the body); admins only."""
    ctx.actor.require_role(Role.ADMIN)
    stored = await policies.install(db_session, ctx, await _document(request))
    in_force = await policies.version_in_force(db_session, ctx.today(), ctx.now())
    return PolicyVersionOut(
        stored.version,
        stored.effective_from,
        stored.title,
        stored.sha256,
        stored.activated_at,
        stored.version == in_force.version,
    )


@post(
    "/api/v1/admin/policy-simulations",
    status_code=200,
    tags=["policies"],
    security=SECURITY,
    opt=raw_body("the draft policy, a TOML document", TOML_MEDIA_TYPE, "text/plain"),
)
async def simulate_policy(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    as_of: AsOf = None,
) -> SimulationOut:
    """What a draft policy (the raw TOML body) would change, changing nothing."""
    ctx.actor.require_role(Role.ADMIN)
    draft = policies.checked_document(await _document(request), "draft")
    report = await simulate(db_session, ctx, draft, as_of)
    return SimulationOut(
        current_version=report.current_version,
        draft_version=report.draft_version,
        as_of=report.as_of,
        subjects=report.subjects,
        grade_changes=report.grade_changes,
        star_changes=report.star_changes,
        eligibility_changes=report.eligibility_changes,
        changes_total=len(report.changes),
        changes=[
            ChangeOut(
                change.subject_kind,
                change.subject_id,
                change.region_code,
                OutcomeOut(change.before.grade, change.before.stars, change.before.eligible),
                OutcomeOut(change.after.grade, change.after.stars, change.after.eligible),
            )
            for change in report.changes[:LIST_OF_CHANGES]
        ],
    )


ROUTES: list[ControllerRouterHandler] = [
    institution_credit,
    practitioner_credit,
    create_star_rating,
    list_star_ratings,
    bulk_eligibility,
    one_eligibility,
    list_policies,
    read_policy,
    install_policy,
    simulate_policy,
]
