"""Edits below the service leave a trace (issue 15 §2, decision 0035).

The attacker here is someone with the database's owner rights and a plain connection
(psql, a script): no service marker on it. What they change in a protected table is in
the audit chain as ``outside_service.*`` with their database role, unless they switch
the audit trigger off, and then ``audit verify --content`` names the row. A confirmed
record's status moves only through the service.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
import sqlalchemy as sa
from audit_log import seal_now
from conftest import MakeToken, MovableClock, bearer, libpq_dsn
from factories import (
    abuse_body,
    complaint_body,
    inspection_body,
    institution_body,
    practitioner_body,
)
from processes import run_cli
from signing import session_sealer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.actor import Role
from service.audit.chain import verify
from service.audit.content import (
    CHANGED,
    CONTENT_ROWS,
    GONE,
    NOT_ALWAYS,
    PROTECTED,
    TRIGGER,
    UNAUDITED,
    row_hash_sql,
)
from service.auth.admin import change_role_and_region
from service.auth.service import create_user
from service.clock import CHINA_TZ
from service.context import CommandContext
from service.records import service
from service.records.schemas import RecordIn, RecordRevocationIn
from service.registry.schemas import InstitutionCreate
from service.registry.service import create_institution
from service.tables import metadata
from service.wiring import system_context

Sessions = async_sessionmaker[AsyncSession]


def context() -> CommandContext:
    return system_context(clock=lambda: datetime.now(UTC))


async def confirmed_inspection(sessions: Sessions) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """An institution and a confirmed inspection of it, through the service: their ids
    and the first deficiency's."""
    ctx = context()
    async with sessions() as session, session.begin():
        home = await create_institution(
            session, ctx, msgspec.convert(institution_body(1), InstitutionCreate)
        )
        view = await service.create_record(
            session, ctx, msgspec.convert(inspection_body(str(home.id)), RecordIn), confirm=True
        )
    return home.id, view.record.id, view.deficiencies[0].id


@pytest.fixture
async def attacker(database_url: str, clean_db: None) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection, as psql's: it does not carry the service's marker. Whatever a
    test switched off is switched back on after it, as migration 0013 left it."""
    connection = await asyncpg.connect(libpq_dsn(database_url))
    try:
        yield connection
    finally:
        await connection.execute("RESET ALL")
        for table in PROTECTED:
            await connection.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {TRIGGER}")
        await connection.execute("ALTER TABLE records ENABLE TRIGGER records_guard")
        await connection.execute("ALTER TABLE deficiencies ENABLE TRIGGER deficiencies_guard")
        await connection.close()


async def content_rows(
    engine: AsyncEngine, target_type: str, target_id: object
) -> list[dict[str, Any]]:
    """The target's content rows in the chain (sealed first, as the sequencer would)."""
    await seal_now(engine)
    async with engine.connect() as connection:
        result = await connection.execute(
            sa.text(
                "SELECT id, action, actor_role, before_digest, after_digest, request_id"
                f" FROM audit_log WHERE target_type = :type AND target_id = :id AND {CONTENT_ROWS}"
                " ORDER BY id"
            ),
            {"type": target_type, "id": str(target_id)},
        )
        return [dict(row._mapping) for row in result]


async def present_hash(engine: AsyncEngine, table: str, row_id: object) -> str:
    async with engine.connect() as connection:
        digest = await connection.scalar(
            sa.text(f"SELECT {row_hash_sql(table)} FROM {table} t WHERE id = :id"),
            {"id": row_id},
        )
    assert isinstance(digest, str)
    return digest


async def verify_content(env: dict[str, str]) -> tuple[int, str, str]:
    return await run_cli(env, "audit", "verify", "--content")


def test_every_protected_column_is_a_column_of_its_table() -> None:
    for table, protected in PROTECTED.items():
        columns = set(metadata.tables[table].columns.keys())
        assert "id" in columns, table  # the audit rows' target
        assert set(protected.columns) <= columns, table
        assert len(set(protected.columns)) == len(protected.columns), table


