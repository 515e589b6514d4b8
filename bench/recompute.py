"""Benchmark: a full recompute of 100k subjects / 2M records, against one GROUP BY scan.

    .venv/bin/python bench/recompute.py [--runs 3]

Loads the national dataset once (see bench/common.py), then times, in the same run:
one `SELECT institution_id, count(*) FROM records GROUP BY institution_id` (the
baseline) and `credit-service recompute`'s code path, first from empty stored scores
(every subject written) and then again (nothing changed, nothing written). Reports
medians and their ratio to the baseline. Before that it builds the policy's
contribution set from the records, as the first recompute under a policy version does
(decision 0033), reports that once, and vacuums it as autovacuum would.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import sqlalchemy as sa
from common import bench_database, national_dataset
from sqlalchemy.ext.asyncio import AsyncSession

from service.credit.contributions import ensure_built
from service.credit.scoring import recompute
from service.db.engine import make_engine
from service.policy.store import policy_now
from service.wiring import system_context

BASELINE = "SELECT institution_id, count(*) FROM records GROUP BY institution_id"


async def main(url: str, runs: int) -> None:
    counts = await national_dataset(url)
    print(f"dataset: {counts}")
    engine = make_engine(url, pool_size=2)
    # Every registered subject is scored; bench/sync.py adds practitioners to this database.
    async with engine.connect() as connection:
        subjects = await connection.scalar(
            sa.text(
                "SELECT (SELECT count(*) FROM institutions) + (SELECT count(*) FROM practitioners)"
            )
        )
    # The set the recompute sums, built from the records once per policy version.
    async with engine.begin() as connection:
        await connection.execute(sa.text("TRUNCATE credit_contributions, credit_contribution_sets"))
    async with engine.connect() as connection:
        policy = await policy_now(AsyncSession(bind=connection), system_context())
        await connection.execute(sa.text("SET work_mem = '256MB'"))
        started = time.perf_counter()
        rows = await ensure_built(connection, policy)
        built = time.perf_counter() - started
    # As autovacuum leaves a table two million rows were just added to (hint bits set,
    # pages all-visible): the state every later recompute finds.
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(sa.text("VACUUM (ANALYZE) credit_contributions"))
    baseline, cold, warm = [], [], []
    for _ in range(runs):
        async with engine.connect() as connection:
            started = time.perf_counter()
            await connection.execute(sa.text(BASELINE))
            baseline.append(time.perf_counter() - started)
        async with engine.begin() as connection:
            await connection.execute(sa.text("TRUNCATE credit_scores, credit_score_history"))
        report = await recompute(engine, system_context())
        assert report.changed == report.subjects == subjects
        cold.append(report.seconds)
        again = await recompute(engine, system_context())
        assert again.changed == 0
        warm.append(again.seconds)
    await engine.dispose()
    base = statistics.median(baseline)
    print(f"contribution set built ({rows:,} rows): {built:6.2f} s, once per policy version")
    print(f"GROUP BY scan of records:           {base:6.2f} s (median of {runs})")
    for label, times in (
        ("recompute, all scores written", cold),
        ("recompute, nothing changed", warm),
    ):
        median = statistics.median(times)
        print(f"{label + ':':36} {median:6.2f} s  = {median / base:4.1f}x the scan")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    with bench_database() as database_url:
        asyncio.run(main(database_url, arguments.runs))
