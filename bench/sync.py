"""Benchmark: push 100,000 records to the platform simulator, without and with faults.

    .venv/bin/python bench/sync.py [--records 100000]

Stages 100k records in ``sync_records`` (black, watch and red list entries and
penalties; one in ten about a person, whose ID number is decrypted as it is sent),
queues them for one platform, starts `credit-service simulator` as its own process
and drains the lane with the worker's code (signed batches of 500, one lane).
Run twice: with a healthy platform, then with a fault every 20 batches in turn
(503, 429 with Retry-After: 1, connection reset, answer dropped after storing, an
answer slower than the sender's timeout). After each run the platform's digest of
every record type must equal ours. Reports records per second.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
from common import bench_database, content_audit_off, dsn, prepare, uscc

from service.db.engine import make_engine, make_session_factory
from service.identity.codes import id_number_with_check_digit
from service.identity.protection import IdNumberVault
from service.integrations.client import PlatformClient
from service.integrations.platforms import parse_platforms
from service.integrations.reconcile import local_view
from service.integrations.sync import connect, drain, register_platforms
from service.logs import configure_logging
from service.secret import Secret

SECRET_KEY = "bench-secret-key-" + "x" * 32
CLIENT, CLIENT_SECRET = "bench", "bench-secret"
CLI = str(Path(sys.executable).parent / "credit-service")
TYPES = ["blacklist", "watchlist", "redlist", "penalty"]
PEOPLE = "BENCH-SYNC-"
FAULTS = [
    {"kind": "unavailable"},
    {"kind": "rate_limit", "retry_after": 1},
    {"kind": "reset"},
    {"kind": "drop_answer"},
    {"kind": "slow", "seconds": 2.5},  # the sender gives up after 2 s
]
FAULT_EVERY = 20  # batches


def platforms_toml(url: str) -> str:
    return f"""
[sender]
name = "湖州市民政局"
uscc = "11330500002638915N"