async def test_an_edit_in_replication_mode_is_in_the_chain_with_its_database_role(
    attacker: asyncpg.Connection,
    engine: AsyncEngine,
    session_factory: Sessions,
    cli_env: dict[str, str],
) -> None:
    _, record_id, _ = await confirmed_inspection(session_factory)
    role = await attacker.fetchval("SELECT current_user")
    async with attacker.transaction():
        # Replication mode silences ordinary triggers (the guard among them)...
        await attacker.execute("SET LOCAL session_replication_role = replica")
        await attacker.execute("UPDATE records SET legal_basis = 'forged' WHERE id = $1", record_id)
    async with engine.connect() as connection:
        stored = await connection.scalar(
            sa.text("SELECT legal_basis FROM records WHERE id = :id"), {"id": record_id}
        )
    assert stored == "forged"  # the guard did not stop it

    # ...but not the audit trigger, enabled ALWAYS: the edit is in the chain, with the
    # database role that made it and the hashes before and after.
    rows = await content_rows(engine, "record", record_id)
    assert [(row["action"], row["actor_role"]) for row in rows] == [
        ("content.insert", "service"),
        ("content.update", "service"),  # confirmed
        ("outside_service.update", role),
    ]
    assert rows[2]["before_digest"] == rows[1]["after_digest"]
    assert rows[2]["after_digest"] == await present_hash(engine, "records", record_id)

    # The content is what its last audited write left, so no row is named; the write
    # from outside the service is counted and shown.
    code, out, err = await verify_content(cli_env)
    assert code == 0, out + err
    assert "content matches the chain" in out
    assert "1 writes made outside the service in the chain" in out
    assert f"outside_service.update of record {record_id} by database role {role}" in out


async def test_an_edit_with_the_triggers_disabled_is_named_by_verify(
    attacker: asyncpg.Connection,
    engine: AsyncEngine,
    session_factory: Sessions,
    cli_env: dict[str, str],
) -> None:
    _, record_id, _ = await confirmed_inspection(session_factory)
    async with attacker.transaction():
        await attacker.execute("ALTER TABLE records DISABLE TRIGGER USER")
        await attacker.execute("UPDATE records SET legal_basis = 'forged' WHERE id = $1", record_id)
        # A careful attacker puts the triggers back as they were.
        await attacker.execute(f"ALTER TABLE records ENABLE ALWAYS TRIGGER {TRIGGER}")
        await attacker.execute("ALTER TABLE records ENABLE TRIGGER records_guard")
    rows = await content_rows(engine, "record", record_id)
    assert [row["action"] for row in rows] == ["content.insert", "content.update"]  # no trace

    code, out, err = await verify_content(cli_env)
    assert code == 1
    assert "audit chain intact" in out  # the chain itself is untouched
    assert f"records {record_id}: {CHANGED}" in err
    assert "content does not match the chain: 1 problems" in err
    assert "0 writes made outside the service" in out


async def test_a_trigger_switched_back_on_only_for_ordinary_sessions_is_named(
    attacker: asyncpg.Connection, session_factory: Sessions, cli_env: dict[str, str]
) -> None:
    await confirmed_inspection(session_factory)
    # ENABLE TRIGGER USER after a DISABLE: the audit trigger is on, but no longer ALWAYS.
    await attacker.execute("ALTER TABLE institutions DISABLE TRIGGER USER")
    await attacker.execute("ALTER TABLE institutions ENABLE TRIGGER USER")
    code, _, err = await verify_content(cli_env)
    assert code == 1
    assert f"institutions: {NOT_ALWAYS}" in err


async def test_a_confirmed_record_is_revoked_only_through_the_service(
    attacker: asyncpg.Connection, engine: AsyncEngine, session_factory: Sessions
) -> None:
    _, record_id, _ = await confirmed_inspection(session_factory)
    with pytest.raises(asyncpg.RaiseError, match="only the service may change its status"):
        await attacker.execute(
            "UPDATE records SET status = 'revoked', revoked_at = now(),"
            " revocation_reason = 'by hand' WHERE id = $1",
            record_id,
        )
    async with session_factory() as session, session.begin():
        view = await service.revoke_record(
            session, context(), record_id, RecordRevocationIn(reason="录入错误")
        )
    assert view.record.status == "revoked"
    rows = await content_rows(engine, "record", record_id)
    assert [row["action"] for row in rows] == [
        "content.insert",
        "content.update",
        "content.update",  # revoked, by the service
    ]


