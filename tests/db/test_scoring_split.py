"""Which side scores (decision 0024): the engine rescores the few subjects of a record
event, the SQL evaluator many; what either stores is the same, row for row."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from conftest import MakeToken, bearer
from factories import inspection_body, institution_body
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scoring_data import Stored, insert_records, insert_subjects, moments, scenarios
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.clock import Moment
from service.credit.bulk import SCORING_SQL as SQL_EVALUATOR
from service.credit.bulk import store_scores
from service.credit.scoring import ENGINE_SUBJECTS, store_current
from service.policy.document import Policy
from service.policy.load import shipped_policy

HOMES = [uuid.UUID(int=n) for n in range(1, 4)]
PEOPLE = [uuid.UUID(int=n) for n in range(101, 104)]
KEYS = [("institution", i) for i in HOMES] + [("practitioner", p) for p in PEOPLE]


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement this process sends to PostgreSQL while the block runs (the
    live server's too: it runs in this process)."""
    seen: list[str] = []

    def note(connection: Any, cursor: Any, statement: str, *rest: Any) -> None:
        seen.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", note)


async def test_a_confirmed_record_rescores_its_subject_with_the_engine(
    client: httpx.AsyncClient, make_token: MakeToken, engine: AsyncEngine
) -> None:
    admin = bearer(await make_token("admin"))
    inspector = bearer(await make_token("inspector", "3305"))
    created = await client.post("/api/v1/institutions", json=institution_body(), headers=admin)
    institution = created.json()["id"]
    with statements() as seen:
        confirmed = await client.post(
            "/api/v1/records",
            json=inspection_body(institution),
            params={"confirm": True},
            headers=inspector,
        )
    assert confirmed.status_code == 201, confirmed.text
    assert not [statement for statement in seen if SQL_EVALUATOR in statement]
    explained = (
        await client.get(f"/api/v1/institutions/{institution}/credit", headers=admin)
    ).json()
    async with engine.connect() as connection:
        stored = (
            await connection.execute(
                sa.text(
                    "SELECT score, grade, next_change_on FROM credit_scores WHERE subject_id = :id"
                ),
                {"id": institution},
            )
        ).one()
        logged = (
            await connection.execute(
                sa.text("SELECT score, cause FROM credit_score_history WHERE subject_id = :id"),
                {"id": institution},
            )
        ).all()
    assert (str(stored.score), stored.grade, str(stored.next_change_on)) == (
        explained["score"],
        explained["grade"],
        explained["next_change_on"],
    )
    assert [(str(score), cause) for score, cause in logged] == [(explained["score"], "record")]


async def _stored(engine: AsyncEngine) -> tuple[list[Any], list[Any]]:
    async with engine.connect() as connection:
        scores = await connection.execute(
            sa.text(
                "SELECT subject_kind, subject_id, region_code, score, grade, policy_version,"
                " as_of, next_change_on, computed_at FROM credit_scores"
                " ORDER BY subject_kind, subject_id"
            )
        )
        history = await connection.execute(
            sa.text(
                "SELECT subject_kind, subject_id, score, grade, policy_version, as_of,"
                " computed_at, cause FROM credit_score_history"
                # Each rescoring's rows in subject order: the order one statement
                # inserts them in is the plan's, not something a reader relies on.
                " ORDER BY computed_at, as_of, subject_kind, subject_id, id"
            )
        )
        return [tuple(row) for row in scores], [tuple(row) for row in history]


@pytest.fixture
async def subjects(engine: AsyncEngine, clean_db: None) -> None:
    async with engine.begin() as connection:
        await insert_subjects(connection, HOMES, PEOPLE)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios(HOMES, PEOPLE), data=st.data())
async def test_the_engine_stores_what_the_sql_evaluator_stores(
    subjects: None,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    scenario: tuple[Policy, list[Stored]],
    data: st.DataObject,
) -> None:
    """Score rows and history rows alike, over a few successive rescorings."""
    policy, stored = scenario
    at: list[Moment] = data.draw(st.lists(moments(policy, stored), min_size=1, max_size=3))
    async with engine.begin() as connection:
        await connection.exec_driver_sql("TRUNCATE records, deficiencies CASCADE")
        await insert_records(connection, stored)
    results = []
    for by_engine in (True, False):
        async with engine.begin() as connection:
            await connection.exec_driver_sql("TRUNCATE credit_scores, credit_score_history")
        for moment in sorted(at, key=lambda moment: moment.known_at):
            async with session_factory() as session, session.begin():
                if by_engine:
                    await store_current(session, policy, moment, "record", KEYS)
                else:
                    await store_scores(session, policy, moment, "record", keys=KEYS)
        results.append(await _stored(engine))
    assert results[0] == results[1]


async def test_more_subjects_than_the_engine_takes_are_scored_in_sql(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], clean_db: None
) -> None:
    homes = [uuid.UUID(int=n) for n in range(1, ENGINE_SUBJECTS + 2)]
    async with engine.begin() as connection:
        await insert_subjects(connection, homes, [])
    keys = [("institution", home) for home in homes]
    moment = Moment(date(2026, 1, 1), datetime(2026, 1, 1, tzinfo=UTC))
    for chosen, changed, in_sql in ((keys[:-1], ENGINE_SUBJECTS, False), (keys, 1, True)):
        async with session_factory() as session, session.begin():
            with statements() as seen:
                stored = await store_current(session, shipped_policy(), moment, "record", chosen)
        assert stored == changed
        assert any(SQL_EVALUATOR in statement for statement in seen) == in_sql
