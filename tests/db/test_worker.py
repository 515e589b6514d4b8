"""The worker as operators run it: real processes, several at once, nothing done twice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from conftest import CLI
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from service.auth.models import SignInAttempt, StaffSession, User
from service.clock import local_date
from service.limits import SIGN_IN_RECORDS_KEPT
from service.listing.models import JobRun, ListEntry

DUE = 10_000


async def worker_once(env: dict[str, str]) -> str:
    """Run `credit-service worker --once` as its own process; its summary line."""
    process = await asyncio.create_subprocess_exec(
        CLI,
        "worker",
        "--once",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=600)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_two_workers_expire_ten_thousand_entries_each_exactly_once(
    cli_env: dict[str, str], clean_db: None, engine: AsyncEngine
) -> None:
    today = local_date(datetime.now(UTC))
    rows = [
        {
            "id": uuid.uuid4(), "list_type": "black", "subject_kind": "institution",
            "subject_id": uuid.uuid4(), "region_code": "330522", "status": "published",
            "reason_code": "TEST", "basis": "", "deadline_by_fallback": False,
            "effective_from": today - timedelta(days=1100), "effective_to": today - timedelta(days=1 + n % 30),
            "published_at": datetime.now(UTC) - timedelta(days=1100), "created_at": datetime.now(UTC),
            "version": 1,
        }
        for n in range(DUE)
    ]  # fmt: skip
    async with engine.begin() as connection:
        await connection.execute(sa.insert(ListEntry), rows)
        # Still in force: must be left alone.
        await connection.execute(
            sa.insert(ListEntry),
            [{**rows[0], "id": uuid.uuid4(), "subject_id": uuid.uuid4(), "effective_to": today}],
        )
    outputs = await asyncio.gather(worker_once(cli_env), worker_once(cli_env))
    expired = [int(out.split("expired ")[1].split(" ")[0]) for out in outputs]
    assert sum(expired) == DUE
    async with engine.connect() as connection:
        transitions, entries = (
            await connection.execute(
                sa.text(
                    "SELECT count(*), count(DISTINCT entry_id) FROM list_transitions"
                    " WHERE action = 'expire'"
                )
            )
        ).one()
        by_status = await connection.execute(
            sa.text("SELECT status, count(*) FROM list_entries GROUP BY status")
        )
        statuses: dict[str, int] = {status: count for status, count in by_status}
        audited = await connection.scalar(
            sa.text("SELECT count(*) FROM audit_log WHERE action = 'list.expire'")
        )
    assert (transitions, entries) == (DUE, DUE)
    assert statuses == {"ended": DUE, "published": 1}
    assert audited == DUE


async def test_daily_jobs_run_once_a_day_whatever_the_number_of_workers(
    cli_env: dict[str, str], clean_db: None, engine: AsyncEngine
) -> None:
    first = await worker_once(cli_env)
    assert "overdue_deficiencies" in first
    again = await worker_once(cli_env)
    assert again.strip().endswith("daily jobs: none due")
    async with engine.connect() as connection:
        runs = (
            await connection.execute(sa.select(col(JobRun.name), col(JobRun.last_run_on)))
        ).all()
    assert sorted(name for name, _ in runs) == [
        "idempotency_purge",
        "outbox_purge",
        "overdue_deficiencies",
        "penalty_publication_end",
        "public_view",
        "red_list_candidates",
        "sign_in_purge",
    ]
    assert {day for _, day in runs} == {local_date(datetime.now(UTC))}
    assert all(isinstance(day, date) for _, day in runs)


async def test_the_daily_purge_drops_sign_in_records_past_their_keeping(
    cli_env: dict[str, str], clean_db: None, engine: AsyncEngine
) -> None:
    now = datetime.now(UTC)
    old, recent = now - SIGN_IN_RECORDS_KEPT - timedelta(hours=1), now - timedelta(days=1)
    user = uuid.uuid4()
    async with engine.begin() as connection:
        await connection.execute(
            sa.insert(User).values(id=user, name="王建国", role="admin", token_hash="0" * 64)
        )
        await connection.execute(
            sa.insert(SignInAttempt),
            [{"login": "wang.jg", "address": "10.0.0.7", "attempted_at": when,
              "outcome": "failure"} for when in (old, recent)],
        )  # fmt: skip
        await connection.execute(
            sa.insert(StaffSession),
            [{"id": uuid.uuid4(), "session_hash": f"{n:064d}", "user_id": user,
              "second_factor_pending": False, "created_at": when, "last_seen_at": when,
              "csrf_token": "t", "address": "10.0.0.7"} for n, when in enumerate((old, recent))],
        )  # fmt: skip
    await worker_once(cli_env)
    async with engine.connect() as connection:
        attempts = list(await connection.scalars(sa.select(col(SignInAttempt.attempted_at))))
        sessions = list(await connection.scalars(sa.select(col(StaffSession.created_at))))
    assert (attempts, sessions) == ([recent], [recent])
