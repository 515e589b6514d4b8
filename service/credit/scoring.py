"""Keeping stored scores current: on every record event, on read when stale, by recompute.

A stored score is current while its policy version is the one in force and its
``next_change_on`` (the day a fact stops counting) has not come. Record events
rescore their subjects in the command's transaction; a read refreshes what went
stale; ``credit-service recompute`` rescores everyone, batch by batch.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import Moment
from service.context import CommandContext
from service.credit.bulk import Scored, SubjectKey, score_subjects, store_scores
from service.policy.model import Policy
from service.policy.store import policy_in_force, policy_version
from service.records.events import RecordEvent


def moment_now(ctx: CommandContext, as_of: date | None = None) -> Moment:
    return Moment.of(as_of or ctx.today(), ctx.now())


async def rescore(
    session: AsyncSession, ctx: CommandContext, events: Sequence[RecordEvent]
) -> None:
    """Subscriber: the subjects named by the events, rescored in the same transaction."""
    keys = list(
        dict.fromkeys((str(kind), subject_id) for e in events for kind, subject_id in e.subjects)
    )
    moment = moment_now(ctx)
    policy = await policy_in_force(session, moment.as_of, moment.known_at)
    await store_scores(session, policy, moment, "record", keys=keys)


async def current_scores(
    session: AsyncSession, keys: Sequence[SubjectKey], policy: Policy, moment: Moment
) -> dict[SubjectKey, Scored]:
    """Stored scores where still current; the stale or missing ones computed afresh."""
    rows = await session.execute(
        sa.text(
            "SELECT subject_kind, subject_id, region_code, score, grade, next_change_on,"
            " policy_version FROM credit_scores WHERE subject_id = ANY(CAST(:ids AS uuid[]))"
        ),
        {"ids": [subject_id for _, subject_id in keys]},
    )
    wanted = set(keys)
    found: dict[SubjectKey, Scored] = {}
    for kind, subject_id, region, score, grade, changes_on, version in rows:
        current = version == policy.version and (changes_on is None or changes_on > moment.as_of)
        if current and (kind, subject_id) in wanted:
            found[(kind, subject_id)] = Scored(kind, subject_id, region, score, grade, changes_on)
    stale = [key for key in keys if key not in found]
    for scored in await score_subjects(session, policy, moment, keys=stale):
        found[(scored.subject_kind, scored.subject_id)] = scored
    return found


@dataclass(frozen=True, slots=True)
class RecomputeReport:
    policy_version: str
    subjects: int
    changed: int
    seconds: float


async def _subject_batches(
    session: AsyncSession, region: str | None, size: int
) -> list[list[SubjectKey]]:
    """Every subject's key, in batches (ids only: a million keys is a few tens of MB)."""
    where = "WHERE region_code LIKE :region" if region else ""
    rows = await session.execute(
        sa.text(
            f"SELECT 'institution', id FROM institutions {where}"
            f" UNION ALL SELECT 'practitioner', id FROM practitioners {where}"
        ),
        {"region": f"{region}%"} if region else {},
    )
    keys: list[SubjectKey] = [(str(kind), uuid.UUID(str(sid))) for kind, sid in rows]
    return [keys[start : start + size] for start in range(0, len(keys), size)]


async def recompute(
    sessions: async_sessionmaker[AsyncSession],
    ctx: CommandContext,
    *,
    version: str | None = None,
    region: str | None = None,
    batch_size: int = 20_000,
    progress: Callable[[int], None] = lambda done: None,
) -> RecomputeReport:
    """Rescore every subject (of a region) as of today, one transaction per batch."""
    started = time.perf_counter()
    moment = moment_now(ctx)
    async with sessions() as session:
        if version is None:
            policy = await policy_in_force(session, moment.as_of, moment.known_at)
        else:
            policy = await policy_version(session, version)
        batches = await _subject_batches(session, region, batch_size)
    changed = subjects = 0
    for batch in batches:
        async with sessions() as session, session.begin():
            changed += await store_scores(session, policy, moment, "recompute", keys=batch)
        subjects += len(batch)
        progress(len(batch))
    return RecomputeReport(policy.version, subjects, changed, time.perf_counter() - started)