async def test_a_rename_by_plain_sql_is_sealed_into_the_chain_without_a_verify(
    attacker: asyncpg.Connection,
    database_url: str,
    engine: AsyncEngine,
    session_factory: Sessions,
) -> None:
    home_id, _, _ = await confirmed_inspection(session_factory)
    await attacker.execute("UPDATE institutions SET name = '改名养老院' WHERE id = $1", home_id)

    # A role with just the rights it needs, the way a clerk's account would be: the row
    # names the role it acted as, and the login behind it.
    clerk = f"clerk_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    await attacker.execute(f"CREATE ROLE {clerk}")
    try:
        await attacker.execute(f"GRANT SELECT, UPDATE ON institutions TO {clerk}")
        # The trigger writes as the role that fired it: without the queue, no write at all.
        await attacker.execute(f"GRANT INSERT ON audit_queue TO {clerk}")
        async with attacker.transaction():
            await attacker.execute(f"SET LOCAL ROLE {clerk}")
            await attacker.execute(
                "UPDATE institutions SET status = 'closed' WHERE id = $1", home_id
            )
        login = await attacker.fetchval("SELECT session_user")
        rows = await content_rows(engine, "institution", home_id)
    finally:
        await attacker.execute(f"DROP OWNED BY {clerk}")
        await attacker.execute(f"DROP ROLE {clerk}")

    assert [(row["action"], row["actor_role"], row["request_id"]) for row in rows] == [
        ("content.insert", "service", None),
        ("outside_service.update", login, None),
        ("outside_service.update", clerk[:20], f"db:{login}"),
    ]
    assert rows[2]["after_digest"] == await present_hash(engine, "institutions", home_id)
    async with engine.connect() as connection:
        report = await verify(connection, session_sealer().keys)
    assert report.intact  # sealed like every other row, the sequencer's ordinary work


async def test_rows_deleted_or_inserted_with_the_triggers_off_are_named_until_vouched_for(
    attacker: asyncpg.Connection,
    engine: AsyncEngine,
    session_factory: Sessions,
    cli_env: dict[str, str],
) -> None:
    _, _, deficiency_id = await confirmed_inspection(session_factory)
    ghost = uuid.uuid4()
    async with attacker.transaction():
        await attacker.execute("SET LOCAL session_replication_role = replica")
        await attacker.execute("ALTER TABLE deficiencies DISABLE TRIGGER USER")
        await attacker.execute("ALTER TABLE institutions DISABLE TRIGGER USER")
        await attacker.execute("DELETE FROM deficiencies WHERE id = $1", deficiency_id)
        await attacker.execute(
            "INSERT INTO institutions (id, name, uscc, region_code, kind, beds, address,"
            " status, version, created_at, updated_at) VALUES ($1, '幽灵养老院',"
            " '52330522MJ0000000X', '330522', 'residential', 10, '', 'operating', 1, now(),"
            " now())",
            ghost,
        )
        await attacker.execute(f"ALTER TABLE deficiencies ENABLE ALWAYS TRIGGER {TRIGGER}")
        await attacker.execute(f"ALTER TABLE institutions ENABLE ALWAYS TRIGGER {TRIGGER}")
        await attacker.execute("ALTER TABLE deficiencies ENABLE TRIGGER deficiencies_guard")

    code, out, err = await verify_content(cli_env)
    assert code == 1
    assert f"deficiencies {deficiency_id}: {GONE}" in err
    assert f"institutions {ghost}: {UNAUDITED}" in err
    assert "content does not match the chain: 2 problems" in err

    # Someone who checked the data vouches for it as it stands: from then on it is clean.
    code, out, err = await run_cli(cli_env, "audit", "baseline")
    assert code == 0, err
    assert "deficiencies: 1 baseline rows" in out
    assert "institutions: 1 baseline rows" in out
    assert "2 baseline rows sealed into the audit chain" in out
    vouched = await content_rows(engine, "institution", ghost)
    assert [(row["action"], row["actor_role"]) for row in vouched] == [
        ("content.baseline", "system")
    ]
    code, out, err = await verify_content(cli_env)
    assert code == 0, out + err
    assert "content matches the chain" in out


def at(day: str, hour: int = 10) -> datetime:
    """A moment on a day, China time."""
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=CHINA_TZ).astimezone(UTC)


async def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json() if response.content else {}
    return answer


