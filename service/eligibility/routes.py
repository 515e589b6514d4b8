"""HTTP routes of subsidy eligibility, and of the what-if of a draft policy."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.credit.schemas import points
from service.db.replica import Reads
from service.eligibility.schemas import (
    AnswerOut,
    ChangeOut,
    EligibilityIn,
    EligibilityOut,
    OutcomeOut,
    ReasonOut,
    SimulationOut,
)
from service.eligibility.service import Eligibility, Named, eligibility
from service.eligibility.whatif import simulate
from service.identity.protection import IdNumberVault
from service.policy import store as policies
from service.policy.routes import admins_policy_text, policy_upload
from service.web.dependencies import ACTOR_ALONE
from service.web.params import SECURITY, AsOf

MAX_ELIGIBILITY_BYTES = 4 * 1024 * 1024
LIST_OF_CHANGES = 1000


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
        code: ReasonOut(reason.effect.value, reason.title_zh, reason.title_en)
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
    dependencies=ACTOR_ALONE,
)
async def bulk_eligibility(
    data: JSONBody[EligibilityIn],
    reads: NamedDependency[Reads],
    ctx: NamedDependency[CommandContext],
    vault: NamedDependency[IdNumberVault],
) -> EligibilityOut:
    """Up to 10,000 subjects at once; each answer carries its reasons, grade, stars, lists."""
    read = await reads.run(
        lambda session: eligibility(
            session, ctx, vault, program_code=data.program, as_of=data.as_of, asked=data.subjects
        )
    )
    return _eligibility_out(read.value)


@get(
    "/api/v1/eligibility/{program:str}/{code:str}",
    tags=["eligibility"],
    security=SECURITY,
    dependencies=ACTOR_ALONE,
)
async def one_eligibility(
    program: FromPath[str],
    code: FromPath[str],
    reads: NamedDependency[Reads],
    ctx: NamedDependency[CommandContext],
    vault: NamedDependency[IdNumberVault],
    as_of: AsOf = None,
) -> AnswerOut:
    """One subject's answer for one programme: an institution by USCC, a practitioner by
    ID number (shown masked in the answer, never in full)."""
    asked = [Named.by_code(code)]
    read = await reads.run(
        lambda session: eligibility(
            session, ctx, vault, program_code=program, as_of=as_of, asked=asked
        )
    )
    return _eligibility_out(read.value).answers[0]


@policy_upload(
    "/api/v1/admin/policy-simulations", "the draft policy, a TOML document", status_code=200
)
async def simulate_policy(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    as_of: AsOf = None,
) -> SimulationOut:
    """What a draft policy (the raw TOML body) would change, changing nothing."""
    draft = policies.checked_document(await admins_policy_text(request, ctx), "draft")
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


ROUTES: list[ControllerRouterHandler] = [bulk_eligibility, one_eligibility, simulate_policy]
