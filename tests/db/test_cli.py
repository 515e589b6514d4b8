"""The `credit-service` command as an operator runs it."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from conftest import CLI, bearer
from factories import SHIPPED
from sqlalchemy.ext.asyncio import AsyncEngine


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


async def test_users_create_prints_only_a_working_token(
    client: httpx.AsyncClient, cli_env: dict[str, str], engine: AsyncEngine
) -> None:
    result = cli(
        cli_env, "users", "create", "--role", "inspector", "--region", "3305", "--name", "王检查"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    token = lines[0]
    assert token.startswith("cs_")

    answer = await client.get("/api/v1/institutions", headers=bearer(token))
    assert answer.status_code == 200
    outside = await client.get(
        "/api/v1/institutions", params={"region": "3301"}, headers=bearer(token)
    )
    assert outside.status_code == 403

    async with engine.connect() as connection:
        stored = (await connection.execute(sa.text("SELECT token_hash FROM users"))).scalars().all()
    assert token not in stored
    assert len(stored) == 1


def test_regional_roles_need_a_region(cli_env: dict[str, str], clean_db: None) -> None:
    result = cli(cli_env, "users", "create", "--role", "reviewer", "--name", "李审核")
    assert result.returncode != 0
    assert "region" in result.stderr
    assert result.stdout == ""


async def test_seed_demo_loads_a_reproducible_province_once(
    cli_env: dict[str, str], clean_db: None, engine: AsyncEngine
) -> None:
    first = cli(cli_env, "seed-demo", "--seed", "7")
    assert first.returncode == 0, first.stderr
    assert "300 institutions" in first.stderr
    async with engine.connect() as connection:
        counts = (
            await connection.execute(
                sa.text(
                    "SELECT (SELECT count(*) FROM institutions), (SELECT count(*) FROM practitioners),"
                    " (SELECT count(DISTINCT left(region_code, 2)) FROM institutions)"
                )
            )
        ).one()
        codes = set((await connection.execute(sa.text("SELECT uscc FROM institutions"))).scalars())
        by_kind = await connection.execute(
            sa.text("SELECT kind, count(*) FROM records WHERE status = 'confirmed' GROUP BY kind")
        )
        records = {kind: count for kind, count in by_kind}
        drafts = await connection.scalar(
            sa.text("SELECT count(*) FROM records WHERE status <> 'confirmed'")
        )
    assert tuple(counts) == (300, 3000, 1)
    assert set(records) == {"inspection", "complaint", "abuse_finding", "penalty", "commendation"}
    assert drafts == 0

    again = cli(cli_env, "seed-demo", "--seed", "7", "--if-empty")
    assert again.returncode == 0
    assert "not empty" in again.stderr

    from service.demo.province import generate_demo_province
    from service.demo.records import generate_demo_records

    province = generate_demo_province(7)
    assert codes == {item.uscc for item in province.institutions}
    assert sum(records.values()) == len(generate_demo_records(7, province))
    assert f"{sum(records.values())} confirmed records" in first.stderr


async def test_idempotency_purge_deletes_only_expired_keys(
    cli_env: dict[str, str], clean_db: None, engine: AsyncEngine
) -> None:
    async with engine.begin() as connection:
        for key, age in (("old", timedelta(hours=25)), ("fresh", timedelta(hours=1))):
            await connection.execute(
                sa.text(
                    "INSERT INTO idempotency_keys (owner_id, key, method, path,"
                    " request_fingerprint, headers, created_at, expires_at)"
                    " VALUES (gen_random_uuid(), :key, 'POST', '/api/v1/records', 'f', '{}',"
                    " :created, :expires)"
                ),
                {
                    "key": key,
                    "created": datetime.now(UTC) - age,
                    "expires": datetime.now(UTC) - age + timedelta(hours=24),
                },
            )
    result = cli(cli_env, "idempotency", "purge")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1 expired idempotency keys deleted"
    async with engine.connect() as connection:
        left = (await connection.execute(sa.text("SELECT key FROM idempotency_keys"))).scalars()
        assert list(left) == ["fresh"]


async def test_recompute_scores_every_subject_and_stores_only_changes(
    cli_env: dict[str, str], clean_db: None, engine: AsyncEngine
) -> None:
    seeded = cli(cli_env, "seed-demo", "--seed", "3")
    assert seeded.returncode == 0, seeded.stderr
    first = cli(cli_env, "recompute", "--batch-size", "1000")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"3300 subjects rescored under policy {SHIPPED}")
    async with engine.connect() as connection:
        stored = await connection.scalar(sa.text("SELECT count(*) FROM credit_scores"))
        grades = {
            grade: count
            for grade, count in await connection.execute(
                sa.text("SELECT grade, count(*) FROM credit_scores GROUP BY grade")
            )
        }
    assert stored == 3300
    assert set(grades) <= {"A", "B", "C", "D"}
    assert grades["A"] > grades.get("D", 0)
    again = cli(cli_env, "recompute", "--region", "33")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith("0 changed")


def test_policy_install_list_and_simulate(
    cli_env: dict[str, str], clean_db: None, tmp_path: Path
) -> None:
    from service.policy.load import DEFAULT_POLICY_FILE

    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    draft = tmp_path / "draft.toml"
    draft.write_text(
        text.replace(f'version = "{SHIPPED}"', 'version = "2027.1"').replace(
            'effective_from = "2020-01-01"', 'effective_from = "2099-01-01"'
        ),
        encoding="utf-8",
    )
    simulated = cli(cli_env, "policy", "simulate", str(draft))
    assert simulated.returncode == 0, simulated.stderr
    assert f"policy 2027.1 against {SHIPPED} in force" in simulated.stdout
    assert "grade changes: 0" in simulated.stdout
    installed = cli(cli_env, "policy", "install", str(draft))
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.strip() == "policy 2027.1 installed, effective from 2099-01-01"
    listed = cli(cli_env, "policy", "list")
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == [
        f"* {SHIPPED}",
        "  2027.1",
    ]
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace("[decay]", "[decay"), encoding="utf-8")
    refused = cli(cli_env, "policy", "install", str(broken))
    assert refused.returncode == 1
    assert "line" in refused.stderr
