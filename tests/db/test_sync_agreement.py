"""The platforms hold what our sources say: after a subject changes, after a change that
was never staged, after a platform altered what it holds; and a feed we do not pull
is never read.

The real `credit-service` commands run against the simulator process over HTTP.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from factories import institution_body, penalty_body
from processes import run_cli
from simulated import (
    CLIENT_ID,
    PLATFORM,
    SimulatorProcess,
    platform_of,
    published_blacklist_entry,
    record_id,
    registered,
    stage_blacklist,
    sync_env,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.integrations.client import PlatformClient

Sessions = async_sessionmaker[AsyncSession]
OLD_NAME, NEW_NAME = "长兴县夕阳红养老院", "长兴县康宁颐养中心"


async def held(simulator: SimulatorProcess, record_type: str) -> dict[str, dict[str, Any]]:
    """What the platform holds of one type, by record id."""
    stored = await simulator.control(
        "GET", f"/_sim/records?client_id={CLIENT_ID}&record_type={record_type}"
    )
    return {r["record"]["record_id"]: r for r in stored["records"]}


async def synced_home(
    client: httpx.AsyncClient, admin: dict[str, str], sessions: Sessions
) -> tuple[dict[str, Any], str, str]:
    """A home with a disclosed penalty and a published black-list entry: the home, and
    the platform record ids of the penalty and of the entry."""
    home = (
        await client.post(
            "/api/v1/institutions", json=institution_body(1, name=OLD_NAME), headers=admin
        )
    ).json()
    penalty = await client.post(
        "/api/v1/records", json=penalty_body(home["id"]), params={"confirm": True}, headers=admin
    )
    assert penalty.status_code == 201, penalty.text
    entry = f"BL-{await published_blacklist_entry(sessions, uuid.UUID(home['id']))}"
    return home, f"PN-{penalty.json()['chain_id']}", entry


async def versions(sessions: Sessions, *record_ids: str) -> list[tuple[int, str]]:
    async with sessions() as session:
        rows = await session.execute(
            sa.text(
                "SELECT record_id, version, body->'subject'->>'name' AS name FROM sync_records"
                " WHERE record_id = ANY(:ids)"
            ),
            {"ids": list(record_ids)},
        )
        found = {row.record_id: (row.version, row.name) for row in rows}
    return [found[record_id] for record_id in record_ids]


async def test_renaming_a_home_sends_its_penalty_and_list_entry_again_with_the_new_name(
    simulator: SimulatorProcess,
    session_factory: Sessions,
    cli_env: dict[str, str],
    tmp_path: Path,
    client: httpx.AsyncClient,
    admin: dict[str, str],
) -> None:
    await registered(session_factory, platform_of(simulator.url))
    env = sync_env(cli_env, tmp_path, simulator.url)
    home, penalty, entry = await synced_home(client, admin, session_factory)
    code, out, err = await run_cli(env, "sync", "push")
    assert code == 0, out + err
    assert (await held(simulator, "penalty"))[penalty]["record"]["subject"]["name"] == OLD_NAME

    renamed = await client.patch(
        f"/api/v1/institutions/{home['id']}",
        json={"name": NEW_NAME},
        headers={**admin, "If-Match": '"1"'},
    )
    assert renamed.status_code == 200, renamed.text
    assert await versions(session_factory, penalty, entry) == [(2, NEW_NAME), (2, NEW_NAME)]
    disclosed = (await client.get("/api/v1/disclosures/penalties", headers=admin)).json()
    assert [row["subject_name"] for row in disclosed["items"]] == [NEW_NAME]

    code, out, err = await run_cli(env, "sync", "push")
    assert code == 0, out + err
    assert f"{PLATFORM}: 2 delivered, 0 rejected" in out
    penalties, entries = await held(simulator, "penalty"), await held(simulator, "blacklist")
    assert (penalties[penalty]["version"], penalties[penalty]["record"]["subject"]["name"]) == (
        2,
        NEW_NAME,
    )
    assert (entries[entry]["version"], entries[entry]["record"]["subject"]["name"]) == (
        2,
        NEW_NAME,
    )
    # A change the records do not carry (the number of beds) is not a new version.
    beds = await client.patch(
        f"/api/v1/institutions/{home['id']}",
        json={"beds": 80},
        headers={**admin, "If-Match": '"2"'},
    )
    assert beds.status_code == 200, beds.text
    assert await versions(session_factory, penalty, entry) == [(2, NEW_NAME), (2, NEW_NAME)]
    code, out, err = await run_cli(env, "sync", "reconcile", "--deep")
    assert code == 0, out + err
    assert f"platform {PLATFORM}: in sync" in out


async def test_reconcile_finds_a_change_that_was_never_sent_and_sends_it(
    simulator: SimulatorProcess,
    session_factory: Sessions,
    cli_env: dict[str, str],
    tmp_path: Path,
    client: httpx.AsyncClient,
    admin: dict[str, str],
) -> None:
    """The platform holds the old name: the home was renamed in the database directly,
    or before renaming sent anything again."""
    await registered(session_factory, platform_of(simulator.url))
    env = sync_env(cli_env, tmp_path, simulator.url)
    home, penalty, entry = await synced_home(client, admin, session_factory)
    code, out, err = await run_cli(env, "sync", "push")
    assert code == 0, out + err
    async with session_factory() as session, session.begin():
        await session.execute(
            sa.text("UPDATE institutions SET name = :name WHERE id = :id"),
            {"name": NEW_NAME, "id": home["id"]},
        )

    code, out, err = await run_cli(env, "sync", "reconcile", "--dry-run")
    assert code == 2, out + err
    assert f"platform {PLATFORM}: DRIFT" in out
    assert f"changed at the source 1: {penalty}" in out
    assert f"changed at the source 1: {entry}" in out
    assert await versions(session_factory, penalty, entry) == [(1, OLD_NAME), (1, OLD_NAME)]

    code, out, err = await run_cli(env, "sync", "reconcile")
    assert code == 2, out + err
    assert f"changed at the source 1: {penalty}" in out
    assert f"behind 1: {penalty}" in out
    assert "re-sent 0, already queued 1" in out
    assert await versions(session_factory, penalty, entry) == [(2, NEW_NAME), (2, NEW_NAME)]
    code, out, err = await run_cli(env, "sync", "push")
    assert f"{PLATFORM}: 2 delivered, 0 rejected" in out
    assert (await held(simulator, "penalty"))[penalty]["record"]["subject"]["name"] == NEW_NAME
    assert (await held(simulator, "blacklist"))[entry]["record"]["subject"]["name"] == NEW_NAME
    code, out, err = await run_cli(env, "sync", "reconcile")
    assert code == 0, out + err
    assert f"platform {PLATFORM}: in sync" in out


async def test_a_deep_reconcile_finds_other_content_at_our_version_and_replaces_it(
    simulator: SimulatorProcess,
    session_factory: Sessions,
    cli_env: dict[str, str],
    tmp_path: Path,
    clean_db: None,
) -> None:
    """The platform holds our versions, one of them with other content (restored from a
    copy another sender wrote): the protocol's digest cannot see it; the records can."""
    platforms = await registered(session_factory, platform_of(simulator.url))
    env = sync_env(cli_env, tmp_path, simulator.url)
    await stage_blacklist(session_factory, range(1, 6))
    code, out, err = await run_cli(env, "sync", "push")
    assert code == 0, out + err
    stored = await held(simulator, "blacklist")
    await simulator.control("POST", "/_sim/reset")
    altered = [r["record"] for r in stored.values()]
    altered[2] = altered[2] | {"summary": "被篡改的内容"}
    async with httpx.AsyncClient() as http:
        answers = await PlatformClient(platforms.platforms[0], http).post_records(altered)
    assert {answer["status"] for answer in answers} == {"accepted"}

    code, out, err = await run_cli(env, "sync", "reconcile")
    assert code == 0, out + err  # ids, versions and statuses agree: all the digest covers
    code, out, err = await run_cli(env, "sync", "reconcile", "--deep")
    assert code == 2, out + err
    assert f"other content 1: {record_id(3)}" in out
    assert "re-sent 1, already queued 0" in out
    code, out, err = await run_cli(env, "sync", "push")
    assert f"{PLATFORM}: 1 delivered, 0 rejected" in out
    now_held = (await held(simulator, "blacklist"))[record_id(3)]
    assert (now_held["version"], now_held["record"]["summary"]) == (2, "查实虐老")
    code, out, err = await run_cli(env, "sync", "reconcile", "--deep")
    assert code == 0, out + err
    assert f"platform {PLATFORM}: in sync" in out


