"""Proposals the policy makes by itself, against the database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from factories import (
    SHIPPED,
    inspection_body,
    institution_body,
    penalty_body,
    penalty_details,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from service.context import CommandContext
from service.credit.models import StarRating
from service.listing.models import ListEntry
from service.records import service as records
from service.records.schemas import RecordIn
from service.registry.schemas import InstitutionCreate
from service.registry.service import create_institution
from service.triggers.proposals import overdue_deficiencies, red_list_candidates
from service.wiring import system_context

Sessions = async_sessionmaker[AsyncSession]
pytestmark = pytest.mark.usefixtures("clean_db")
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def context() -> CommandContext:
    return system_context(clock=lambda: NOW)


async def home(sessions: Sessions, n: int, **overrides: Any) -> uuid.UUID:
    async with sessions() as session, session.begin():
        created = await create_institution(
            session, context(), msgspec.convert(institution_body(n), InstitutionCreate)
        )
        for name, value in overrides.items():
            setattr(created, name, value)
    return created.id


async def record(sessions: Sessions, body: dict[str, Any]) -> None:
    async with sessions() as session, session.begin():
        await records.create_record(
            session, context(), msgspec.convert(body, RecordIn), confirm=True
        )


async def entries(sessions: Sessions) -> list[tuple[str, str, uuid.UUID]]:
    async with sessions() as session:
        rows = await session.execute(
            sa.select(
                col(ListEntry.list_type), col(ListEntry.reason_code), col(ListEntry.subject_id)
            ).order_by(col(ListEntry.created_at))
        )
        return [(list_type, reason, subject) for list_type, reason, subject in rows]


async def test_grade_c_proposes_the_watch_list_once(session_factory: Sessions) -> None:
    institution = await home(session_factory, 1)
    for n in range(2):
        details = penalty_details(severity="serious")
        await record(
            session_factory,
            penalty_body(
                str(institution), details=details, document_no=f"罚{n}", occurred_on="2026-10-01"
            ),
        )
    assert await entries(session_factory) == [("watch", "WATCH_GRADE", institution)]


async def test_a_serious_deficiency_left_past_its_deadline_proposes_the_watch_list(
    session_factory: Sessions,
) -> None:
    late, on_time = await home(session_factory, 1), await home(session_factory, 2)
    for institution, deadline in ((late, "2026-11-01"), (on_time, "2026-12-01")):
        body = inspection_body(str(institution), occurred_on="2026-10-20")
        body["deficiencies"] = [{"item": "消防通道堵塞", "severity": "serious", "scope": "isolated",
                                 "rectification_deadline": deadline}]  # fmt: skip
        await record(session_factory, body)
    async with session_factory() as session, session.begin():
        assert await overdue_deficiencies(session, context()) == 1
    async with session_factory() as session, session.begin():
        assert await overdue_deficiencies(session, context()) == 0  # already proposed
    assert await entries(session_factory) == [("watch", "WATCH_OVERDUE_DEFICIENCY", late)]


async def test_red_list_candidates_need_the_grade_for_years_and_the_stars(
    session_factory: Sessions,
) -> None:
    long_ago = NOW - timedelta(days=3 * 365)
    good = await home(session_factory, 1, created_at=long_ago)
    few_stars = await home(session_factory, 2, created_at=long_ago)
    too_new = await home(session_factory, 3, created_at=NOW - timedelta(days=200))
    async with session_factory() as session, session.begin():
        for institution, level in ((good, 4), (few_stars, 3), (too_new, 5)):
            session.add(
                StarRating(
                    institution_id=institution, level=level, assessor="评定委员会",
                    assessed_on=NOW.date() - timedelta(days=100), valid_from=NOW.date() - timedelta(days=100),
                    valid_to=NOW.date() + timedelta(days=600), recorded_at=NOW - timedelta(days=100),
                )
            )  # fmt: skip
        # Scores as the nightly recompute leaves them: grade A, no history of anything else.
        await session.execute(
            sa.text(
                "INSERT INTO credit_scores SELECT 'institution', id, region_code, 100, 'A',"
                " :version, :today, NULL, :now FROM institutions"
            ),
            {"today": NOW.date(), "now": NOW, "version": SHIPPED},
        )
    async with session_factory() as session, session.begin():
        assert await red_list_candidates(session, context()) == 1
    assert await entries(session_factory) == [("red", "RED_CANDIDATE", good)]
