"""Audit rows are queued by a command in its own transaction and sealed into the chain
by the sequencer (decision 0030).

No command takes the chain lock, so writers never wait for one another on it; a
transaction that rolls back (or a savepoint that does) leaves none of its rows; and a
crash between a commit and its seal, or in the middle of a seal, loses and doubles
nothing: every committed row ends up in the chain exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec
import pytest
import sqlalchemy as sa
from audit_log import COMMAND_ROWS, NOT_CONTENT, seal_now
from factories import complaint_body, institution_body
from signing import session_sealer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from service.audit import chain as audit
from service.audit.models import AuditEntry
from service.audit.sequencer import keep_sealing
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
    await seal_now(engine)
    async with engine.connect() as connection:
        report = await audit.verify(connection, session_sealer().keys)
        assert report.intact, report
        rows = await connection.execute(
            sa.select(col(AuditEntry.action)).where(NOT_CONTENT).order_by(col(AuditEntry.id))
        )
        return list(rows.scalars())


async def test_a_command_commits_while_another_holds_the_chain_lock(
    engine: AsyncEngine, session_factory: Sessions
) -> None:
    home = await a_home(session_factory)
    async with engine.connect() as sealer, sealer.begin():
        # A seal in progress elsewhere: the chain lock is taken and kept.
        await sealer.execute(sa.select(sa.func.pg_advisory_xact_lock(audit.AUDIT_CHAIN_LOCK)))

        async def confirm() -> None:
            async with session_factory() as session, session.begin():
                await service.create_record(session, context(), a_complaint(home), confirm=True)

        await asyncio.wait_for(confirm(), timeout=10)  # did not wait for the lock

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
        await audit.seal(connection, session_sealer())
        stored = await connection.scalar(
            sa.select(col(AuditEntry.after_digest)).where(
                col(AuditEntry.action) == "institution.create"
            )
        )
    assert stored == as_created


CHAIN_LOCK = sa.select(sa.func.pg_advisory_xact_lock(audit.AUDIT_CHAIN_LOCK))


async def queued(engine: AsyncEngine, where: str = "true") -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(sa.text(f"SELECT count(*) FROM audit_queue WHERE {where}"))
        return int(count or 0)


async def test_a_crash_in_the_middle_of_a_seal_loses_and_doubles_nothing(
    engine: AsyncEngine, session_factory: Sessions
) -> None:
    doomed = await engine.connect()
    await doomed.begin()
    # The doomed sealer holds the chain from the start, so no other sealer (a served
    # app's, in this test session) seals these rows first.
    await doomed.execute(CHAIN_LOCK)
    home = await a_home(session_factory)
    async with session_factory() as session, session.begin():
        await service.create_record(session, context(), a_complaint(home), confirm=True)
    # Committed with the command, not yet in the chain: its three rows, and the content
    # rows of the institution and the record (created, then confirmed).
    assert await queued(engine, COMMAND_ROWS) == 3
    assert await queued(engine) == 6
    assert await audit.seal(doomed, session_sealer()) == 6
    pid = await doomed.scalar(sa.select(sa.func.pg_backend_pid()))
    async with engine.begin() as guard:
        # Already waiting for the chain when the doomed sealer lets go of it, so it gets
        # it next: no other sealer runs while the queue is counted.
        locked = asyncio.create_task(guard.execute(CHAIN_LOCK))
        await asyncio.sleep(0.2)
        async with engine.connect() as admin:
            # The sealing process dies before its commit (kill -9 of the backend's client).
            await admin.execute(sa.select(sa.func.pg_terminate_backend(pid)))
        with pytest.raises(sa.exc.DBAPIError):
            await doomed.commit()
        await doomed.invalidate()
        await locked
        assert await queued(engine) == 6  # the rows waited, committed
    assert await audit_actions(engine) == ["institution.create", "record.create", "record.confirm"]
    assert await queued(engine) == 0


async def test_a_row_committed_after_a_seal_began_is_sealed_by_the_next(
    engine: AsyncEngine, session_factory: Sessions
) -> None:
    ctx = context()
    async with session_factory() as slow:
        await slow.begin()
        await audit.record(slow, ctx, action="slow.write", target_type="test", target_id=1)
        await audit.queue_now(slow)  # in the queue, uncommitted: no seal can see it
        async with engine.begin() as connection:
            await connection.execute(CHAIN_LOCK)  # this seal's, before the fast commit
            async with session_factory() as fast, fast.begin():
                await audit.record(fast, ctx, action="fast.write", target_type="test", target_id=2)
            assert await audit.seal(connection, session_sealer()) == 1
        await slow.commit()

    assert await audit_actions(engine) == ["fast.write", "slow.write"]


async def test_concurrent_writers_and_sealers_chain_every_row_once(
    engine: AsyncEngine, session_factory: Sessions
) -> None:
    ctx = context()
    stop = asyncio.Event()
    sealers = [asyncio.create_task(keep_sealing(engine, session_sealer(), stop)) for _ in range(3)]

    async def write(n: int) -> None:
        for step in range(5):
            async with session_factory() as session, session.begin():
                await audit.record(
                    session, ctx, action="write", target_type="test", target_id=f"{n}.{step}"
                )

    await asyncio.gather(*[write(n) for n in range(20)])
    stop.set()
    await asyncio.gather(*sealers)

    async with engine.connect() as connection:
        await audit.seal(connection, session_sealer())
        report = await audit.verify(connection, session_sealer().keys)
        targets = list(
            await connection.scalars(
                sa.select(col(AuditEntry.target_id)).order_by(col(AuditEntry.id))
            )
        )
    assert report.intact
    assert sorted(targets) == sorted(f"{n}.{step}" for n in range(20) for step in range(5))
