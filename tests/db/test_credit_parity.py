"""The SQL evaluator and the pure engine agree on every subject, at every moment, under
every policy: random points, decay windows, caps, grade thresholds and rectification
factors, over facts spread across five years (tests/scoring_data.py). The SQL side
answers four ways, all held to the engine: derived from the records or summed from the
contributions built under the policy (decision 0033), for the given subjects and for
everyone (or a region)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scoring_data import Stored, insert_records, insert_subjects, moments, scenarios
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.clock import Moment
from service.credit.bulk import Scored, SubjectKey, scoring_sql
from service.credit.contributions import ensure_built
from service.credit.engine import assess
from service.credit.facts import facts_of
from service.policy.document import Policy

HOMES = [uuid.UUID(int=n) for n in range(1, 4)]
PEOPLE = [uuid.UUID(int=n) for n in range(101, 104)]
KEYS = [("institution", i) for i in HOMES] + [("practitioner", p) for p in PEOPLE]


@pytest.fixture
async def subjects(engine: AsyncEngine, clean_db: None) -> None:
    async with engine.begin() as connection:
        await insert_subjects(connection, HOMES, PEOPLE)


async def _scores(
    session: AsyncSession,
    policy: Policy,
    moment: Moment,
    *,
    keys: list[SubjectKey] | None = None,
    region: str | None = None,
    from_contributions: bool,
) -> dict[SubjectKey, tuple[object, ...]]:
    sql, params = scoring_sql(
        policy, moment, keys=keys, region=region, from_contributions=from_contributions
    )
    rows = [Scored(*row) for row in await session.execute(sa.text(sql), params)]
    return {(s.subject_kind, s.subject_id): (s.score, s.grade, s.next_change_on) for s in rows}


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    scenario=scenarios(HOMES, PEOPLE),
    data=st.data(),
)
async def test_sql_and_engine_give_the_same_scores(
    subjects: None,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    scenario: tuple[Policy, list[Stored]],
    data: st.DataObject,
) -> None:
    policy, stored = scenario
    async with engine.begin() as connection:
        await connection.exec_driver_sql(
            "TRUNCATE records, deficiencies, credit_contributions, credit_contribution_sets CASCADE"
        )
        await insert_records(connection, stored)
    async with engine.connect() as connection:
        await ensure_built(connection, policy)
    at = data.draw(st.lists(moments(policy, stored), min_size=2, max_size=8), label="moments")
    async with session_factory() as session:
        facts = await facts_of(session, KEYS)
        for moment in at:
            by_sql = await _scores(session, policy, moment, keys=KEYS, from_contributions=False)
            for keys, region, summed in (
                (None, None, False),
                (KEYS, None, True),
                (None, None, True),
                (None, "3305", True),
            ):
                found = await _scores(
                    session, policy, moment, keys=keys, region=region, from_contributions=summed
                )
                assert found == by_sql, (keys, region, summed, moment)
            for key in KEYS:
                expected = assess(facts[key], policy, moment)
                assert by_sql[key] == (expected.score, expected.grade, expected.next_change_on), (
                    key,
                    moment,
                )
