"""Shared parts of the benchmarks: the database they run on, and the national-scale data.

The database is the one named by BENCH_DATABASE_URL (a PostgreSQL the benchmark may
fill and empty), or else an embedded cluster under ./var/bench. ``national_dataset``
loads 100,000 institutions with 2,000,000 records (and their deficiencies, star
ratings and list entries) once, through the same lifecycle as the service (drafts,
then confirmed, so the guard triggers stay on), and reuses them on the next run.

A bulk load writes below the service, so the content-audit triggers would queue one
``outside_service`` row per row loaded (decision 0035): ``content_audit_off`` switches
them off around the COPY, and ``vouch_and_seal`` records one baseline row per loaded row
afterwards and seals the queue, so that no benchmark's serving process spends its run
sealing a backlog.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg

from service.audit.chain import seal
from service.audit.content import TRIGGER, Vouching, record_baseline
from service.db.embedded import EmbeddedPostgres
from service.db.engine import make_engine, make_session_factory
from service.db.migrate import upgrade
from service.identity.codes import USCC_ALPHABET, uscc_with_check_character
from service.policy.store import ensure_shipped
from service.wiring import system_context

INSTITUTIONS = 100_000
RECORDS = 2_000_000
CHUNK = 100_000
NOW = datetime.now(UTC)
REGIONS = [f"33{n:04d}" for n in (102, 105, 106, 108, 109, 110, 111, 112, 122, 127, 182)]


@contextmanager
def bench_database() -> Iterator[str]:
    """A SQLAlchemy URL of the benchmark database."""
    configured = os.environ.get("BENCH_DATABASE_URL")
    if configured:
        yield configured
        return
    embedded = EmbeddedPostgres(Path("var/bench"))
    try:
        yield embedded.start()
    finally:
        embedded.stop()


def dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def uscc(n: int) -> str:
    region = REGIONS[n % len(REGIONS)]
    body = ""
    for _ in range(9):
        body = USCC_ALPHABET[n % 31] + body
        n //= 31
    return uscc_with_check_character("52" + region + body)


def institution_uscc(index: int) -> str:
    return uscc(index * 7 + 3)


async def prepare(url: str) -> None:
    engine = make_engine(url, pool_size=2)
    await upgrade(engine)
    async with make_session_factory(engine)() as session, session.begin():
        await ensure_shipped(session, system_context())
    await engine.dispose()


@asynccontextmanager
async def content_audit_off(connection: asyncpg.Connection, *tables: str) -> AsyncIterator[None]:
    """The tables' content-audit triggers off while a bulk load runs, ENABLE ALWAYS again
    after it (even when it fails), as migration 0013 left them."""
    for table in tables:
        await connection.execute(f"ALTER TABLE {table} DISABLE TRIGGER {TRIGGER}")
    try:
        yield
    finally:
        for table in tables:
            await connection.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {TRIGGER}")


async def vouch_and_seal(url: str, *, vouch: bool = True) -> None:
    """With ``vouch``, a baseline for every protected row no audited write accounts for
    (what a bulk load wrote); then seal everything queued (the migration's baseline of an
    upgraded database too), before any benchmark runs."""
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            if vouch:
                await record_baseline(connection, Vouching(actor_role="bench"))
            await seal(connection)
    finally:
        await engine.dispose()


def _details(rng: random.Random, kind: str) -> dict[str, object]:
    if kind == "complaint":
        outcome = rng.choices(["substantiated", "unsubstantiated", "unfounded"], [35, 40, 25])[0]
        return {"channel": "phone", "category": "care_quality", "outcome": outcome}
    if kind == "abuse_finding":
        return {"category": "neglect", "harm": rng.choice(["actual", "potential"])}
    if kind == "penalty":
        severity = rng.choices(["minor", "general", "serious"], [30, 55, 15])[0]
        return {
            "violation_type": "消防", "violation_facts": "x", "penalty_kinds": ["fine"],
            "content": "罚款", "severity": severity, "fine_amount": "5000",
            "authority_name": "民政局", "authority_uscc": "11330522002605222M",
            "publication_end_date": "2029-01-01",
        }  # fmt: skip
    if kind == "commendation":
        return {"title": "示范", "awarding_body": "民政厅", "level": "county"}
    return {"inspection_type": "random", "inspectors": ["甲", "乙"]}


async def national_dataset(url: str) -> dict[str, int]:
    """Load the dataset unless it is there already; return its counts."""
    await prepare(url)
    connection = await asyncpg.connect(dsn(url))
    try:
        have = await connection.fetchval("SELECT count(*) FROM institutions")
        if have == INSTITUTIONS:
            await vouch_and_seal(url, vouch=False)
            return await _counts(connection)
        started = time.perf_counter()
        await connection.execute(
            "TRUNCATE institutions, practitioners, employments, records, deficiencies,"
            " credit_scores, credit_score_history, credit_contributions,"
            " credit_contribution_sets, star_ratings, list_entries CASCADE"
        )
        async with content_audit_off(
            connection, "institutions", "records", "deficiencies", "list_entries"
        ):
            await _load(connection)
        loaded = time.perf_counter()
        await vouch_and_seal(url)
        await connection.execute("ANALYZE")
        print(
            f"loaded the national dataset in {loaded - started:.0f} s, its content audit "
            f"baseline recorded and sealed in {time.perf_counter() - loaded:.0f} s"
        )
        return await _counts(connection)
    finally:
        await connection.close()


async def _counts(connection: asyncpg.Connection) -> dict[str, int]:
    counts = {}
    for table in ("institutions", "records", "deficiencies", "star_ratings", "list_entries"):
        counts[table] = int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
    return counts


async def _load(connection: asyncpg.Connection) -> None:
    rng = random.Random(2026)
    ids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(INSTITUTIONS)]
    await connection.copy_records_to_table(
        "institutions",
        columns=["id", "name", "uscc", "region_code", "kind", "beds", "address", "status",
                 "version", "created_at", "updated_at"],
        records=[
            (ids[i], f"第{i}养老院", institution_uscc(i), institution_uscc(i)[2:8], "residential",
             80, "", "operating", 1, NOW, NOW)
            for i in range(INSTITUTIONS)
        ],
    )  # fmt: skip
    kinds = ["inspection", "complaint", "penalty", "abuse_finding", "commendation"]
    weights = [45, 35, 10, 2, 8]
    for start in range(0, RECORDS, CHUNK):
        records, deficiencies = [], []
        for _ in range(CHUNK):
            record_id = uuid.UUID(int=rng.getrandbits(128))
            index = rng.randrange(INSTITUTIONS)
            kind = rng.choices(kinds, weights)[0]
            occurred = date(2023, 6, 1) + timedelta(days=rng.randrange(1240))
            records.append(
                (record_id, kind, "draft", record_id, index, occurred,
                 json.dumps(_details(rng, kind), ensure_ascii=False))
            )  # fmt: skip
            if kind == "inspection":
                for position in range(1, rng.choices([1, 2, 3, 4], [50, 30, 15, 5])[0] + 1):
                    rectified = (
                        occurred + timedelta(days=rng.randrange(60)) if rng.random() < 0.7 else None
                    )
                    deficiencies.append(
                        (uuid.UUID(int=rng.getrandbits(128)), record_id, position, "缺陷",
                         rng.choices(["minor", "general", "serious", "critical"], [50, 35, 12, 3])[0],
                         rng.choices(["isolated", "pattern", "widespread"], [60, 30, 10])[0],
                         occurred + timedelta(days=30), rectified,
                         min(NOW, datetime.combine(rectified + timedelta(days=1), datetime.min.time(), UTC)) if rectified else None)
                    )  # fmt: skip
        await connection.copy_records_to_table(
            "records",
            columns=["id", "kind", "status", "chain_id", "institution_id", "region_code",
                     "occurred_on", "details", "version", "recorded_at", "updated_at"],
            records=[
                (r[0], r[1], r[2], r[3], ids[r[4]], institution_uscc(r[4])[2:8], r[5], r[6], 1, NOW, NOW)
                for r in records
            ],
        )  # fmt: skip
        await connection.copy_records_to_table(
            "deficiencies",
            columns=["id", "record_id", "position", "item", "severity", "scope",
                     "rectification_deadline", "rectified_on", "rectification_recorded_at"],
            records=deficiencies,
        )  # fmt: skip
        print(f"  records {start + CHUNK:,} / {RECORDS:,}", flush=True)
    # Confirmed three days after the fact (never in the future), as an inspector would.
    await connection.execute(
        "UPDATE records SET status = 'confirmed', version = 2, confirmed_at ="
        " LEAST($1, (occurred_on + 3)::timestamptz) WHERE status = 'draft'",
        NOW,
    )
    await connection.copy_records_to_table(
        "star_ratings",
        columns=["id", "institution_id", "level", "assessor", "assessed_on", "valid_from",
                 "valid_to", "recorded_at"],
        records=[
            (uuid.UUID(int=rng.getrandbits(128)), ids[i], rng.randint(1, 5), "评定委员会",
             date(2025, 1, 1), date(2025, 1, 1), date(2028, 12, 31), datetime(2025, 1, 1, tzinfo=UTC))
            for i in range(0, INSTITUTIONS, 3)
        ],
    )  # fmt: skip
    await connection.copy_records_to_table(
        "list_entries",
        columns=["id", "list_type", "subject_kind", "subject_id", "region_code", "status",
                 "reason_code", "basis", "effective_from", "effective_to", "published_at",
                 "created_at", "version"],
        records=[
            (uuid.UUID(int=rng.getrandbits(128)), "black" if i % 2 else "watch", "institution",
             ids[i], institution_uscc(i)[2:8], "published", "BENCH", "", date(2025, 1, 1),
             date(2028, 1, 1), datetime(2025, 1, 1, tzinfo=UTC), NOW, 1)
            for i in range(0, INSTITUTIONS, 50)
        ],
    )  # fmt: skip