[[platforms]]
name = "bench"
url = "{url}"
client_id = "{CLIENT}"
secret = "{CLIENT_SECRET}"
timeout = 2
retry_initial = 0.1
retry_max = 2
"""


def id_number(n: int) -> str:
    """A distinct valid ID number per n: a birth day per thousand, a sequence within it."""
    born = date(1960, 1, 1) + timedelta(days=n // 1000)
    return id_number_with_check_digit(f"110105{born:%Y%m%d}{n % 1000:03d}")


def body(n: int, record_type: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "subject": {"kind": "org", "name": f"第{n}养老院", "uscc": uscc(n)},
        "effective_from": "2026-03-01",
        "effective_to": "2029-02-28",
        "reason_code": "ABUSE_ACTUAL_HARM",
        "summary": "经查实，该院护理员对入住老人实施殴打，造成老人身体伤害。",
        "decision_no": f"湖民信决〔2026〕{n}号",
    }
    if record_type == "penalty":
        record["authority"] = {"name": "长兴县民政局", "uscc": "11330522002605222M"}
        record["penalty"] = {
            "decision_no": f"长民罚〔2026〕{n}号", "violation_type": "消防", "penalty_kinds": "fine",
            "content": "罚款人民币伍仟元", "fine_amount": "5000", "decision_date": "2026-06-01",
            "publication_end_date": "2029-06-01", "region_code": "330522",
        }  # fmt: skip
    return record


async def load(url: str, records: int, vault: IdNumberVault) -> None:
    connection = await asyncpg.connect(dsn(url))
    try:
        await connection.execute("TRUNCATE sync_records, outbox, sync_platforms")
        people = records // 10
        now = datetime.now(UTC)
        person_ids = [uuid.uuid4() for _ in range(people)]
        rows = []
        for n, person in enumerate(person_ids):
            protected = vault.protect(id_number(n))
            rows.append(
                (person, f"护理员{n}", protected.lookup_hash, protected.masked,
                 protected.ciphertext, "330522", f"{PEOPLE}{n}", "active", 1, now, now)
            )  # fmt: skip
        # The benchmark's own people, replaced on every run below the service, without
        # content-audit rows (decision 0035; `audit verify --content` names them).
        async with content_audit_off(connection, "practitioners"):
            await connection.execute(
                "DELETE FROM practitioners WHERE certificate_no LIKE $1", PEOPLE + "%"
            )
            await connection.copy_records_to_table(
                "practitioners",
                columns=["id", "name", "id_number_hash", "id_number_masked",
                         "id_number_encrypted", "region_code", "certificate_no", "status",
                         "version", "created_at", "updated_at"],
                records=rows,
            )  # fmt: skip
        staged = []
        for n in range(records):
            record_type = TYPES[n % len(TYPES)]
            content = body(n, record_type)
            person = None
            if n % 10 == 9:
                person = person_ids[n // 10]
                content["subject"] = {"kind": "person", "name": f"护理员{n // 10}"}
            staged.append(
                (f"{record_type[:2].upper()}-bench-{n:07d}", record_type, uuid.uuid4(), 1,
                 "publish", msgspec.json.encode(content).decode(), person, now)
            )  # fmt: skip
        await connection.copy_records_to_table(
            "sync_records",
            columns=["record_id", "record_type", "source_id", "version", "action", "body",
                     "person_id", "updated_at"],
            records=staged,
        )  # fmt: skip
        await connection.execute("ANALYZE sync_records")
    finally:
        await connection.close()


async def queue_all(url: str) -> None:
    connection = await asyncpg.connect(dsn(url))
    try:
        await connection.execute("TRUNCATE outbox")
        await connection.execute(
            "UPDATE sync_platforms SET failures = 0, retry_at = NULL, last_error = NULL"
        )
        await connection.execute(
            """
            INSERT INTO outbox (topic, key, payload, status, attempts, available_at, created_at)
            SELECT 'sync:bench', record_id, jsonb_build_object('version', version), 'pending', 0,
                   now(), now()
            FROM sync_records ORDER BY updated_at, record_id
            """
        )
        await connection.execute("ANALYZE outbox")
    finally:
        await connection.close()


async def start_simulator() -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        CLI, "simulator", "--port", "0", "--client", f"{CLIENT}={CLIENT_SECRET}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    line = (await process.stdout.readline()).decode().strip()
    return process, line.rsplit(" ", 1)[1]


async def inject_faults(sim_url: str, stop: asyncio.Event) -> int:
    """One fault every FAULT_EVERY batches the platform processed, in turn."""
    injected, next_at = 0, FAULT_EVERY
    kinds = itertools.cycle(FAULTS)
    async with httpx.AsyncClient(base_url=sim_url) as http:
        while not stop.is_set():
            stats = (await http.get("/_sim/stats")).json()
            if stats["batches"] >= next_at and stats["faults_pending"] == 0:
                await http.post("/_sim/faults", json={"faults": [next(kinds)]})
                injected += 1
                next_at = stats["batches"] + FAULT_EVERY
            await asyncio.sleep(0.02)
    return injected


async def push(url: str, sim_url: str, vault: IdNumberVault, faults: bool) -> float:
    platforms = parse_platforms(platforms_toml(sim_url))
    platform = platforms.platforms[0]
    engine = make_engine(url, pool_size=2)
    sessions = make_session_factory(engine)
    async with sessions() as session, session.begin():
        await register_platforms(session, platforms)
    await queue_all(url)
    async with httpx.AsyncClient(base_url=sim_url) as http:
        await http.post("/_sim/reset")
    stop = asyncio.Event()
    injector = asyncio.create_task(inject_faults(sim_url, stop)) if faults else None
    started = time.perf_counter()
    failures = 0
    async with connect(platforms, vault) as connections:
        while True:
            lane = await drain(sessions, connections, platform, lambda: datetime.now(UTC))
            if lane.error or lane.skipped == "waiting":
                failures += bool(lane.error)
                assert lane.retry_at is not None
                await asyncio.sleep(max(0.0, (lane.retry_at - datetime.now(UTC)).total_seconds()))
                continue
            if lane.batches == 0:
                break
        elapsed = time.perf_counter() - started
        stop.set()
        injected = await injector if injector else 0
        async with sessions() as session:
            for record_type in TYPES:
                ours = await local_view(session, platform, record_type)
                theirs = await PlatformClient(platform, connections.clients["bench"].http).digest(
                    record_type
                )
                assert (theirs["count"], theirs["digest"]) == (len(ours.records), ours.digest), (
                    record_type
                )
    async with httpx.AsyncClient(base_url=sim_url) as http:
        stats = (await http.get("/_sim/stats")).json()
    await engine.dispose()
    assert stats["out_of_order"] == 0
    print(
        f"  {'with faults' if faults else 'no faults'}: {elapsed:6.2f} s, "
        f"{stats['accepted'] / elapsed:8,.0f} records/s; requests {stats['requests']}, "
        f"faults injected {injected}, failed batches {failures}, duplicates {stats['duplicate']}; "
        "digests equal for every type",
        flush=True,
    )
    return elapsed


async def main(url: str, records: int) -> None:
    configure_logging("console", "ERROR")  # the faults' warnings are expected here
    await prepare(url)
    vault = IdNumberVault(Secret(SECRET_KEY))
    started = time.perf_counter()
    await load(url, records, vault)
    print(f"staged {records:,} records in {time.perf_counter() - started:.1f} s", flush=True)
    simulator, sim_url = await start_simulator()
    try:
        await push(url, sim_url, vault, faults=False)
        await push(url, sim_url, vault, faults=True)
    finally:
        simulator.send_signal(signal.SIGTERM)
        await simulator.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    arguments = parser.parse_args()
    with bench_database() as database_url:
        asyncio.run(main(database_url, arguments.records))
