"""Benchmark: the public lookup by USCC at concurrency 64, against the same server's /hello.

    .venv/bin/python bench/lookup.py [--seconds 15] [--connections 64] [--rounds 1] [--demo]

Uses the national dataset (bench/common.py; 100,000 institutions on PostgreSQL) and
builds its public read model once. Starts `credit-service serve` (one uvicorn
process) on it, warms the cache with one pass over the looked-up codes, then runs
wrk (`apt-get install wrk`) twice with the same settings, in the same run:
`GET /api/v1/public/institutions/{uscc}` rotating over 2,000 institutions, and
`GET /hello`, a plain JSON answer. Reports requests per second, the ratio and p99.
wrk is one client, so the per-client rate limit is off for those runs (PUBLIC_RATE_LIMIT=0).
A second server counts the rate limit (in PostgreSQL) with a limit out of reach; its
lookups alternate with the others' (``--rounds`` times), to measure what counting costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
from common import bench_database, dsn, national_dataset, prepare

from service.db.engine import make_engine, make_session_factory
from service.public.readmodel import rebuild
from service.wiring import system_context

CLI = str(Path(sys.executable).parent / "credit-service")
PORT = 18765
LOOKED_UP = 2_000


async def public_view(url: str) -> list[str]:
    """Build the public read model unless it is complete; return codes to look up."""
    connection = await asyncpg.connect(dsn(url))
    try:
        have = await connection.fetchval("SELECT count(*) FROM public_institutions")
        want = await connection.fetchval("SELECT count(*) FROM institutions")
        if have != want:
            started = time.perf_counter()
            engine = make_engine(url, pool_size=2)
            async with make_session_factory(engine)() as session, session.begin():
                await rebuild(session, system_context())
            await engine.dispose()
            print(f"built the public view of {want:,} institutions in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
        codes = [row[0] for row in await connection.fetch("SELECT uscc FROM public_institutions")]
    finally:
        await connection.close()
    return random.Random(7).sample(codes, min(LOOKED_UP, len(codes)))


async def demo_dataset(url: str) -> dict[str, int]:
    """The demo province (300 institutions): enough for the hit path, which is memory."""
    await prepare(url)
    env = os.environ | {"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-" + "x" * 32}
    await asyncio.to_thread(
        subprocess.run, [CLI, "seed-demo", "--if-empty"], env=env, check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return {"institutions": 300}


def wrk(url: str, seconds: int, connections: int, script: Path | None) -> tuple[float, float]:
    """Requests per second and p99 latency (ms) as wrk measured them."""
    # One wrk thread: on this 2-core machine one core generates load, one serves.
    command = ["wrk", f"-c{connections}", "-t1", f"-d{seconds}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise SystemExit(f"{errors.group(1)} error answers:\n{output}")
    return rate, p99


@asynccontextmanager
async def serving(url: str, rate_limit: int, port: int) -> AsyncIterator[str]:
    """`credit-service serve` (one uvicorn process) with its cache warm; its base URL."""
    env = os.environ | {
        "DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-" + "x" * 32,
        "PUBLIC_RATE_LIMIT": str(rate_limit), "LOG_LEVEL": "WARNING",
    }  # fmt: skip
    server = await asyncio.create_subprocess_exec(
        CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            for _ in range(120):
                try:
                    if (await http.get("/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.5)
            await asyncio.sleep(1)  # the cache's listening connection
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.wait(), timeout=30)


async def warm(base: str, codes: list[str]) -> None:
    """Every looked-up answer in the cache."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for code in codes:
            assert (await http.get(f"/api/v1/public/institutions/{code}")).status_code == 200


def median(results: list[tuple[float, float]]) -> tuple[float, float]:
    """The median rate and the median p99 of several runs."""
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


async def main(url: str, seconds: int, connections: int, demo: bool, rounds: int) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    counts = await (demo_dataset(url) if demo else national_dataset(url))
    print(f"dataset: {counts}", flush=True)
    codes = await public_view(url)
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "lookup.lua"
        paths = ", ".join(f'"/api/v1/public/institutions/{code}"' for code in codes)
        script.write_text(
            f"local paths = {{{paths}}}\nlocal n = 0\n"
            "request = function()\n  n = n % #paths + 1\n"
            "  return wrk.format('GET', paths[n])\nend\n"
        )
        # wrk is one client: a real limit would refuse it. One server with the limit
        # off, one with it counted but out of reach; their runs alternate, so both meet
        # the same background load, and the medians say what counting costs.
        async with serving(url, 0, PORT) as base, serving(url, 10**9, PORT + 1) as counting:
            await warm(base, codes)
            await warm(counting, codes)
            runs: dict[str, list[tuple[float, float]]] = {"lookup": [], "hello": [], "counted": []}
            for _ in range(rounds):
                for name, target, lua in (
                    ("lookup", base, script), ("hello", base + "/hello", None),
                    ("counted", counting, script),
                ):  # fmt: skip
                    runs[name].append(
                        await asyncio.to_thread(wrk, target, seconds, connections, lua)
                    )
    lookup, hello, counted = (median(runs[name]) for name in ("lookup", "hello", "counted"))
    print(f"medians of {rounds} alternating runs of {seconds} s each:")
    print(
        f"lookup by USCC: {lookup[0]:9,.0f} req/s, p99 {lookup[1]:6.2f} ms "
        f"({connections} connections, {seconds} s, {len(codes):,} institutions in rotation)"
    )
    print(f"/hello:         {hello[0]:9,.0f} req/s, p99 {hello[1]:6.2f} ms")
    print(f"ratio lookup / hello: {lookup[0] / hello[0]:.2f}")  # fmt: skip
    print(
        f"lookup, rate limit counted in PostgreSQL: {counted[0]:9,.0f} req/s, "
        f"p99 {counted[1]:6.2f} ms; {counted[0] / lookup[0]:.2f} of the lookup without it"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--demo", action="store_true",
        help="the demo province instead of the national dataset (hits are served from memory)",
    )  # fmt: skip
    arguments = parser.parse_args()
    with bench_database() as database_url:
        asyncio.run(
            main(
                database_url, arguments.seconds, arguments.connections, arguments.demo,
                arguments.rounds,
            )
        )  # fmt: skip
