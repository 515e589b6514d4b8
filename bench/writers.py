"""Benchmark: 30 concurrent writers confirming records over HTTP, through the audit chain.

    .venv/bin/python bench/writers.py [--seconds 20] [--writers 30] [--workers 1]

Every write used to append to the one hash-chained audit log under one advisory lock,
so how long a command held it bounded how many writes a second the service took; now
commands only queue their rows and the sequencer alone takes the lock (decision 0030),
so no writer should be found waiting for it. This creates an empty database ``bench_writers`` beside BENCH_DATABASE_URL's (dropped
at the end), starts `credit-service serve` on it, registers institutions, then has
``--writers`` httpx clients each POST complaints to ``/api/v1/records?confirm=true``
(each one rescored, checked by the list triggers and written to the public view) for
``--seconds``. Reports records/s and p50/p99 latency, and how many writers waited for
the audit lock on average (pg_locks, sampled every 50 ms), then checks that every record
answered 201 is stored confirmed and that `credit-service audit verify` passes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from common import bench_database, dsn, prepare, uscc

from service.audit.chain import AUDIT_CHAIN_LOCK

CLI = str(Path(sys.executable).parent / "credit-service")
PORT = 18231
DATABASE = "bench_writers"
INSTITUTIONS = 300
OUTCOMES = ("substantiated", "unsubstantiated", "unfounded")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def dedicated_database(server_url: str, name: str = DATABASE) -> Iterator[str]:
    """An empty database ``name`` on the benchmark's server, dropped afterwards."""

    async def run(statement: str) -> None:
        connection = await asyncpg.connect(dsn(server_url))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    asyncio.run(run(f"CREATE DATABASE {name}"))
    try:
        yield with_database(server_url, name)
    finally:
        asyncio.run(run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def complaint(institution_id: str, rng: random.Random) -> dict[str, object]:
    return {
        "kind": "complaint",
        "institution_id": institution_id,
        "occurred_on": f"2026-0{rng.randint(1, 4)}-{rng.randint(10, 28)}",
        "details": {
            "channel": "hotline_12345",
            "category": "care_quality",
            "outcome": rng.choice(OUTCOMES),
            "summary": "家属反映护理不到位",
        },
    }


async def register(client: httpx.AsyncClient) -> list[str]:
    ids = []
    for n in range(INSTITUTIONS):
        code = uscc(n * 13 + 5)
        response = await client.post(
            "/api/v1/institutions",
            json={"name": f"第{n}颐养院", "uscc": code, "region_code": code[2:8],
                  "kind": "residential", "beds": 80, "address": "金陵路1号"},
        )  # fmt: skip
        assert response.status_code == 201, response.text[:300]
        ids.append(response.json()["id"])
    return ids


async def write(
    client: httpx.AsyncClient, institutions: list[str], seed: int, until: float
) -> tuple[list[float], list[str], dict[int, int]]:
    """One writer: confirm complaints back to back until the deadline."""
    rng = random.Random(seed)
    times: list[float] = []
    created: list[str] = []
    refused: dict[int, int] = {}
    while time.perf_counter() < until:
        body = complaint(rng.choice(institutions), rng)
        started = time.perf_counter()
        response = await client.post("/api/v1/records", params={"confirm": "true"}, json=body)
        elapsed = time.perf_counter() - started
        if response.status_code == 201:
            times.append(elapsed * 1000)
            created.append(response.json()["id"])
        else:
            refused[response.status_code] = refused.get(response.status_code, 0) + 1
    return times, created, refused


async def lock_waiters(url: str, until: float) -> list[int]:
    """Every 50 ms, how many sessions wait for the audit lock (a small key: objid alone)."""
    connection = await asyncpg.connect(dsn(url))
    samples = []
    try:
        while time.perf_counter() < until:
            waiting = await connection.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 0"
                " AND objid = $1 AND NOT granted AND database ="
                " (SELECT oid FROM pg_database WHERE datname = current_database())",
                AUDIT_CHAIN_LOCK,
            )
            samples.append(int(waiting))
            await asyncio.sleep(0.05)
    finally:
        await connection.close()
    return samples