async def test_a_platform_with_pull_false_is_never_pulled_from(
    simulator: SimulatorProcess,
    session_factory: Sessions,
    cli_env: dict[str, str],
    tmp_path: Path,
    clean_db: None,
) -> None:
    await registered(session_factory, platform_of(simulator.url, pull=False))
    item = {
        "record_id": "EXT-court-1", "version": 1, "record_type": "court_dishonest",
        "action": "publish", "subject": {"kind": "org", "name": "某公司", "uscc": "x"},
        "effective_from": "2026-10-01", "authority": {"name": "长兴县人民法院"},
    }  # fmt: skip
    await simulator.control("POST", "/_sim/feed", {"items": [item]})
    env = sync_env(cli_env, tmp_path, simulator.url, pull=False)

    code, out, err = await run_cli(env, "sync", "pull")
    assert code == 0, out + err
    assert f"{PLATFORM}: not pulled (pull = false in the platforms file)" in out
    code, out, err = await run_cli(env, "sync", "pull", "--platform", PLATFORM)
    assert code == 1, out + err
    assert f"{PLATFORM}: not pulled (pull = false in the platforms file)" in err
    async with session_factory() as session:
        imported = await session.scalar(sa.text("SELECT count(*) FROM external_records"))
        cursor = await session.scalar(sa.text("SELECT inbound_cursor FROM sync_platforms"))
    assert (imported, cursor) == (0, None)
    assert (await simulator.stats())["requests"] == 0  # not even one look at the feed
