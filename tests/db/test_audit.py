"""Every write leaves a chained audit row; tampering with one is found."""

from __future__ import annotations

import asyncio
import subprocess

import httpx
import pytest
from audit_log import COMMAND_ROWS, seal_now
from conftest import CLI, MakeToken, bearer
from factories import institution_body, practitioner_body
from signing import session_sealer
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from service.audit.chain import verify


async def audit_rows(
    engine: AsyncEngine, *, every: bool = False
) -> list[tuple[int, str, str, str | None]]:
    """The commands' own rows (not the content triggers'), or with ``every`` all of them."""
    await seal_now(engine)
    async with engine.connect() as connection:
        result = await connection.exec_driver_sql(
            "SELECT id, action, target_id, request_id FROM audit_log"
            f" WHERE {'true' if every else COMMAND_ROWS} ORDER BY id"
        )
        return [tuple(row) for row in result.all()]


async def test_each_write_appends_one_audit_row_with_its_request_id(
    client: httpx.AsyncClient, make_token: MakeToken, engine: AsyncEngine
) -> None:
    admin = bearer(await make_token("admin"))
    created = await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    await client.patch(
        f"/api/v1/institutions/{created.json()['id']}",
        json={"beds": 99},
        headers={**admin, "If-Match": created.headers["etag"]},
    )
    refused = await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    assert refused.status_code == 409

    rows = await audit_rows(engine)
    assert [action for _, action, _, _ in rows] == [
        "user.create",
        "institution.create",
        "institution.update",
    ]
    assert rows[1][2] == created.json()["id"]
    assert rows[1][3] == created.headers["x-request-id"]


async def test_concurrent_writers_keep_the_chain_intact(
    client: httpx.AsyncClient, make_token: MakeToken, engine: AsyncEngine
) -> None:
    admin = bearer(await make_token("admin"))
    responses = await asyncio.gather(
        *[
            client.post("/api/v1/practitioners", json=practitioner_body(n), headers=admin)
            for n in range(1, 31)
        ]
    )
    assert {r.status_code for r in responses} == {201}
    await seal_now(engine)
    async with engine.connect() as connection:
        report = await verify(connection, session_sealer().keys)
    assert report.intact
    # The user's and the 30 practitioners' rows, each with its content row (decision 0035).
    assert report.rows_checked == 31 * 2


async def tamper(engine: AsyncEngine, statement: str) -> None:
    """Change the log as someone with owner rights would: switch off the guard first."""
    async with engine.begin() as connection:
        await connection.exec_driver_sql(
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"
        )
        await connection.exec_driver_sql(statement)
        await connection.exec_driver_sql(
            "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"
        )


async def run_verify(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # In a thread: the served app shares this loop, and its sequencer must go on
    # (and let go of the chain lock the command's seal waits for) meanwhile.
    return await asyncio.to_thread(
        subprocess.run,
        [CLI, "audit", "verify"], env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


async def test_audit_verify_reports_an_edited_row(
    client: httpx.AsyncClient,
    make_token: MakeToken,
    engine: AsyncEngine,
    cli_env: dict[str, str],
) -> None:
    admin = bearer(await make_token("admin"))
    for n in range(1, 4):
        await client.post("/api/v1/institutions", json=institution_body(n), headers=admin)
    intact = await run_verify(cli_env)
    assert intact.returncode == 0, intact.stderr
    assert "intact: 8 rows" in intact.stdout  # four commands' rows and their content rows

    target = (await audit_rows(engine))[2][0]
    await tamper(engine, f"UPDATE audit_log SET action = 'institution.delete' WHERE id = {target}")

    broken = await run_verify(cli_env)
    assert broken.returncode == 1
    assert f"broken at row {target}" in broken.stderr


async def test_audit_verify_reports_a_deleted_row(
    client: httpx.AsyncClient, make_token: MakeToken, engine: AsyncEngine, cli_env: dict[str, str]
) -> None:
    admin = bearer(await make_token("admin"))
    for n in range(1, 4):
        await client.post("/api/v1/institutions", json=institution_body(n), headers=admin)
    ids = [row[0] for row in await audit_rows(engine, every=True)]
    await tamper(engine, f"DELETE FROM audit_log WHERE id = {ids[1]}")
    broken = await run_verify(cli_env)
    assert broken.returncode == 1
    assert f"broken at row {ids[2]}" in broken.stderr


async def test_the_service_cannot_rewrite_the_audit_log(
    client: httpx.AsyncClient, make_token: MakeToken, engine: AsyncEngine
) -> None:
    await make_token("admin")
    await seal_now(engine)  # the user's row is in the chain, to be rewritten
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError, match="append-only"):
            await connection.exec_driver_sql("UPDATE audit_log SET action = 'x'")


async def test_the_serving_process_seals_committed_rows_without_being_asked(
    client: httpx.AsyncClient, make_token: MakeToken, engine: AsyncEngine
) -> None:
    admin = bearer(await make_token("admin"))
    created = await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    assert created.status_code == 201
    sealed: list[str] = []
    for _ in range(50):  # the server's sequencer looks every quarter of a second
        async with engine.connect() as connection:
            result = await connection.exec_driver_sql(
                "SELECT action FROM audit_log WHERE action = 'institution.create'"
            )
            sealed = list(result.scalars())
        if sealed:
            break
        await asyncio.sleep(0.1)
    assert sealed == ["institution.create"]