async def load(url: str, base: str, token: str, writers: int, seconds: float) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=writers + 1)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=120, limits=limits
    ) as client:
        institutions = await register(client)
        started = time.perf_counter()
        sampling = asyncio.create_task(lock_waiters(url, started + seconds))
        results = await asyncio.gather(
            *[write(client, institutions, seed, started + seconds) for seed in range(writers)]
        )
        elapsed = time.perf_counter() - started
        waiting = await sampling
    times = [t for result in results for t in result[0]]
    created = [record for result in results for record in result[1]]
    refused: dict[int, int] = {}
    for result in results:
        for status, count in result[2].items():
            refused[status] = refused.get(status, 0) + count
    print(
        f"{writers} writers, {elapsed:.1f} s: {len(created)} records confirmed, "
        f"{len(created) / elapsed:.1f} records/s, p50 {percentile(times, 0.5):.0f} ms, "
        f"p99 {percentile(times, 0.99):.0f} ms; refused: {refused or 'none'}"
    )
    print(f"writers waiting for the audit lock: {sum(waiting) / len(waiting):.1f} on average")
    return created


async def stored_confirmed(url: str, created: list[str]) -> int:
    connection = await asyncpg.connect(dsn(url))
    try:
        count = await connection.fetchval(
            "SELECT count(*) FROM records WHERE id = ANY($1::uuid[]) AND status = 'confirmed'",
            [uuid.UUID(record) for record in created],
        )
        return int(count)
    finally:
        await connection.close()


def service_env(url: str, pool_size: int) -> dict[str, str]:
    """The environment of `credit-service` against ``url``, with its pool sized."""
    return {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-" + "k" * 40,
            "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json",
            "DATABASE_POOL_SIZE": str(pool_size)}  # fmt: skip


def admin_token(env: dict[str, str]) -> str:
    return subprocess.run(
        [CLI, "users", "create", "--role", "admin", "--name", "bench"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


@contextmanager
def serving(env: dict[str, str], workers: int, log_name: str) -> Iterator[str]:
    """A `credit-service serve` process on PORT, ready; its base URL. Stopped afterwards."""
    Path("var").mkdir(exist_ok=True)
    log = Path("var", log_name).open("w")  # noqa: SIM115 (open while serving)
    server = subprocess.Popen(
        [CLI, "serve", "--port", str(PORT), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{PORT}"
        for _ in range(150):
            try:
                if httpx.get(f"{base}/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def check_writes(env: dict[str, str], url: str, created: list[str]) -> bool:
    """Every record answered 201 stored confirmed, and `audit verify` passing."""
    stored = asyncio.run(stored_confirmed(url, created))
    verified = subprocess.run(
        [CLI, "audit", "verify"], env=env, capture_output=True, text=True, check=False
    )
    print(f"stored and confirmed: {stored} of {len(created)} answered 201")
    print(f"audit verify: {(verified.stdout or verified.stderr).strip()}")
    return stored == len(created) and verified.returncode == 0


def main(url: str, writers: int, seconds: float, workers: int) -> None:
    asyncio.run(prepare(url))
    # Every writer gets a connection of its own: waits are for the lock, not the pool.
    env = service_env(url, writers)
    token = admin_token(env)
    with serving(env, workers, "bench-writers-server.log") as base:
        created = asyncio.run(load(url, base, token, writers, seconds))
    if not check_writes(env, url, created):
        sys.exit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--writers", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1, help="serving worker processes")
    arguments = parser.parse_args()
    with bench_database() as server_url, dedicated_database(server_url) as database_url:
        main(database_url, arguments.writers, arguments.seconds, arguments.workers)