async def test_the_services_own_flows_leave_nothing_to_report(
    client: httpx.AsyncClient,
    make_token: MakeToken,
    clock: MovableClock,
    session_factory: Sessions,
    cli_env: dict[str, str],
) -> None:
    admin = bearer(await make_token("admin"))
    inspector = bearer(await make_token("inspector", "3305", name="王建国"))
    reviewer = bearer(await make_token("reviewer", "3305", name="赵审核"))

    # Subjects: created, one renamed and its beds changed (not a protected column).
    created = await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    home = (await ok(created, 201))["id"]
    await ok(
        await client.patch(
            f"/api/v1/institutions/{home}",
            json={"name": "莲都区第1颐养院（新址）", "beds": 99},
            headers={**admin, "If-Match": created.headers["etag"]},
        )
    )
    person = (
        await ok(
            await client.post("/api/v1/practitioners", json=practitioner_body(1), headers=admin),
            201,
        )
    )["id"]

    # Records: confirmed, corrected (the first superseded), the correction revoked; an
    # inspection confirmed and a deficiency rectified; a draft discarded.
    records = "/api/v1/records"
    first = await ok(
        await client.post(
            records, json=complaint_body(home), params={"confirm": True}, headers=inspector
        ),
        201,
    )
    correction = await ok(
        await client.post(
            f"{records}/{first['id']}/corrections",
            json={"reason": "日期有误", "record": complaint_body(home, occurred_on="2026-04-03")},
            params={"confirm": True},
            headers=inspector,
        ),
        201,
    )
    await ok(
        await client.post(
            f"{records}/{correction['id']}/revoke", json={"reason": "重复录入"}, headers=inspector
        )
    )
    inspection = await ok(
        await client.post(
            records, json=inspection_body(home), params={"confirm": True}, headers=inspector
        ),
        201,
    )
    serious = inspection["deficiencies"][0]["id"]
    await ok(
        await client.post(
            f"{records}/{inspection['id']}/deficiencies/{serious}/rectification",
            json={"rectified_on": "2026-03-22"},
            headers=inspector,
        )
    )
    drafted = await client.post(records, json=inspection_body(home), headers=inspector)
    draft = await ok(drafted, 201)
    discarded = await client.delete(
        f"{records}/{draft['id']}", headers={**inspector, "If-Match": drafted.headers["etag"]}
    )
    await ok(discarded, 204)

    # A user created, then given another role.
    async with session_factory() as session, session.begin():
        user, _ = await create_user(
            session, context(), name="钱审核", role=Role.INSPECTOR, region_code="3305"
        )
    async with session_factory() as session, session.begin():
        await change_role_and_region(
            session, context(), user_id=user.id, role=Role.REVIEWER, region_code="33"
        )

    # A list entry through its due process: proposed by the abuse finding, notified,
    # decided after the objection period and published; the other one withdrawn.
    clock.set(at("2025-09-26"))
    finding = await client.post(
        records,
        json=abuse_body(home, person, occurred_on="2025-09-20"),
        params={"confirm": True},
        headers=inspector,
    )
    await ok(finding, 201)
    entries = "/api/v1/list-entries"

    async def black_list_proposal(subject: str) -> dict[str, Any]:
        listed = await ok(await client.get(entries, params={"subject_id": subject}, headers=admin))
        items: list[dict[str, Any]] = listed["items"]
        (proposal,) = [item for item in items if item["list_type"] == "black"]
        return proposal

    entry, other = await black_list_proposal(home), await black_list_proposal(person)
    await ok(
        await client.post(
            f"{entries}/{entry['id']}/notify", json={"basis_document": "湖民信告〔2025〕3号"},
            headers=inspector,
        )
    )  # fmt: skip
    await ok(await client.post(f"{entries}/{other['id']}/withdraw", json={}, headers=inspector))
    clock.set(at("2025-10-13"))
    decided = await client.post(
        f"{entries}/{entry['id']}/decision",
        json={"list": True, "comment": "列入", "basis_document": "湖民信决〔2025〕1号"},
        headers=reviewer,
    )
    assert (await ok(decided))["status"] == "listed"
    published = await client.post(
        f"{entries}/{entry['id']}/publish", json={"basis_document": "湖民信公〔2025〕1号"},
        headers=reviewer,
    )  # fmt: skip
    assert (await ok(published))["status"] == "published"

    code, out, err = await verify_content(cli_env)
    assert code == 0, out + err
    assert err == ""
    assert "content matches the chain" in out
    assert "0 writes made outside the service in the chain" in out
    # Every kind of protected row was written, each by the service and audited.
    async with session_factory() as session:
        kinds = set(
            await session.scalars(
                sa.text("SELECT DISTINCT target_type FROM audit_log WHERE action LIKE 'content.%'")
            )
        )
        deletes = await session.scalar(
            sa.text("SELECT count(*) FROM audit_log WHERE action = 'content.delete'")
        )
    assert kinds == {protected.target_type for protected in PROTECTED.values()}
    assert deletes == 3  # the draft and its two deficiencies
