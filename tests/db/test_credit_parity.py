"""The SQL evaluator and the pure engine agree on every subject, at every moment, under
every policy: random points, decay windows, caps, grade thresholds and rectification
factors, over facts spread across five years (tests/scoring_data.py)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scoring_data import Stored, insert_records, insert_subjects, moments, scenarios
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.credit.bulk import score_subjects
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
        await connection.exec_driver_sql("TRUNCATE records, deficiencies CASCADE")
        await insert_records(connection, stored)
    at = data.draw(st.lists(moments(policy, stored), min_size=2, max_size=8), label="moments")
    async with session_factory() as session:
        facts = await facts_of(session, KEYS)
        for moment in at:
            by_sql = {
                (s.subject_kind, s.subject_id): (s.score, s.grade, s.next_change_on)
                for s in await score_subjects(session, policy, moment, keys=KEYS)
            }
            everyone = await score_subjects(session, policy, moment)
            assert {
                (s.subject_kind, s.subject_id): (s.score, s.grade, s.next_change_on)
                for s in everyone
            } == by_sql
            for key in KEYS:
                expected = assess(facts[key], policy, moment)
                assert by_sql[key] == (expected.score, expected.grade, expected.next_change_on), (
                    key,
                    moment,
                )
