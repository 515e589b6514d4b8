"""Audit rows are queued by a command and appended once, just before its commit.

The global audit lock is therefore free while the command's pipeline runs; a
transaction that rolls back (or a savepoint that does) leaves none of its rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec
import pytest
import sqlalchemy as sa
from factories import complaint_body, institution_body
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from service.audit import chain as audit
from service.audit.models import AuditEntry
from service.context import CommandContext
from service.events import NO_STEPS, Pipeline
from service.records import service
from service.records.events import RecordEvent
from service.records.schemas import RecordIn
from service.registry.schemas import InstitutionCreate
from service.registry.service import create_institution
from service.wiring import system_context

Sessions = async_sessionmaker[AsyncSession]
pytestmark = pytest.mark.usefixtures("clean_db")


def context(pipeline: Pipeline = NO_STEPS) -> CommandContext:
    return system_context(clock=lambda: datetime.now(UTC), pipeline=pipeline)


async def a_home(sessions: Sessions) -> str:
    async with sessions() as session, session.begin():
        home = await create_institution(
            session, context(), msgspec.convert(institution_body(1), InstitutionCreate)
        )
    return str(home.id)


def a_complaint(home: str) -> RecordIn:
    complaint: RecordIn = msgspec.convert(complaint_body(home), RecordIn)
    return complaint


async def audit_actions(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        report = await audit.verify(connection)
        assert report.intact, report
        rows = await connection.execute(
            sa.select(col(AuditEntry.action)).order_by(col(AuditEntry.id))
        )
        return list(rows.scalars())


async def test_the_audit_lock_is_free_while_the_pipeline_runs(
    engine: AsyncEngine, session_factory: Sessions
) -> None:
    lock_free_during_step: list[bool] = []

    async def try_the_audit_lock_elsewhere(
        session: AsyncSession, ctx: CommandContext, events: Sequence[RecordEvent]
    ) -> None:
        async with engine.connect() as other, other.begin():
            taken = await other.scalar(
                sa.select(sa.func.pg_try_advisory_xact_lock(audit.AUDIT_CHAIN_LOCK))
            )
        lock_free_during_step.append(bool(taken))

    home = await a_home(session_factory)
    ctx = context(Pipeline(((RecordEvent, (try_the_audit_lock_elsewhere,)),)))
    async with session_factory() as session, session.begin():
        # record.create and record.confirm are queued before the confirmation's steps run.
        await service.create_record(session, ctx, a_complaint(home), confirm=True)

    assert lock_free_during_step == [True]
    assert await audit_actions(engine) == ["institution.create", "record.create", "record.confirm"]


async def test_a_rolled_back_command_leaves_no_audit_row(
    engine: AsyncEngine, session_factory: Sessions
) -> None:
    async def failing_step(
        session: AsyncSession, ctx: CommandContext, events: Sequence[RecordEvent]
    ) -> None:
        raise RuntimeError("score store unavailable")

    home = await a_home(session_factory)
    # One session for two commands, as a long-lived worker would use it: the first
    # rolls back after queueing its rows, the second commits.
    async with session_factory() as session:
        failing = context(Pipeline(((RecordEvent, (failing_step,)),)))
        with pytest.raises(RuntimeError):
            await service.create_record(session, failing, a_complaint(home), confirm=True)
        await session.rollback()
        await service.create_record(session, context(), a_complaint(home), confirm=False)
        await session.commit()

    assert await audit_actions(engine) == ["institution.create", "record.create"]


async def queue_in_a_failing_savepoint(session: AsyncSession, ctx: CommandContext) -> None:
    async with session.begin_nested():
        await audit.record(session, ctx, action="dropped", target_type="test", target_id=2)
        raise RuntimeError("refused")


async def test_a_rolled_back_savepoint_drops_only_its_own_rows(
    engine: AsyncEngine, session_factory: Sessions
) -> None:
    ctx = context()
    async with session_factory() as session, session.begin():
        await audit.record(session, ctx, action="kept.before", target_type="test", target_id=1)
        with pytest.raises(RuntimeError):
            await queue_in_a_failing_savepoint(session, ctx)
        async with session.begin_nested():
            await audit.record(
                session, ctx, action="kept.released", target_type="test", target_id=3
            )
        await audit.record(session, ctx, action="kept.after", target_type="test", target_id=4)

    assert await audit_actions(engine) == ["kept.before", "kept.released", "kept.after"]


async def test_the_digest_is_of_the_state_when_the_row_was_queued(
    engine: AsyncEngine, session_factory: Sessions
) -> None:
    async with session_factory() as session, session.begin():
        home = await create_institution(
            session, context(), msgspec.convert(institution_body(1), InstitutionCreate)
        )
        as_created = audit.state_digest(home)
        home.beds = 7  # a later change in the same transaction, before the commit
        await session.flush()

    async with engine.connect() as connection:
        stored = await connection.scalar(
            sa.select(col(AuditEntry.after_digest)).where(
                col(AuditEntry.action) == "institution.create"
            )
        )
    assert stored == as_created
