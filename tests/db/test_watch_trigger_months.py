"""The list triggers count calendar months, and what a substantiated complaint is comes
from the policy in force, read in Python and in SQL alike."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from factories import SHIPPED, complaint_body, institution_body, penalty_body, penalty_details
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from service.context import CommandContext
from service.credit.models import StarRating
from service.facts.kinds import RecordKind
from service.listing.models import ListEntry
from service.policy.load import DEFAULT_POLICY_FILE
from service.policy.store import install
from service.records import service as records
from service.records.models import Record
from service.records.schemas import RecordIn
from service.registry.schemas import InstitutionCreate
from service.registry.service import create_institution
from service.triggers.proposals import red_list_candidates
from service.wiring import system_context

Sessions = async_sessionmaker[AsyncSession]
pytestmark = pytest.mark.usefixtures("clean_db")
# 10:00 in China on the first of March of a year whose February is short: 24 calendar
# months back is 2024-03-01, 730 days; "24 × 30.44 days" would be 731.
NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
SHIPPED_RULE = (
    '[lists.substantiated_complaint]\nkind = "complaint"\nwhen = { outcome = ["substantiated"] }'
)


def context(now: datetime = NOW) -> CommandContext:
    return system_context(clock=lambda: now)


async def home(sessions: Sessions, n: int, **overrides: Any) -> uuid.UUID:
    async with sessions() as session, session.begin():
        created = await create_institution(
            session, context(), msgspec.convert(institution_body(n), InstitutionCreate)
        )
        for name, value in overrides.items():
            setattr(created, name, value)
    return created.id


async def confirmed(sessions: Sessions, body: dict[str, Any], now: datetime = NOW) -> None:
    async with sessions() as session, session.begin():
        await records.create_record(
            session, context(now), msgspec.convert(body, RecordIn), confirm=True
        )


async def entries(sessions: Sessions) -> list[tuple[str, str, uuid.UUID]]:
    async with sessions() as session:
        rows = await session.execute(
            sa.select(
                col(ListEntry.list_type), col(ListEntry.reason_code), col(ListEntry.subject_id)
            ).order_by(col(ListEntry.created_at))
        )
        return [(list_type, reason, subject) for list_type, reason, subject in rows]


async def install_rule(sessions: Sessions, rule: str) -> None:
    """A policy in force at NOW whose substantiated-complaint rule is ``rule``."""
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    assert SHIPPED_RULE in text
    text = text.replace(SHIPPED, "2026.4-test").replace(SHIPPED_RULE, rule)
    async with sessions() as session, session.begin():
        await install(session, context(), text)


async def at_grade_a_with_stars(sessions: Sessions, *institutions: uuid.UUID) -> None:
    """Four valid stars, and grade A ever since registration (no history of another)."""
    async with sessions() as session, session.begin():
        for institution in institutions:
            session.add(
                StarRating(
                    institution_id=institution, level=4, assessor="评定委员会",
                    assessed_on=NOW.date() - timedelta(days=100),
                    valid_from=NOW.date() - timedelta(days=100),
                    valid_to=NOW.date() + timedelta(days=600),
                    recorded_at=NOW - timedelta(days=100),
                )
            )  # fmt: skip
        await session.execute(
            sa.text(
                "INSERT INTO credit_scores SELECT 'institution', id, region_code, 100, 'A',"
                " :version, :today, NULL, :now FROM institutions"
                " WHERE id = ANY(CAST(:ids AS uuid[])) ON CONFLICT DO NOTHING"
            ),
            {"today": NOW.date(), "now": NOW, "version": SHIPPED, "ids": list(institutions)},
        )
        await session.execute(
            sa.text(
                "DELETE FROM credit_score_history WHERE subject_id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"ids": list(institutions)},
        )


async def test_a_grade_held_for_24_calendar_months_makes_a_red_list_candidate(
    session_factory: Sessions,
) -> None:
    exactly = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)  # NOW less 24 calendar months
    held_long_enough = await home(session_factory, 1, created_at=exactly)
    a_day_short = await home(session_factory, 2, created_at=exactly + timedelta(days=1))
    await at_grade_a_with_stars(session_factory, held_long_enough, a_day_short)
    async with session_factory() as session, session.begin():
        assert await red_list_candidates(session, context()) == 1
    assert await entries(session_factory) == [("red", "RED_CANDIDATE", held_long_enough)]


async def test_two_complaints_twelve_calendar_months_apart_across_a_short_february_count(
    session_factory: Sessions,
) -> None:
    today = datetime(2026, 2, 28, 2, 0, tzinfo=UTC)  # China: 2026-02-28 10:00
    counted, too_old = await home(session_factory, 1), await home(session_factory, 2)
    for institution, first in ((counted, "2025-02-28"), (too_old, "2025-02-27")):
        for occurred_on in (first, "2026-02-28"):
            body = complaint_body(str(institution), occurred_on=occurred_on)
            await confirmed(session_factory, body, today)
    assert await entries(session_factory) == [("watch", "WATCH_COMPLAINTS", counted)]


async def test_the_watch_list_counts_what_the_policy_calls_a_substantiated_complaint(
    session_factory: Sessions,
) -> None:
    await install_rule(
        session_factory,
        '[lists.substantiated_complaint]\nkind = "complaint"\n'
        'when = { outcome = ["substantiated"], category = ["safety"] }',
    )
    food, safety = await home(session_factory, 1), await home(session_factory, 2)
    for institution, category in ((food, "food"), (safety, "safety")):
        for occurred_on in ("2025-12-01", "2026-02-01"):
            body = complaint_body(str(institution), occurred_on=occurred_on)
            body["details"]["category"] = category
            await confirmed(session_factory, body)
    assert await entries(session_factory) == [("watch", "WATCH_COMPLAINTS", safety)]


async def test_the_red_list_reads_the_same_rule(session_factory: Sessions) -> None:
    long_ago = NOW - timedelta(days=3 * 365)
    food, safety = (
        await home(session_factory, 1, created_at=long_ago),
        await home(session_factory, 2, created_at=long_ago),
    )
    await install_rule(
        session_factory,
        '[lists.substantiated_complaint]\nkind = "complaint"\n'
        'when = { outcome = ["substantiated"], category = ["safety"] }',
    )
    for institution, category in ((food, "food"), (safety, "safety")):
        body = complaint_body(str(institution), occurred_on="2026-01-10")
        body["details"]["category"] = category
        await confirmed(session_factory, body)
    await at_grade_a_with_stars(session_factory, food, safety)
    async with session_factory() as session, session.begin():
        assert await red_list_candidates(session, context()) == 1
    assert [e for e in await entries(session_factory) if e[0] == "red"] == [
        ("red", "RED_CANDIDATE", food)
    ]


@pytest.mark.parametrize(
    ("kind", "when"),
    [
        ("complaint", {"outcome": ["substantiated"]}),
        ("complaint", {"outcome": ["substantiated", "unfounded"], "category": ["food", "safety"]}),
        ("penalty", {"penalty_kinds": ["confiscation"]}),
        ("penalty", {}),
    ],
)
async def test_the_sql_of_a_record_condition_selects_what_its_python_matches(
    session_factory: Sessions, kind: str, when: dict[str, list[str]]
) -> None:
    from service.policy.document import RecordCondition
    from service.triggers.proposals import records_matching

    condition = RecordCondition(kind=RecordKind(kind), when=when)
    institution = str(await home(session_factory, 1))
    for n, (outcome, category) in enumerate(
        [("substantiated", "food"), ("unfounded", "safety"), ("unsubstantiated", "food"),
         ("substantiated", "fees"), ("unfounded", "care_quality")]
    ):  # fmt: skip
        body = complaint_body(
            institution, occurred_on=(date(2026, 1, 1) + timedelta(n)).isoformat()
        )
        body["details"] |= {"outcome": outcome, "category": category}
        await confirmed(session_factory, body)
    for n, kinds in enumerate([["fine"], ["fine", "confiscation"], ["warning"]]):
        details = penalty_details(
            penalty_kinds=kinds, fine_amount="100" if "fine" in kinds else None
        )
        body = penalty_body(
            institution,
            details=details,
            document_no=f"长民罚〔2026〕{n}号",
            occurred_on="2026-02-01",
        )
        await confirmed(session_factory, body)
    async with session_factory() as session:
        every = list((await session.execute(sa.select(Record))).scalars())
        selected = set(
            (
                await session.execute(sa.select(col(Record.id)).where(records_matching(condition)))
            ).scalars()
        )
    assert len(every) == 8
    assert selected == {r.id for r in every if condition.matches(r.kind, r.details)}
    assert selected  # each condition matches something here
