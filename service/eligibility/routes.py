"""HTTP routes of subsidy eligibility, and of the what-if of a draft policy."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.context import CommandContext
from service.credit.schemas import points
from service.db.replica import Reads
from service.eligibility.schemas import (
    AnswerOut,
    ChangeOut,
    DecisionOut,
    DecisionSubjectOut,
    EligibilityIn,
    EligibilityOut,
    OutcomeOut,
    ReasonOut,
    SimulationOut,
)
from service.eligibility.service import Eligibility, Named, eligibility
from service.eligibility.signed import SignedDecision, sign_and_keep, stored_decision
from service.eligibility.whatif import simulate
from service.identity.protection import IdNumberVault
from service.policy import store as policies
from service.policy.routes import admins_policy_text, policy_upload
from service.web.dependencies import ACTOR_ALONE
from service.web.params import SECURITY, AsOf

MAX_ELIGIBILITY_BYTES = 4 * 1024 * 1024
LIST_OF_CHANGES = 1000

Signed = Annotated[
    bool,
    QueryParameter(
        description=(
            "true: each answer of status `ok` also carries `decision_id` and "
            "`decision_jws`, a compact JWS (RFC 7515, EdDSA over Ed25519) of the decision, "
            "verifiable offline with the keys at `/.well-known/jwks.json`; the decision is "
            "stored and can be read at `/api/v1/eligibility/decisions/{decision_id}`. "
            "The payload: type `eligibility-decision`, decision_id, subject (an institution "
            "by `uscc`; a practitioner only by `id_number_hash` and `id_number_masked`), "
            "program, as_of, policy_version, eligible, review, reasons, grade, "
            "effective_stars, issued_at (UTC), kid. Default false: the answer as before."
        )
    ),
]


async def _signed(
    state: State, ctx: CommandContext, result: Eligibility
) -> list[SignedDecision | None]:
    """Sign and store the decisions on the primary (never a standby), committed before
    the answer is built."""
    async with state.session_factory() as session:
        return await sign_and_keep(session, ctx, result, state.signing)


def _eligibility_out(
    result: Eligibility, signed: list[SignedDecision | None] | None = None
) -> EligibilityOut:
    answers = []
    codes: set[str] = set()
    for index, answer in enumerate(result.answers):
        decision = answer.decision
        reasons = list(decision.reasons) if decision else []
        codes.update(reasons)
        proof = signed[index] if signed is not None else None
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
                decision_id=proof.decision_id if proof else None,
                decision_jws=proof.jws if proof else None,
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
    state: State,
    signed: Signed = False,
) -> EligibilityOut:
    """Up to 10,000 subjects at once; each answer carries its reasons, grade, stars, lists
    (and with ``signed=true`` a signed, stored decision: see the parameter)."""
    read = await reads.run(
        lambda session: eligibility(
            session, ctx, vault, program_code=data.program, as_of=data.as_of, asked=data.subjects
        )
    )
    result = read.value
    return _eligibility_out(result, await _signed(state, ctx, result) if signed else None)


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
    state: State,
    as_of: AsOf = None,
    signed: Signed = False,
) -> AnswerOut:
    """One subject's answer for one programme: an institution by USCC, a practitioner by
    ID number (shown masked in the answer, never in full); ``signed=true`` as in the
    bulk request."""
    asked = [Named.by_code(code)]
    read = await reads.run(
        lambda session: eligibility(
            session, ctx, vault, program_code=program, as_of=as_of, asked=asked
        )
    )
    result = read.value
    return _eligibility_out(result, await _signed(state, ctx, result) if signed else None).answers[
        0
    ]


@get(
    "/api/v1/eligibility/decisions/{decision_id:str}",
    tags=["eligibility"],
    security=SECURITY,
)
async def read_decision(
    decision_id: FromPath[str],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
) -> DecisionOut:
    """A stored signed decision (``signed=true``): what was decided, as of when, under which
    policy version and key, and the SHA-256 of its JWS payload, so that a presented JWS can
    be matched to it. An institution is named by its USCC; a practitioner only by the keyed
    hash of the ID number and its masked form. Read from the primary."""
    found = await stored_decision(db_session, ctx, decision_id)
    practitioner = found.subject_kind == "practitioner"
    return DecisionOut(
        id=found.id,
        issued_at=found.issued_at,
        program=found.program,
        as_of=found.as_of,
        policy_version=found.policy_version,
        subject=DecisionSubjectOut(
            kind=found.subject_kind,
            uscc=None if practitioner else found.subject_ref,
            id_number_hash=found.subject_ref if practitioner else None,
            id_number_masked=found.id_number_masked,
        ),
        eligible=found.eligible,
        review=found.review,
        reasons=list(found.reasons),
        grade=found.grade,
        effective_stars=found.effective_stars,
        key_id=found.key_id,
        payload_sha256=found.payload_sha256,
    )


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


ROUTES: list[ControllerRouterHandler] = [
    bulk_eligibility,
    one_eligibility,
    read_decision,
    simulate_policy,
]
