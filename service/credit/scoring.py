"""Keeping stored scores current: on every record event, on read when stale, by recompute.

A stored score is current while its policy version is the one in force and its
``next_change_on`` (the day a fact stops counting) has not come. Record events
rescore their subjects in the command's transaction; a read refreshes what went
stale; ``credit-service recompute`` rescores everyone, batch by batch.

Which side scores (decision 0024): the engine for a few subjects, the SQL evaluator
for many. Both give the same answer (the parity test, ``recompute --verify``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from service.clock import Moment
from service.context import CommandContext
from service.credit.bulk import SubjectKey, store_all_scores, store_assessed, store_scores
from service.credit.contributions import ensure_built
from service.credit.engine import Assessment, assess, expired_by
from service.credit.facts import facts_of
from service.policy.document import Policy
from service.policy.store import policy_in_force, policy_now, policy_version
from service.records.events import RecordEvent

# Up to this many subjects the engine scores them (one read of their records, then
# Python); beyond it, a spreadsheet import or the demo, the SQL evaluator does in one
# statement what would otherwise bring tens of thousands of records into Python.
ENGINE_SUBJECTS = 200


async def assess_subjects(
    session: AsyncSession, policy: Policy, moment: Moment, keys: Sequence[SubjectKey]
) -> dict[SubjectKey, Assessment]:
    """The engine's assessment of each of a few subjects, from their records."""
    facts = await facts_of(session, keys, occurred_after=expired_by(policy, moment.as_of))
    return {key: assess(facts[key], policy, moment) for key in keys}


async def store_current(
    session: AsyncSession,
    policy: Policy,
    moment: Moment,
    cause: str,
    keys: Sequence[SubjectKey],
) -> int:
    """Score ``keys`` at ``moment`` and store what changed; returns how many changed."""
    if len(keys) > ENGINE_SUBJECTS:
        return await store_scores(session, policy, moment, cause, keys=keys)
    assessed = {
        key: (assessment.score, assessment.grade, assessment.next_change_on)
        for key, assessment in (await assess_subjects(session, policy, moment, keys)).items()
    }
    return await store_assessed(session, policy, moment, cause, assessed)


async def rescore(
    session: AsyncSession, ctx: CommandContext, events: Sequence[RecordEvent]
) -> None:
    """Step: the subjects named by the events, rescored in the same transaction."""
    keys = list(
        dict.fromkeys((str(kind), subject_id) for e in events for kind, subject_id in e.subjects)
    )
    policy = await policy_now(session, ctx)
    await store_current(session, policy, ctx.moment(), "record", keys)


@dataclass(frozen=True, slots=True)
class RecomputeReport:
    policy_version: str
    subjects: int
    changed: int
    seconds: float


async def recompute(
    engine: AsyncEngine,
    ctx: CommandContext,
    *,
    version: str | None = None,
    region: str | None = None,
    batch_size: int = 20_000,
    progress: Callable[[int], None] = lambda done: None,
    work_mem: str = "256MB",
) -> RecomputeReport:
    """Rescore every subject (of a region) as of today; store what changed, batch by batch."""
    started = time.perf_counter()
    moment = ctx.moment()
    async with engine.connect() as connection:
        session = AsyncSession(bind=connection)
        if version is None:
            policy = await policy_in_force(session, moment.as_of, moment.known_at)
        else:
            policy = await policy_version(session, version)
        # A batch job may sort and hash in memory; the setting dies with this connection's use.
        # JIT compiling the wide scoring statement took longer (0.2 s) than it saved.
        await connection.execute(
            sa.text(
                "SELECT set_config('work_mem', :value, false), set_config('jit', 'off', false)"
            ),
            {"value": work_mem},
        )
        try:
            await ensure_built(connection, policy)
            subjects, changed = await store_all_scores(
                connection, policy, moment, "recompute",
                region=region, batch_size=batch_size, progress=progress,
            )  # fmt: skip
        finally:
            await connection.execute(sa.text("RESET work_mem"))
            await connection.execute(sa.text("RESET jit"))
            await connection.commit()
    return RecomputeReport(policy.version, subjects, changed, time.perf_counter() - started)
