"""The SQL evaluator and the pure engine agree on every subject, at every moment."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from strategies import DETAILS_BY_KIND

from service.clock import Moment
from service.credit.bulk import score_subjects
from service.credit.engine import assess
from service.credit.facts import facts_of
from service.policy.load import shipped_policy
from service.records.models import Deficiency, Record
from service.registry.models import Institution, Practitioner

POLICY = shipped_policy()
HOMES = [uuid.UUID(int=n) for n in range(1, 4)]
PEOPLE = [uuid.UUID(int=n) for n in range(101, 104)]
KEYS = [("institution", i) for i in HOMES] + [("practitioner", p) for p in PEOPLE]
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
# Facts, their confirmations and the moments asked about cluster around one day, so
# most facts are in force, many rectified, and some windows end between moments.
DAY = date(2026, 1, 1)
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def subjects(engine: AsyncEngine, clean_db: None) -> None:
    async with engine.begin() as connection:
        for n, home in enumerate(HOMES):
            await connection.execute(
                sa.insert(Institution).values(
                    id=home, name=f"院{n}", uscc=f"U{n}", region_code="330522", kind="residential",
                    beds=10, address="", status="operating", version=1,
                    created_at=EPOCH, updated_at=EPOCH,
                )
            )  # fmt: skip
        for n, person in enumerate(PEOPLE):
            await connection.execute(
                sa.insert(Practitioner).values(
                    id=person, name=f"人{n}", id_number_hash=f"h{n}", id_number_masked="m",
                    id_number_encrypted="e", region_code="330522", status="active", version=1,
                    created_at=EPOCH, updated_at=EPOCH,
                )
            )  # fmt: skip


moments = st.builds(
    lambda days, hours: Moment(DAY + timedelta(days=days), START + timedelta(hours=hours)),
    st.integers(-30, 500),
    st.integers(0, 24 * 400),
)


@st.composite
def stored_records(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    kind = draw(st.sampled_from(sorted(DETAILS_BY_KIND)))
    occurred = DAY - timedelta(days=draw(st.integers(0, 400)))
    confirmed = START + timedelta(hours=draw(st.integers(0, 24 * 30)))
    home = (
        draw(st.sampled_from([*HOMES, None]))
        if kind != "inspection"
        else draw(st.sampled_from(HOMES))
    )
    person = draw(st.sampled_from([*PEOPLE, None])) if kind != "inspection" else None
    if home is None and person is None:
        home = HOMES[0]
    ending = draw(st.sampled_from([None, "superseded", "revoked"]))
    ended = confirmed + timedelta(hours=draw(st.integers(1, 24 * 200)))
    record_id = uuid.uuid4()
    record = {
        "id": record_id, "kind": kind, "status": ending or "confirmed", "chain_id": record_id,
        "institution_id": home, "practitioner_id": person, "region_code": "330522",
        "occurred_on": occurred, "details": draw(DETAILS_BY_KIND[kind]), "version": 2,
        "recorded_at": confirmed, "updated_at": confirmed, "confirmed_at": confirmed,
        "superseded_at": ended if ending == "superseded" else None,
        "revoked_at": ended if ending == "revoked" else None,
        "revocation_reason": "x" if ending == "revoked" else None,
    }  # fmt: skip
    deficiencies = []
    if kind == "inspection":
        for position in range(1, draw(st.integers(0, 3)) + 1):
            rectified = draw(st.none() | st.dates(occurred, occurred + timedelta(days=400)))
            deficiencies.append(
                {
                    "id": uuid.uuid4(), "record_id": record_id, "position": position, "item": "x",
                    "severity": draw(st.sampled_from(["minor", "general", "serious", "critical"])),
                    "scope": draw(st.sampled_from(["isolated", "pattern", "widespread"])),
                    "rectification_deadline": draw(
                        st.none() | st.dates(occurred, occurred + timedelta(days=120))
                    ),
                    "rectified_on": rectified,
                    "rectification_recorded_at": (
                        START + timedelta(hours=draw(st.integers(0, 24 * 200)))
                        if rectified else None
                    ),
                }
            )  # fmt: skip
    return record, deficiencies


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(stored=st.lists(stored_records(), max_size=14), at=st.lists(moments, min_size=1, max_size=4))
async def test_sql_and_engine_give_the_same_scores(
    subjects: None,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    stored: list[tuple[dict[str, Any], list[dict[str, Any]]]],
    at: list[Moment],
) -> None:
    lifecycle = ("status", "confirmed_at", "superseded_at", "revoked_at", "revocation_reason")
    async with engine.begin() as connection:
        await connection.exec_driver_sql("TRUNCATE records, deficiencies CASCADE")
        # The way records really get there: drafts with their deficiencies, then
        # confirmed, then (for some) superseded or revoked; the guard triggers allow no other.
        drafts = [{**r, **dict.fromkeys(lifecycle), "status": "draft"} for r, _ in stored]
        if drafts:
            await connection.execute(sa.insert(Record), drafts)
        rows = [row for _, found in stored for row in found]
        if rows:
            await connection.execute(sa.insert(Deficiency), rows)
        for record, _ in stored:
            confirm = {"status": "confirmed", "confirmed_at": record["confirmed_at"]}
            ending = {name: record[name] for name in lifecycle if name != "confirmed_at"}
            for values in (confirm, ending) if record["status"] != "confirmed" else (confirm,):
                await connection.execute(
                    sa.update(Record).where(Record.id == record["id"]).values(**values)
                )
    async with session_factory() as session:
        facts = await facts_of(session, KEYS)
        for moment in at:
            by_sql = {
                (s.subject_kind, s.subject_id): (s.score, s.grade, s.next_change_on)
                for s in await score_subjects(session, POLICY, moment, keys=KEYS)
            }
            everyone = await score_subjects(session, POLICY, moment)
            assert {
                (s.subject_kind, s.subject_id): (s.score, s.grade, s.next_change_on)
                for s in everyone
            } == by_sql
            for key in KEYS:
                expected = assess(facts[key], POLICY, moment)
                assert by_sql[key] == (expected.score, expected.grade, expected.next_change_on), (
                    key,
                    moment,
                )
