"""Benchmark: the public lookup by USCC at concurrency 64, against a bare Litestar hello.

    .venv/bin/python bench/lookup.py [--seconds 10] [--connections 64] [--rounds 3]
        [--servers uvicorn,granian] [--workers 1,2] [--counted] [--demo]

Uses the national dataset (bench/common.py; 100,000 institutions on PostgreSQL) and
builds its public read model once. For each server (uvicorn, granian) and worker count
(1, 2) it starts `credit-service serve --server S --workers N` on it and, beside it,
bench/bare_hello.py (a bare Litestar JSON hello, the issue's baseline) under the same
server and worker count; warms the cache with one pass over the looked-up codes, then
runs wrk (`apt-get install wrk`) with the same settings, in the same round:
`GET /api/v1/public/institutions/{uscc}` rotating over 2,000 institutions, the bare
hello, and the service's own `/hello` (the framework with the service's middleware).
Rounds alternate; medians are reported: requests per second and p99, the ratio of the
lookup to the bare hello, and what the second worker adds.
wrk is one client, so the per-client rate limit is off for those runs (PUBLIC_RATE_LIMIT=0).
With ``--counted``, a second server counts the rate limit (in PostgreSQL) with a limit
out of reach; its lookups alternate with the others', to measure what counting costs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its live descendants (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parent[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    tree, frontier = {pid}, [pid]
    while frontier:
        children = [child for child, up in parent.items() if up in frontier]
        tree.update(children)
        frontier = children
    return sum(used.get(member, 0.0) for member in tree)


# req/s, p99 (ms), the server's CPU per request (us): the last one holds under the
# machine's other load, which only shifts the first two.
Run = tuple[float, float, float]


def wrk(url: str, seconds: int, connections: int, script: Path | None, pid: int) -> Run:
    """Requests per second and p99 latency (ms) as wrk measured them, and the CPU time
    the server (all its processes) spent per request."""
    # One wrk thread: on this 2-core machine one core generates load, one serves.
    command = ["wrk", f"-c{connections}", "-t1", f"-d{seconds}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    before = tree_cpu(pid)
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    cpu = tree_cpu(pid) - before
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise SystemExit(f"{errors.group(1)} error answers:\n{output}")
    return rate, p99, cpu / requests * 1e6


async def _until_answering(url: str) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(240):
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)
    raise SystemExit(f"nothing answered at {url}")


async def _stop(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout=30)
    except TimeoutError:
        process.kill()
        await process.wait()


@asynccontextmanager
async def serving(
    url: str, rate_limit: int, port: int, server: str = "uvicorn", workers: int = 1
) -> AsyncIterator[tuple[str, int]]:
    """`credit-service serve --server S --workers N` with its cache warm; its base URL."""
    env = os.environ | {
        "DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-" + "x" * 32,
        "PUBLIC_RATE_LIMIT": str(rate_limit), "LOG_LEVEL": "WARNING",
    }  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--server", server, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        await _until_answering(base + "/ready")
        await asyncio.sleep(1)  # the cache's listening connection, in every worker
        yield base, process.pid
    finally:
        await _stop(process)


@asynccontextmanager
async def bare_hello(port: int, server: str, workers: int) -> AsyncIterator[tuple[str, int]]:
    """bench/bare_hello.py under the same server and worker count; its URL."""
    bin_dir = Path(sys.executable).parent
    if server == "uvicorn":
        command = [
            str(bin_dir / "uvicorn"), "bare_hello:app", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), "--no-access-log",
            "--log-level", "warning",
        ]  # fmt: skip
    else:
        command = [
            str(bin_dir / "granian"), "--interface", "asgi", "--http", "1", "--host",
            "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--log-level", "warning", "bare_hello:app",
        ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *command, cwd=str(Path(__file__).parent), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        await _until_answering(url)
        yield url, process.pid
    finally:
        await _stop(process)


async def warm(base: str, codes: list[str], workers: int = 1) -> None:
    """Every looked-up answer in every worker's cache (as far as the kernel spreads the
    connections: a pass per worker, each on fresh connections)."""
    for _ in range(workers * 2):
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            answers = await asyncio.gather(
                *(http.get(f"/api/v1/public/institutions/{code}") for code in codes[:200])
            )
            assert all(answer.status_code == 200 for answer in answers)
            for code in codes:
                assert (await http.get(f"/api/v1/public/institutions/{code}")).status_code == 200


def median(results: list[Run]) -> Run:
    """The median rate, the median p99 and the median CPU per request of several runs."""
    return (
        statistics.median(r[0] for r in results), statistics.median(r[1] for r in results),
        statistics.median(r[2] for r in results),
    )  # fmt: skip


async def measure(
    url: str, codes: list[str], script: Path, server: str, workers: int, seconds: int,
    connections: int, rounds: int, counted: bool,
) -> dict[str, Run]:  # fmt: skip
    """Medians of ``rounds`` alternating runs: lookup, bare hello, /hello (and counted)."""
    async with contextlib.AsyncExitStack() as stack:
        base, pid = await stack.enter_async_context(serving(url, 0, PORT, server, workers))
        bare, bare_pid = await stack.enter_async_context(bare_hello(PORT + 2, server, workers))
        targets: list[tuple[str, str, Path | None, int]] = [
            ("lookup", base, script, pid), ("bare", bare, None, bare_pid),
            ("hello", base + "/hello", None, pid),
        ]  # fmt: skip
        await warm(base, codes, workers)
        if counted:
            counting, counting_pid = await stack.enter_async_context(
                serving(url, 10**9, PORT + 1, server, workers)
            )
            await warm(counting, codes, workers)
            targets.append(("counted", counting, script, counting_pid))
        runs: dict[str, list[Run]] = {name: [] for name, *_ in targets}
        for _ in range(rounds):
            for name, target, lua, server_pid in targets:
                runs[name].append(
                    await asyncio.to_thread(wrk, target, seconds, connections, lua, server_pid)
                )
    return {name: median(results) for name, results in runs.items()}


async def main(
    url: str, seconds: int, connections: int, demo: bool, rounds: int, servers: list[str],
    worker_counts: list[int], counted: bool,
) -> None:  # fmt: skip
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    counts = await (demo_dataset(url) if demo else national_dataset(url))
    print(f"dataset: {counts}", flush=True)
    codes = await public_view(url)
    results: dict[tuple[str, int], dict[str, Run]] = {}
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "lookup.lua"
        paths = ", ".join(f'"/api/v1/public/institutions/{code}"' for code in codes)
        script.write_text(
            f"local paths = {{{paths}}}\nlocal n = 0\n"
            "request = function()\n  n = n % #paths + 1\n"
            "  return wrk.format('GET', paths[n])\nend\n"
        )
        for server in servers:
            for workers in worker_counts:
                found = await measure(
                    url, codes, script, server, workers, seconds, connections, rounds, counted
                )
                results[server, workers] = found
                report(server, workers, found)
    print(
        f"\nmedians of {rounds} alternating runs of {seconds} s each, wrk -t1 -c{connections}, "
        f"{len(codes):,} institutions in rotation; goals: lookup >= 0.6x the bare hello "
        "with p99 <= 8 ms (1 worker), 2 workers >= 1.85x one"
    )
    for server in servers:
        for workers in worker_counts:
            report(server, workers, results[server, workers])
        if 1 in worker_counts and 2 in worker_counts:
            one, two = results[server, 1], results[server, 2]
            print(
                f"  {server}: 2 workers over 1: lookup {two['lookup'][0] / one['lookup'][0]:.2f}x, "
                f"bare hello {two['bare'][0] / one['bare'][0]:.2f}x"
            )


def report(server: str, workers: int, found: dict[str, Run]) -> None:
    lookup, bare, hello = found["lookup"], found["bare"], found["hello"]
    print(
        f"{server:8} {workers} worker(s): lookup {lookup[0]:8,.0f} req/s p99 {lookup[1]:6.2f} ms"
        f" | bare hello {bare[0]:8,.0f} p99 {bare[1]:6.2f} | /hello {hello[0]:8,.0f} "
        f"p99 {hello[1]:6.2f} | lookup / bare {lookup[0] / bare[0]:.2f}\n"
        f"         server CPU per request: lookup {lookup[2]:5.1f} us, bare hello "
        f"{bare[2]:5.1f} us, /hello {hello[2]:5.1f} us; bare / lookup {bare[2] / lookup[2]:.2f}",
        flush=True,
    )
    if "counted" in found:
        counted = found["counted"]
        print(
            f"  rate limit counted in PostgreSQL: {counted[0]:8,.0f} req/s, p99 "
            f"{counted[1]:6.2f} ms; {counted[0] / lookup[0]:.2f} of the lookup without it"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--servers", default="uvicorn,granian")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument(
        "--counted", action="store_true", help="also a server counting the rate limit"
    )
    parser.add_argument(
        "--demo", action="store_true",
        help="the demo province instead of the national dataset (hits are served from memory)",
    )  # fmt: skip
    arguments = parser.parse_args()
    with bench_database() as database_url:
        asyncio.run(
            main(
                database_url, arguments.seconds, arguments.connections, arguments.demo,
                arguments.rounds, arguments.servers.split(","),
                [int(n) for n in arguments.workers.split(",")], arguments.counted,
            )
        )  # fmt: skip
