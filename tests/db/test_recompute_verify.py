"""`credit-service recompute --verify N`: the engine, the SQL evaluator and the stored
scores of sampled subjects agree on a seeded province, and a difference is reported."""

from __future__ import annotations

import re
import subprocess
import uuid
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from conftest import CLI
from factories import SHIPPED
from sqlalchemy.ext.asyncio import AsyncEngine

from service.credit.verify import Difference, Outcome, differences

SUMMARY = re.compile(
    r"(\d+) subjects scored by the engine and in SQL under policy (\S+) as of \d{4}-\d\d-\d\d, "
    r"(\d+) current stored scores compared: (no|\d+) differences?\n"
)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


async def test_engine_sql_and_stored_scores_agree_on_a_seeded_province(
    cli_env: dict[str, str], clean_db: None, engine: AsyncEngine
) -> None:
    assert cli(cli_env, "seed-demo", "--seed", "3").returncode == 0
    assert cli(cli_env, "recompute").returncode == 0  # every subject has a stored score
    checked = cli(cli_env, "recompute", "--verify", "5000")  # more than there are: all
    assert checked.returncode == 0, checked.stdout + checked.stderr
    summary = SUMMARY.fullmatch(checked.stdout)
    assert summary is not None, checked.stdout
    assert summary.groups() == ("3300", SHIPPED, "3300", "no")
    async with engine.connect() as connection:
        deducted = await connection.scalar(
            sa.text("SELECT count(*) FROM credit_scores WHERE score < 100")
        )
    assert deducted  # the comparison covered scores the records lowered, not only 100s


async def test_a_stored_score_changed_by_hand_is_reported_and_fails_the_check(
    cli_env: dict[str, str], clean_db: None, engine: AsyncEngine
) -> None:
    assert cli(cli_env, "seed-demo", "--seed", "3").returncode == 0
    assert cli(cli_env, "recompute").returncode == 0
    async with engine.begin() as connection:
        kind, subject_id, tampered = (
            await connection.execute(
                sa.text(
                    "UPDATE credit_scores SET score = score - 7 WHERE (subject_kind, subject_id) ="
                    " (SELECT subject_kind, subject_id FROM credit_scores"
                    "  ORDER BY subject_kind, subject_id LIMIT 1)"
                    " RETURNING subject_kind, subject_id, score"
                )
            )
        ).one()
    checked = cli(cli_env, "recompute", "--verify", "5000")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    *lines, summary = checked.stdout.splitlines()
    assert len(lines) == 1, checked.stdout
    assert lines[0].startswith(f"{kind} {subject_id}: engine {tampered + 7} ")
    assert f", stored {tampered} " in lines[0]
    assert summary.endswith("3300 current stored scores compared: 1 difference")


KEY = ("institution", uuid.UUID(int=1))
ENGINE = Outcome(Decimal("97.125"), "A", date(2026, 9, 1))


def test_the_sql_side_disagreeing_is_a_difference() -> None:
    sql = Outcome(Decimal("97.5"), "A", date(2026, 9, 1))
    found = differences([KEY], {KEY: ENGINE}, {KEY: sql}, {})
    assert found == [Difference("institution", KEY[1], ENGINE, sql, None)]
    assert str(found[0]) == (
        f"institution {KEY[1]}: engine 97.125 A (2026-09-01), SQL 97.50 A (2026-09-01)"
    )
    assert differences([KEY], {KEY: ENGINE}, {}, {})[0].sql is None  # no row at all


def test_a_stored_score_is_the_engines_rounded_to_its_column() -> None:
    rounded = Outcome(Decimal("97.13"), "A", date(2026, 9, 1))
    assert differences([KEY], {KEY: ENGINE}, {KEY: ENGINE}, {KEY: rounded}) == []
    truncated = Outcome(Decimal("97.12"), "A", date(2026, 9, 1))
    assert differences([KEY], {KEY: ENGINE}, {KEY: ENGINE}, {KEY: truncated}) == [
        Difference("institution", KEY[1], ENGINE, ENGINE, truncated)
    ]
