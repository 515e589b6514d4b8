"""Benchmark: confirmed records through the API, against pgbench in the same run.

    .venv/bin/python bench/ingest.py [--rounds 3] [--seconds 20] [--clients 32]

Each round runs ``pgbench -c 32 -j 2 -T <seconds>`` (TPC-B-like read-write, scale 32:
one branch per client) on a database of its own (``bench_ingest_pgbench``), then has
``--clients`` httpx clients POST complaints to ``/api/v1/records?confirm=true`` of one
`credit-service serve` process on another (``bench_ingest``) for the same time, then
one client alone for ``--seconds / 2``, then the ``--clients`` again against two serving
processes (``--workers 2``). Both databases are created on
BENCH_DATABASE_URL's server and dropped at the end. Prints each round and the medians:
records/s, p50, p99, pgbench's tps and the ratio to the goals (≥ 0.4× pgbench and p99
≤ 100 ms with 32 clients; p50 ≤ 8 ms with one), then checks that every record answered
201 is stored confirmed and that `credit-service audit verify` passes.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from common import bench_database, prepare
from writers import (
    admin_token,
    check_writes,
    dedicated_database,
    percentile,
    register,
    service_env,
    serving,
    write,
)

DATABASE = "bench_ingest"
PGBENCH_DATABASE = "bench_ingest_pgbench"
PGBENCH_SCALE = 32
GOAL_RATIO = 0.4
GOAL_P99_MS = 100.0
GOAL_ONE_P50_MS = 8.0


def pgbench_binary() -> str:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))
    if not found:
        sys.exit("pgbench not found under /usr/lib/postgresql/*/bin")
    return str(found[-1])


def pgbench_args(url: str) -> list[str]:
    parts = urlsplit(url)
    return [
        "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
        "-U", parts.username or "postgres", parts.path.lstrip("/"),
    ]  # fmt: skip


def pgbench_init(url: str) -> None:
    subprocess.run(
        [pgbench_binary(), "-i", "-q", "-s", str(PGBENCH_SCALE), *pgbench_args(url)],
        capture_output=True, check=True,
    )  # fmt: skip


def pgbench_tps(url: str, seconds: float) -> float:
    done = subprocess.run(
        [pgbench_binary(), "-c", "32", "-j", "2", "-T", str(int(seconds)), *pgbench_args(url)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.search(r"tps = ([0-9.]+)", done.stdout)
    assert found, done.stdout
    return float(found.group(1))


async def clients(
    base: str, token: str, institutions: list[str], count: int, seconds: float, seed: int
) -> tuple[float, list[float], list[str], dict[int, int]]:
    """``count`` clients confirming complaints back to back: rate, latencies, ids, refusals."""
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=count + 1)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=120, limits=limits
    ) as client:
        started = time.perf_counter()
        results = await asyncio.gather(
            *[write(client, institutions, seed + n, started + seconds) for n in range(count)]
        )
        elapsed = time.perf_counter() - started
    times = [t for result in results for t in result[0]]
    created = [record for result in results for record in result[1]]
    refused: dict[int, int] = {}
    for result in results:
        for status, n in result[2].items():
            refused[status] = refused.get(status, 0) + n
    return len(created) / elapsed, times, created, refused


async def institutions_of(base: str, token: str) -> list[str]:
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as client:
        return await register(client)


def main(url: str, pgbench_url: str, rounds: int, seconds: float, count: int) -> None:
    asyncio.run(prepare(url))
    pgbench_init(pgbench_url)
    env = service_env(url, count)
    token = admin_token(env)
    created: list[str] = []
    rates, p50s, p99s, tpss, one_p50s, one_rates, two_rates, two_p99s = ([] for _ in range(8))
    with serving(env, 1, "bench-ingest-server.log") as base:
        institutions = asyncio.run(institutions_of(base, token))
    for n in range(rounds):
        tps = pgbench_tps(pgbench_url, seconds)
        with serving(env, 1, "bench-ingest-server.log") as base:
            rate, times, ids, refused = asyncio.run(
                clients(base, token, institutions, count, seconds, 1000 * n)
            )
            created += ids
            one_rate, one_times, one_ids, one_refused = asyncio.run(
                clients(base, token, institutions, 1, seconds / 2, 1000 * n + 500)
            )
            created += one_ids
        # The same 32 clients on two serving processes: writers no longer queue behind
        # one lock (decision 0030), so a second process should add what its core adds.
        with serving(env, 2, "bench-ingest-server.log") as base:
            two_rate, two_times, two_ids, two_refused = asyncio.run(
                clients(base, token, institutions, count, seconds, 1000 * n + 700)
            )
            created += two_ids
        tpss.append(tps)
        rates.append(rate)
        p50s.append(percentile(times, 0.5))
        p99s.append(percentile(times, 0.99))
        one_rates.append(one_rate)
        one_p50s.append(percentile(one_times, 0.5))
        two_rates.append(two_rate)
        two_p99s.append(percentile(two_times, 0.99))
        print(
            f"round {n + 1}: pgbench {tps:.0f} tps; {count} clients {rate:.1f} records/s "
            f"({rate / tps:.3f}× pgbench), p50 {p50s[-1]:.1f} ms, p99 {p99s[-1]:.1f} ms; "
            f"one client {one_rate:.1f} records/s, p50 {one_p50s[-1]:.1f} ms; "
            f"two processes {two_rate:.1f} records/s, p99 {two_p99s[-1]:.1f} ms; "
            f"refused: {({**refused, **one_refused, **two_refused}) or 'none'}",
            flush=True,
        )
    tps, rate = statistics.median(tpss), statistics.median(rates)
    p99, one_p50 = statistics.median(p99s), statistics.median(one_p50s)
    two_rate = statistics.median(two_rates)

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print(f"medians of {rounds} round(s), {seconds:.0f} s each:")
    print(f"  pgbench -c 32 -j 2 (scale {PGBENCH_SCALE}) read-write: {tps:.0f} tps")
    print(
        f"  {count} clients: {rate:.1f} records/s = {rate / tps:.3f}× pgbench "
        f"(goal ≥ {GOAL_RATIO}×: {met(rate >= GOAL_RATIO * tps)}), "
        f"p50 {statistics.median(p50s):.1f} ms, p99 {p99:.1f} ms "
        f"(goal ≤ {GOAL_P99_MS:.0f} ms: {met(p99 <= GOAL_P99_MS)})"
    )
    print(
        f"  one client: {statistics.median(one_rates):.1f} records/s, p50 {one_p50:.1f} ms "
        f"(goal ≤ {GOAL_ONE_P50_MS:.0f} ms: {met(one_p50 <= GOAL_ONE_P50_MS)})"
    )
    print(
        f"  {count} clients on two serving processes: {two_rate:.1f} records/s = "
        f"{two_rate / rate:.2f}× one process, p99 {statistics.median(two_p99s):.1f} ms"
    )
    if not check_writes(env, url, created):
        sys.exit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=32)
    arguments = parser.parse_args()
    with (
        bench_database() as server_url,
        dedicated_database(server_url, DATABASE) as database_url,
        dedicated_database(server_url, PGBENCH_DATABASE) as pgbench_url,
    ):
        main(database_url, pgbench_url, arguments.rounds, arguments.seconds, arguments.clients)
