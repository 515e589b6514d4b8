"""Benchmark: how fast the sequencer seals queued audit rows into the chain.

    .venv/bin/python bench/seal.py [--rows 200000] [--rounds 3]

Each round fills ``audit_queue`` of a database of its own (``bench_seal``, on
BENCH_DATABASE_URL's server, dropped at the end) with ``--rows`` rows, as commands
queue them, and times ``chain.seal`` moving them all into ``audit_log`` (in batches of
5,000 in one transaction, the CLI's `audit seal`). The baseline, in the same round, is
the same rows copied by one ``INSERT … SELECT`` with constant hashes and deleted from
the queue: the table work without the chaining. Then `chain.verify` walks the chain.
Prints rows/s for each and the ratio: the capacity of one sealer, against which the
write rates of bench/ingest.py (and a national peak) can be put.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

import sqlalchemy as sa
from common import bench_database, prepare
from writers import dedicated_database

from service.audit.chain import SealSigner, seal, verify
from service.db.engine import make_engine
from service.signing.keys import load_or_create

# The key every sealing process of a deployment shares; the benchmark's own, under var/.
SIGNER = SealSigner(load_or_create(Path("var/bench-signing/ed25519.pem")))

QUEUE = """
INSERT INTO audit_queue (occurred_at, actor_id, actor_role, action, target_type,
                         target_id, before_digest, after_digest, request_id)
SELECT now(), gen_random_uuid(), 'inspector', 'record.confirm', 'record',
       gen_random_uuid()::text, md5(n::text) || md5(n::text), md5(n::text) || md5(n::text),
       'bench-' || n
FROM generate_series(1, :rows) AS n
"""
COPY = """
WITH moved AS (DELETE FROM audit_queue RETURNING *)
INSERT INTO audit_log (occurred_at, actor_id, actor_role, action, target_type, target_id,
                       before_digest, after_digest, request_id, prev_hash, row_hash)
SELECT occurred_at, actor_id, actor_role, action, target_type, target_id, before_digest,
       after_digest, request_id, repeat('0', 64), repeat('0', 64)
FROM moved ORDER BY id
"""


async def round_(url: str, rows: int) -> tuple[float, float, float]:
    engine = make_engine(url, pool_size=2)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.text("TRUNCATE audit_log, audit_queue"))
            await connection.execute(sa.text(QUEUE), {"rows": rows})
        started = time.perf_counter()
        async with engine.begin() as connection:
            await connection.execute(sa.text(COPY))
        copied = time.perf_counter() - started

        async with engine.begin() as connection:
            await connection.execute(sa.text("TRUNCATE audit_log, audit_queue"))
            await connection.execute(sa.text(QUEUE), {"rows": rows})
        started = time.perf_counter()
        async with engine.begin() as connection:
            sealed = await seal(connection, SIGNER)
        sealing = time.perf_counter() - started
        assert sealed == rows, (sealed, rows)

        started = time.perf_counter()
        async with engine.connect() as connection:
            report = await verify(connection, SIGNER.keys)
        verifying = time.perf_counter() - started
        assert report.intact, report
        assert report.rows_checked == rows, report
        return copied, sealing, verifying
    finally:
        await engine.dispose()


def main(url: str, rows: int, rounds: int) -> None:
    asyncio.run(prepare(url))
    copies, seals, verifies = [], [], []
    for n in range(rounds):
        copied, sealing, verifying = asyncio.run(round_(url, rows))
        copies.append(copied)
        seals.append(sealing)
        verifies.append(verifying)
        print(
            f"round {n + 1}: copy {rows / copied:,.0f} rows/s, seal {rows / sealing:,.0f} "
            f"rows/s ({sealing / copied:.1f}× the copy's time), verify {rows / verifying:,.0f} "
            "rows/s",
            flush=True,
        )
    copied, sealing = statistics.median(copies), statistics.median(seals)
    print(f"medians of {rounds} round(s), {rows:,} rows each:")
    print(f"  INSERT … SELECT of the queue into the log (baseline): {rows / copied:,.0f} rows/s")
    print(
        f"  chain.seal: {rows / sealing:,.0f} rows/s = {sealing / copied:.1f}× the baseline's "
        f"time; audit verify walks {rows / statistics.median(verifies):,.0f} rows/s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    with bench_database() as server_url, dedicated_database(server_url, "bench_seal") as url:
        main(url, arguments.rows, arguments.rounds)
