"""The sync as it runs: the real worker process against the simulator process, over HTTP.

After every scenario the platform's digest must equal ours: nothing lost, nothing
doubled (the platform holds each record once, at our current version), and the
simulator never saw a version of a record after a newer one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from conftest import TEST_SECRET_KEY
from factories import (
    AUTHORITY_USCC,
    institution_body,
    make_id_number,
    make_uscc,
    penalty_body,
    penalty_details,
    practitioner_body,
    wrong_check_character,
)
from processes import cli_output
from simulated import (
    PLATFORM,
    SimulatorProcess,
    WorkerProcess,
    backlog,
    digests,
    eventually,
    platform_of,
    platforms_toml,
    published_blacklist_entry,
    record_body,
    registered,
    stage_blacklist,
    sync_env,
    withdraw_blacklist,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.identity.protection import IdNumberVault
from service.integrations.models import ExternalRecord
from service.integrations.platforms import Platforms, parse_platforms
from service.integrations.staging import Staged, stage
from service.integrations.sync import connect, drain
from service.secret import Secret

Sessions = async_sessionmaker[AsyncSession]


async def assert_platform_holds_ours(
    sessions: Sessions, platforms: Platforms, simulator: SimulatorProcess, count: int
) -> dict[str, Any]:
    ours, theirs = await digests(sessions, platforms.platforms[0])
    assert ours[0] == count
    assert theirs == ours
    stats = await simulator.stats()
    assert stats["out_of_order"] == 0
    assert stats["rejected"] == 0
    return stats


FAULTS = {
    "rate_limit": {"kind": "rate_limit", "retry_after": 1, "times": 2},
    "unavailable": {"kind": "unavailable", "times": 3},
    "reset": {"kind": "reset", "times": 2},
    # Longer than the sender's 1 s timeout: it gives up, the platform stores anyway.
    "slow": {"kind": "slow", "seconds": 1.5, "times": 1},
    "drop_answer": {"kind": "drop_answer", "times": 2},
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_every_fault_ends_with_the_platform_holding_exactly_our_records(
    fault: str,
    simulator: SimulatorProcess,
    session_factory: Sessions,
    cli_env: dict[str, str],
    tmp_path: Path,
    clean_db: None,
) -> None:
    platforms = await registered(session_factory, platform_of(simulator.url))
    await stage_blacklist(session_factory, range(1, 1201))  # three batches: 500, 500, 200
    await simulator.faults(FAULTS[fault])
    worker = WorkerProcess(sync_env(cli_env, tmp_path, simulator.url))
    await worker.start()
    try:

        async def fault_applied() -> bool:
            applied = (await simulator.stats())["faults_applied"].get(fault, 0)
            return bool(applied >= FAULTS[fault]["times"])

        await eventually(fault_applied, what=f"the {fault} fault")
        # Changes while the lane is busy or backing off: new versions and withdrawals.
        await stage_blacklist(session_factory, range(1, 301), revision=1)
        await withdraw_blacklist(session_factory, range(1001, 1101))
        await stage_blacklist(session_factory, range(1, 51), revision=2)

        async def drained() -> bool:
            return await backlog(session_factory) == 0

        await eventually(drained, what="an empty backlog")
    finally:
        await worker.stop()
    stats = await assert_platform_holds_ours(session_factory, platforms, simulator, 1200)
    assert stats["records"] == 1200
    stored = await simulator.control("GET", "/_sim/records?client_id=hz-mz&record_type=blacklist")
    versions = {r["record"]["record_id"]: r["version"] for r in stored["records"]}
    assert versions["BL-test-000001"] == 3  # staged three times, each a new version
    assert versions["BL-test-000300"] == 2
    assert versions["BL-test-001050"] == 2  # withdrawn after its first version


async def test_a_worker_killed_mid_batch_leaves_nothing_lost_or_doubled(
    simulator: SimulatorProcess,
    session_factory: Sessions,
    cli_env: dict[str, str],
    tmp_path: Path,
    clean_db: None,
) -> None:
    platforms = await registered(session_factory, platform_of(simulator.url, timeout=10))
    await stage_blacklist(session_factory, range(1, 2001))
    # The first batch takes 2 s to answer: the worker is in the middle of it when killed.
    await simulator.faults({"kind": "slow", "seconds": 2})
    env = sync_env(cli_env, tmp_path, simulator.url, timeout=10)
    first = WorkerProcess(env)
    await first.start()

    async def in_the_middle() -> bool:
        return bool((await simulator.stats())["faults_applied"].get("slow"))

    await eventually(in_the_middle, what="the first batch in flight")
    await first.kill()
    assert await backlog(session_factory) == 2000  # the killed transaction settled nothing

    async def first_batch_stored() -> bool:
        return bool((await simulator.stats())["accepted"] >= 500)

    await eventually(first_batch_stored, what="the answer that nobody heard")
    second = WorkerProcess(env)
    await second.start()
    try:

        async def drained() -> bool:
            return await backlog(session_factory) == 0

        await eventually(drained, what="an empty backlog")
    finally:
        await second.stop()
    stats = await assert_platform_holds_ours(session_factory, platforms, simulator, 2000)
    assert stats["duplicate"] >= 500  # the batch went again; the platform knew it


async def test_records_published_while_the_platform_is_down_arrive_when_it_is_back(
    simulator: SimulatorProcess,
    session_factory: Sessions,
    cli_env: dict[str, str],
    tmp_path: Path,
    client: httpx.AsyncClient,
    admin: dict[str, str],
) -> None:
    platforms = await registered(session_factory, platform_of(simulator.url))
    await simulator.stop()
    worker = WorkerProcess(sync_env(cli_env, tmp_path, simulator.url))
    await worker.start()
    try:
        await stage_blacklist(session_factory, range(1, 701))

        async def failing() -> bool:
            status = (await client.get("/api/v1/admin/sync", headers=admin)).json()
            lane = status["platforms"][0]
            return bool(lane["failures"] >= 2 and lane["last_error"])

        await eventually(failing, what="the worker to notice the platform is down")
        down = (await client.get("/api/v1/admin/sync", headers=admin)).json()["platforms"][0]
        assert (down["name"], down["backlog"], down["last_success_at"]) == (PLATFORM, 700, None)
        assert "ConnectError" in down["last_error"]
        assert down["oldest_pending_age_seconds"] > 0
        metrics = (await client.get("/metrics")).text
        assert f'credit_service_sync_backlog{{platform="{PLATFORM}"}} 700.0' in metrics

        await simulator.start()  # same port

        async def drained() -> bool:
            return await backlog(session_factory) == 0

        await eventually(drained, what="an empty backlog")
    finally:
        await worker.stop()
    await assert_platform_holds_ours(session_factory, platforms, simulator, 700)
    up = (await client.get("/api/v1/admin/sync", headers=admin)).json()["platforms"][0]
    assert (up["backlog"], up["dead_letters"], up["failures"], up["last_error"]) == (0, 0, 0, None)
    assert up["last_success_at"] is not None
    metrics = (await client.get("/metrics")).text
    assert f'credit_service_sync_backlog{{platform="{PLATFORM}"}} 0.0' in metrics


async def test_the_lane_waits_as_long_as_retry_after_says(
    simulator: SimulatorProcess, session_factory: Sessions, clean_db: None
) -> None:
    platforms = await registered(session_factory, platform_of(simulator.url))
    platform = platforms.platforms[0]
    await stage_blacklist(session_factory, range(1, 11))
    await simulator.faults({"kind": "rate_limit", "retry_after": 30})
    before = datetime.now(UTC)
    async with connect(platforms, IdNumberVault(Secret(TEST_SECRET_KEY))) as connections:
        refused = await drain(session_factory, connections, platform, lambda: datetime.now(UTC))
        assert refused.error is not None
        assert "429" in refused.error
        assert refused.retry_at is not None
        assert timedelta(seconds=29) < refused.retry_at - before < timedelta(seconds=32)
        waiting = await drain(session_factory, connections, platform, lambda: datetime.now(UTC))
        assert (waiting.skipped, waiting.delivered) == ("waiting", 0)
        assert (await simulator.stats())["requests"] == 1  # it did not knock again
        later = await drain(
            session_factory,
            connections,
            platform,
            lambda: datetime.now(UTC) + timedelta(seconds=31),
        )
    assert later.delivered == 10
    await assert_platform_holds_ours(session_factory, platforms, simulator, 10)


async def published_entry_of_legacy_home(sessions: Sessions, uscc: str) -> uuid.UUID:
    """A home whose USCC was imported before validation, black-listed and published."""
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        home = uuid.uuid4()
        await session.execute(
            sa.text(
                "INSERT INTO institutions (id, name, uscc, region_code, kind, beds, address, status,"
                " version, created_at, updated_at) VALUES (:id, '长兴县老旧养老院', :uscc, '330522',"
                " 'residential', 40, '', 'operating', 1, :now, :now)"
            ),
            {"id": home, "uscc": uscc, "now": now},
        )
    return await published_blacklist_entry(sessions, home)


async def test_a_rejected_record_is_a_dead_letter_until_corrected_and_sent_again(
    simulator: SimulatorProcess,
    session_factory: Sessions,
    cli_env: dict[str, str],
    tmp_path: Path,
    client: httpx.AsyncClient,
    admin: dict[str, str],
) -> None:
    platforms = await registered(session_factory, platform_of(simulator.url))
    env = sync_env(cli_env, tmp_path, simulator.url)
    wrong = wrong_check_character(make_uscc(7))
    entry = await published_entry_of_legacy_home(session_factory, wrong)
    await stage_blacklist(session_factory, range(1, 4))  # three good records in the same batch

    code, out = await cli_output(env, "sync", "push")
    assert code == 0, out
    assert f"{PLATFORM}: 3 delivered, 1 rejected" in out
    status = (await client.get("/api/v1/admin/sync", headers=admin)).json()["platforms"][0]
    assert (status["backlog"], status["dead_letters"]) == (0, 1)
    (dead,) = status["recent_dead_letters"]
    assert (dead["record_id"], dead["version"]) == (f"BL-{entry}", 1)
    assert dead["reason"] == "rejected: invalid_uscc"

    async with session_factory() as session, session.begin():
        await session.execute(
            sa.text("UPDATE institutions SET uscc = :good WHERE uscc = :wrong"),
            {"good": make_uscc(7), "wrong": wrong},
        )
    code, out = await cli_output(env, "sync", "retry-dead", "--platform", PLATFORM)
    assert code == 0, out
    assert "1 dead letters queued again" in out
    code, out = await cli_output(env, "sync", "push")
    assert f"{PLATFORM}: 1 delivered, 0 rejected" in out
    status = (await client.get("/api/v1/admin/sync", headers=admin)).json()["platforms"][0]
    assert (status["backlog"], status["dead_letters"]) == (0, 0)
    held = await simulator.control("GET", "/_sim/records?client_id=hz-mz&record_type=blacklist")
    ours = next(r for r in held["records"] if r["record"]["record_id"] == f"BL-{entry}")
    assert ours["version"] == 2  # the corrected content is a new version
    assert ours["record"]["subject"]["uscc"] == make_uscc(7)
    ours_count, theirs = await digests(session_factory, platforms.platforms[0])
    assert theirs == ours_count


async def test_reconcile_finds_what_the_platform_lost_and_sends_it_again(
    simulator: SimulatorProcess,
    session_factory: Sessions,
    cli_env: dict[str, str],
    tmp_path: Path,
    clean_db: None,
) -> None:
    platforms = await registered(session_factory, platform_of(simulator.url))
    env = sync_env(cli_env, tmp_path, simulator.url)
    await stage_blacklist(session_factory, range(1, 61))
    code, out = await cli_output(env, "sync", "push")
    assert code == 0, out
    code, out = await cli_output(env, "sync", "reconcile")
    assert code == 0, out
    assert f"platform {PLATFORM}: in sync" in out

    await simulator.control("POST", "/_sim/reset")  # the platform restored an old backup
    await stage_blacklist(session_factory, range(1, 11), revision=1)  # and these are in flight
    code, out = await cli_output(env, "sync", "reconcile")
    assert code == 2, out
    assert f"platform {PLATFORM}: DRIFT" in out
    assert "blacklist: local 60" in out
    assert "platform 0 " in out
    assert "missing 60: BL-test-000001" in out
    assert "re-sent 50, already queued 10" in out

    code, out = await cli_output(env, "sync", "push")
    assert f"{PLATFORM}: 60 delivered" in out
    code, out = await cli_output(env, "sync", "reconcile")
    assert code == 0, out
    await assert_platform_holds_ours(session_factory, platforms, simulator, 60)


def feed_item(
    seq_hint: int, record_type: str, subject: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {
        "record_id": f"EXT-{record_type}-{seq_hint}",
        "version": 1,
        "record_type": record_type,
        "action": "publish",
        "subject": subject,
        "effective_from": "2026-10-01",
        "effective_to": None,
        "reason_code": "JUDGMENT_UNPERFORMED",
        "summary": "有履行能力而拒不履行生效法律文书确定义务",
        "authority": {"name": "长兴县人民法院"},
    } | extra


async def test_pull_imports_other_departments_lists_once_and_proposes_court_debtors(
    simulator: SimulatorProcess,
    session_factory: Sessions,
    cli_env: dict[str, str],
    tmp_path: Path,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    reviewer: dict[str, str],
) -> None:
    home = (
        await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    ).json()
    other = (
        await client.post("/api/v1/institutions", json=institution_body(2), headers=admin)
    ).json()
    worker_body = practitioner_body(5, name="李四海")
    person = (await client.post("/api/v1/practitioners", json=worker_body, headers=admin)).json()
    court_home = feed_item(1, "court_dishonest", {"kind": "org", "name": "x", "uscc": make_uscc(1)})
    items = [
        court_home,
        feed_item(2, "court_dishonest",
                  {"kind": "person", "name": "李四海", "id_number": make_id_number(5)}),
        feed_item(3, "market_serious_violation",
                  {"kind": "org", "name": "y", "uscc": make_uscc(2)}),
        feed_item(4, "court_dishonest", {"kind": "org", "name": "外地公司", "uscc": make_uscc(99)}),
        feed_item(5, "flood_control_blacklist", {"kind": "org", "name": "z", "uscc": make_uscc(2)}),
        court_home,  # a repeat
        {"record_id": "EXT-odd-6", "version": 1, "action": "erase"},  # no such action
    ]  # fmt: skip
    await simulator.control("POST", "/_sim/feed", {"items": items})
    env = sync_env(cli_env, tmp_path, simulator.url)
    code, out = await cli_output(env, "sync", "pull")
    assert code == 0, out
    assert (
        f"{PLATFORM}: 7 items, 5 imported, 1 repeats, 1 malformed, 4 matched, "
        "2 black-list proposals"
    ) in out

    async with session_factory() as session:
        held = {
            r.record_id: r for r in (await session.execute(sa.select(ExternalRecord))).scalars()
        }
        cursor = await session.scalar(sa.text("SELECT inbound_cursor FROM sync_platforms"))
    assert cursor
    assert set(held) == {f"EXT-{t}" for t in (
        "court_dishonest-1", "court_dishonest-2", "market_serious_violation-3",
        "court_dishonest-4", "flood_control_blacklist-5")}  # fmt: skip
    assert str(held["EXT-court_dishonest-1"].institution_id) == home["id"]
    assert str(held["EXT-court_dishonest-2"].practitioner_id) == person["id"]
    assert held["EXT-court_dishonest-2"].subject_name == "李*海"
    assert (
        held["EXT-court_dishonest-2"].id_number_masked
        == make_id_number(5)[:6] + "********" + make_id_number(5)[-4:]
    )
    assert make_id_number(5) not in str(held["EXT-court_dishonest-2"].item)
    assert held["EXT-court_dishonest-4"].institution_id is None  # not one of ours
    assert held["EXT-market_serious_violation-3"].proposed_entry_id is None  # kept, not acted on
    assert held["EXT-flood_control_blacklist-5"].proposed_entry_id is None

    entries = (await client.get("/api/v1/list-entries", headers=admin)).json()["items"]
    assert sorted((e["subject_id"], e["reason_code"], e["status"]) for e in entries) == sorted(
        [(home["id"], "COURT_DISHONEST_DEBTOR", "proposed"),
         (person["id"], "COURT_DISHONEST_DEBTOR", "proposed")]
    )  # fmt: skip
    assert other["id"] not in {e["subject_id"] for e in entries}

    shown = (await client.get("/api/v1/external-records", params={"matched": True},
                              headers=reviewer)).json()  # fmt: skip
    assert shown["total"] == 4

    code, out = await cli_output(env, "sync", "pull")  # nothing new: the cursor was stored
    assert f"{PLATFORM}: 0 items, 0 imported" in out
    await simulator.control(
        "POST", "/_sim/feed", {"items": [court_home | {"version": 2, "summary": "补充"}]}
    )
    code, out = await cli_output(env, "sync", "pull")
    assert (
        f"{PLATFORM}: 1 items, 1 imported, 0 repeats, 0 malformed, 1 matched, 0 black-list" in out
    )
    entries = (await client.get("/api/v1/list-entries", headers=admin)).json()["items"]
    assert len(entries) == 2  # the open proposal is not proposed again


async def test_publishing_and_ending_a_list_entry_or_a_penalty_writes_the_outbox(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    reviewer: dict[str, str],
    session_factory: Sessions,
) -> None:
    async with session_factory() as session, session.begin():
        await session.execute(
            sa.text(
                "INSERT INTO sync_platforms (name, record_types, pull, enabled, registered_at,"
                " failures) VALUES ('national', '{penalty}', false, true, now(), 0),"
                " ('provincial', '{blacklist,penalty}', false, true, now(), 0)"
            )
        )
    home = (
        await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    ).json()
    warning = penalty_body(home["id"], details=penalty_details(penalty_kinds=["warning"],
                           fine_amount=None, content="警告"))  # fmt: skip
    fined = penalty_body(home["id"], document_no="长民罚〔2026〕4号")
    for body in (warning, fined):
        response = await client.post("/api/v1/records", json=body, params={"confirm": True},
                                     headers=admin)  # fmt: skip
        assert response.status_code == 201, response.text
    record = response.json()
    correction = await client.post(
        f"/api/v1/records/{record['id']}/corrections",
        json={"reason": "罚款金额更正",
              "record": fined | {"details": penalty_details(fine_amount="3000")}},
        params={"confirm": True}, headers=admin,
    )  # fmt: skip
    assert correction.status_code == 201, correction.text
    revoked = await client.post(
        f"/api/v1/records/{correction.json()['id']}/revoke", json={"reason": "复议撤销"},
        headers=reviewer,
    )  # fmt: skip
    assert revoked.status_code == 200, revoked.text

    async with session_factory() as session:
        rows = (
            await session.execute(
                sa.text("SELECT topic, key, (payload->>'version')::int FROM outbox ORDER BY id")
            )
        ).all()
        synced = (
            await session.execute(
                sa.text("SELECT record_id, version, action, body FROM sync_records")
            )
        ).all()
    chain = f"PN-{record['id']}"
    (only,) = synced  # the warning alone is never disclosed
    assert (only.record_id, only.version, only.action) == (chain, 3, "withdraw")
    assert only.body["penalty"]["fine_amount"] == "3000"
    assert [tuple(r) for r in rows] == [
        ("sync:national", chain, 1), ("sync:provincial", chain, 1),
        ("sync:national", chain, 2), ("sync:provincial", chain, 2),
        ("sync:national", chain, 3), ("sync:provincial", chain, 3),
    ]  # fmt: skip


async def test_each_platform_gets_the_record_types_it_takes(
    simulator: SimulatorProcess,
    session_factory: Sessions,
    cli_env: dict[str, str],
    tmp_path: Path,
    clean_db: None,
) -> None:
    """Two platforms in one file, each with its own client, secret and record types."""
    simulator_two = SimulatorProcess()
    await simulator_two.start()
    try:
        second = platforms_toml(simulator_two.url).split("[[platforms]]")[1]
        second = second.replace(f'name = "{PLATFORM}"', 'name = "national"')
        second = second.replace(
            'record_types = ["blacklist", "watchlist", "redlist", "penalty"]',
            'record_types = ["penalty"]',
        )
        text = platforms_toml(simulator.url) + "\n[[platforms]]" + second
        (tmp_path / "platforms.toml").write_text(text, encoding="utf-8")
        env = cli_env | {"PLATFORMS_FILE": str(tmp_path / "platforms.toml")}
        platforms = await registered(session_factory, parse_platforms(text))
        await stage_blacklist(session_factory, range(1, 601))
        penalty = record_body(900) | {
            "authority": {"name": "长兴县民政局", "uscc": AUTHORITY_USCC},
            "penalty": {"content": "罚款人民币伍仟元", "fine_amount": "5000"},
        }
        async with session_factory() as session, session.begin():
            await stage(
                session, datetime.now(UTC), [Staged("PN-test-1", "penalty", uuid.uuid4(), penalty)]
            )
        code, out = await cli_output(env, "sync", "push")
        assert code == 0, out
        assert f"{PLATFORM}: 601 delivered, 0 rejected" in out
        assert "national: 1 delivered, 0 rejected" in out
        province, national = platforms.platforms
        assert (await digests(session_factory, province, "blacklist"))[1][0] == 600
        assert (await digests(session_factory, province, "penalty"))[1][0] == 1
        ours, theirs = await digests(session_factory, national, "penalty")
        assert theirs == ours
        assert ours[0] == 1
        assert (await simulator_two.stats())["records"] == 1  # no list entry went there
    finally:
        await simulator_two.stop()
