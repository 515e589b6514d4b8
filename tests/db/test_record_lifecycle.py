"""Records against the database itself: events in the command's transaction, rows that
cannot be rewritten, an intact audit chain, and publication windows as time passes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from audit_log import NOT_CONTENT
from factories import (
    complaint_body,
    inspection_body,
    institution_body,
    penalty_body,
    penalty_details,
)
from signing import session_sealer
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from service.audit.chain import seal, verify
from service.audit.models import AuditEntry
from service.clock import Clock
from service.context import CommandContext
from service.events import NO_STEPS, Pipeline
from service.facts.kinds import SubjectKind
from service.policy.load import shipped_policy
from service.records import service
from service.records.disclosure import penalty_disclosures
from service.records.events import (
    DeficiencyRectified,
    RecordConfirmed,
    RecordCorrected,
    RecordEvent,
    RecordRevoked,
)
from service.records.models import Record
from service.records.schemas import CorrectionIn, RecordIn, RecordRevocationIn, RectificationIn
from service.registry.schemas import InstitutionCreate
from service.registry.service import create_institution
from service.wiring import system_context

Sessions = async_sessionmaker[AsyncSession]
pytestmark = pytest.mark.usefixtures("clean_db")


class MovableClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def context(clock: Clock | None = None, pipeline: Pipeline = NO_STEPS) -> CommandContext:
    return system_context(clock=clock or (lambda: datetime.now(UTC)), pipeline=pipeline)


def body(data: dict[str, Any]) -> Any:
    return msgspec.convert(data, RecordIn)


async def a_home(sessions: Sessions, ctx: CommandContext) -> str:
    async with sessions() as session, session.begin():
        home = await create_institution(
            session, ctx, msgspec.convert(institution_body(1), InstitutionCreate)
        )
    return str(home.id)


async def test_subscribers_run_in_the_commands_transaction(session_factory: Sessions) -> None:
    seen: list[RecordEvent] = []
    marker = f"derived_{uuid.uuid4().hex[:8]}"

    async def derive(
        session: AsyncSession, ctx: CommandContext, events: Sequence[RecordEvent]
    ) -> None:
        seen.extend(events)
        await session.execute(sa.text(f"CREATE TEMP TABLE IF NOT EXISTS {marker} (x int)"))

    ctx = context(pipeline=Pipeline(((RecordEvent, (derive,)),)))
    home = await a_home(session_factory, ctx)
    async with session_factory() as session, session.begin():
        view = await service.create_record(session, ctx, body(complaint_body(home)), confirm=True)
        # The subscriber ran before the command returned, on this very connection: the
        # temporary table it made is visible here and nowhere else.
        assert [type(e) for e in seen] == [RecordConfirmed]
        assert seen[0].record_id == view.record.id
        assert await session.scalar(sa.text(f"SELECT count(*) FROM {marker}")) == 0
        fix = CorrectionIn(
            reason="更正", record=body(complaint_body(home, occurred_on="2026-04-03"))
        )
        corrected = await service.correct_record(session, ctx, view.record.id, fix, confirm=True)
        await service.revoke_record(
            session, ctx, corrected.record.id, RecordRevocationIn(reason="撤销")
        )
        inspection = await service.create_record(
            session, ctx, body(inspection_body(home)), confirm=True
        )
        deficiency = inspection.deficiencies[0]
        await service.rectify_deficiency(
            session,
            ctx,
            inspection.record.id,
            deficiency.id,
            RectificationIn(rectified_on=date(2026, 3, 21)),
        )
    assert [type(e) for e in seen] == [
        RecordConfirmed,
        RecordCorrected,
        RecordRevoked,
        RecordConfirmed,
        DeficiencyRectified,
    ]
    assert isinstance(seen[-1], DeficiencyRectified)
    assert seen[-1].deficiency_id == deficiency.id
    assert seen[-1].subjects == ((SubjectKind.INSTITUTION, uuid.UUID(home)),)
    assert isinstance(seen[1], RecordCorrected)
    assert seen[1].replaced_id == view.record.id


async def test_a_failing_subscriber_undoes_the_confirmation(session_factory: Sessions) -> None:
    async def broken(
        session: AsyncSession, ctx: CommandContext, events: Sequence[RecordEvent]
    ) -> None:
        raise RuntimeError("score store unavailable")

    ctx = context(pipeline=Pipeline(((RecordConfirmed, (broken,)),)))
    home = await a_home(session_factory, ctx)
    async with session_factory() as session, session.begin():
        draft = await service.create_record(session, ctx, body(complaint_body(home)), confirm=False)
    with pytest.raises(RuntimeError):
        async with session_factory() as session, session.begin():
            await service.confirm_record(session, ctx, draft.record.id)
    async with session_factory() as session:
        record = await session.get(Record, draft.record.id)
        assert record is not None
        assert record.status == "draft"
        await seal(await session.connection(), session_sealer())  # what waits in the queue, too
        actions = (await session.execute(sa.select(col(AuditEntry.action)))).scalars().all()
        assert "record.confirm" not in actions


async def confirmed_inspection(sessions: Sessions) -> tuple[uuid.UUID, uuid.UUID]:
    ctx = context()
    home = await a_home(sessions, ctx)
    async with sessions() as session, session.begin():
        view = await service.create_record(session, ctx, body(inspection_body(home)), confirm=True)
    return view.record.id, view.deficiencies[0].id


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE records SET details = '{}' WHERE id = :id",
        "UPDATE records SET occurred_on = occurred_on - 1 WHERE id = :id",
        "UPDATE records SET status = 'draft', confirmed_at = NULL WHERE id = :id",
        "DELETE FROM records WHERE id = :id",
        "DELETE FROM deficiencies WHERE record_id = :id",
        "INSERT INTO deficiencies (id, record_id, position, item, severity, scope)"
        " VALUES (gen_random_uuid(), :id, 9, 'added later', 'minor', 'isolated')",
        "UPDATE deficiencies SET severity = 'minor' WHERE record_id = :id",
    ],
)
async def test_the_database_refuses_to_rewrite_a_confirmed_record(
    engine: AsyncEngine, session_factory: Sessions, statement: str
) -> None:
    record_id, _ = await confirmed_inspection(session_factory)
    with pytest.raises(DBAPIError):
        async with engine.begin() as connection:
            await connection.execute(sa.text(statement), {"id": record_id})


async def test_the_database_lets_a_rectification_in_once(
    engine: AsyncEngine, session_factory: Sessions
) -> None:
    record_id, deficiency_id = await confirmed_inspection(session_factory)
    rectify = sa.text(
        "UPDATE deficiencies SET rectified_on = '2026-03-20', rectification_recorded_at = now()"
        " WHERE id = :id"
    )
    async with engine.begin() as connection:
        await connection.execute(rectify, {"id": deficiency_id})
    with pytest.raises(DBAPIError):
        async with engine.begin() as connection:
            await connection.execute(rectify, {"id": deficiency_id})
    async with engine.begin() as connection:
        await connection.execute(
            sa.text(
                "UPDATE records SET status = 'revoked', revoked_at = now(),"
                " revocation_reason = 'entered twice' WHERE id = :id"
            ),
            {"id": record_id},
        )


async def test_the_audit_chain_holds_every_step(
    engine: AsyncEngine, session_factory: Sessions
) -> None:
    ctx = context()
    home = await a_home(session_factory, ctx)
    async with session_factory() as session, session.begin():
        view = await service.create_record(session, ctx, body(complaint_body(home)), confirm=True)
        fix = CorrectionIn(reason="更正", record=body(complaint_body(home)))
        await service.correct_record(session, ctx, view.record.id, fix, confirm=True)
    async with session_factory() as session, session.begin():
        subjects, _ = await service.resolve_subjects(session, body(complaint_body(home)))
        batch = [(body(complaint_body(home)), subjects) for _ in range(3)]
        await service.store_batch(session, ctx, batch, confirm=True, action="record.import")
    async with engine.connect() as connection:
        await seal(connection, session_sealer())
        report = await verify(connection, session_sealer().keys)
        actions = (
            await connection.execute(
                sa.select(col(AuditEntry.action)).where(NOT_CONTENT).order_by(col(AuditEntry.id))
            )
        ).scalars()
        assert list(actions) == [
            "institution.create",
            "record.create",
            "record.confirm",
            "record.create",
            "record.confirm",
            "record.supersede",
            "record.import",
            "record.import",
            "record.import",
        ]
    assert report.intact


async def test_a_minor_penalty_is_withdrawn_when_its_publication_ends(
    session_factory: Sessions,
) -> None:
    clock = MovableClock(datetime(2026, 6, 2, 2, 0, tzinfo=UTC))
    ctx = context(clock)
    home = await a_home(session_factory, ctx)
    minor = penalty_body(home, details=penalty_details(severity="minor"))
    async with session_factory() as session, session.begin():
        view = await service.create_record(session, ctx, body(minor), confirm=True)
    assert view.record.details["publication_end_date"] == "2026-09-01"
    policy = shipped_policy()

    async def feed(since: datetime | None) -> list[dict[str, Any]]:
        async with session_factory() as session:
            return await penalty_disclosures(session, ctx, policy, since=since, region=None)

    clock.now = datetime(2026, 9, 1, 15, 59, tzinfo=UTC)  # 23:59 on 1 September in China
    assert [row["disclosure_status"] for row in await feed(None)] == ["published"]
    clock.now = datetime(2026, 9, 1, 16, 0, tzinfo=UTC)  # midnight: the period is over
    assert await feed(None) == []
    (change,) = await feed(clock.now - timedelta(days=1))
    assert change["disclosure_status"] == "withdrawn"
    assert change["withdrawal_reason"] == "publication_ended"
    assert change["changed_at"] == datetime(2026, 9, 1, 16, 0, tzinfo=UTC)
    assert await feed(clock.now + timedelta(seconds=1)) == []
