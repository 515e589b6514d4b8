"""Benchmark: a 10,000-subject eligibility request over HTTP, against the national dataset.

    .venv/bin/python bench/eligibility.py [--runs 15]

Starts `credit-service serve` on the benchmark database (scores recomputed first, as
the nightly job leaves them), then posts 10,000 USCCs to POST /api/v1/eligibility
and times each answer at the client, for today and for a date 30 days back (computed
from the records as known then). Reports median and p95; the goal is a median of at
most 150 ms for today.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
from common import bench_database, institution_uscc, national_dataset

from service.credit.scoring import recompute
from service.db.engine import make_engine
from service.wiring import system_context

CLI = str(Path(sys.executable).parent / "credit-service")
PORT = 18190
SUBJECTS = 10_000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(url: str, runs: int) -> None:
    counts = asyncio.run(national_dataset(url))

    async def rescore() -> None:
        engine = make_engine(url, pool_size=2)
        await recompute(engine, system_context())
        await engine.dispose()

    asyncio.run(rescore())
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-" + "k" * 40,
           "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json"}  # fmt: skip
    token = subprocess.run(
        [CLI, "users", "create", "--role", "subsidy_client", "--name", "bench"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path("var").mkdir(exist_ok=True)
    log = Path("var/bench-server.log").open("w")  # noqa: SIM115 (open while the server runs)
    server = subprocess.Popen(
        [CLI, "serve", "--port", str(PORT)], env=env, stdout=subprocess.DEVNULL, stderr=log
    )
    try:
        base = f"http://127.0.0.1:{PORT}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        rng = random.Random(7)
        usccs = [institution_uscc(i) for i in rng.sample(range(counts["institutions"]), SUBJECTS)]
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            for label, as_of in (
                ("today", None),
                ("30 days back", date.today() - timedelta(days=30)),
            ):
                body: dict[str, object] = {
                    "program": "operating_subsidy",
                    "subjects": [{"uscc": u} for u in usccs],
                }
                if as_of:
                    body["as_of"] = as_of.isoformat()
                # Encoded once: the time measured is the service's, not the client's JSON.
                content = json.dumps(body).encode()
                times = []
                for run in range(runs + 2):
                    started = time.perf_counter()
                    response = client.post(
                        "/api/v1/eligibility",
                        content=content,
                        headers={"content-type": "application/json"},
                    )
                    elapsed = time.perf_counter() - started
                    assert response.status_code == 200, response.text[:300]
                    answers = response.json()["answers"]
                    assert len(answers) == SUBJECTS
                    assert all(answer["status"] == "ok" for answer in answers)
                    if run >= 2:  # two warm-up requests
                        times.append(elapsed * 1000)
                eligible = sum(1 for a in answers if a["eligible"])
                print(
                    f"{SUBJECTS} subjects, {label:13}: median {statistics.median(times):6.1f} ms, "
                    f"p95 {percentile(times, 0.95):6.1f} ms ({runs} runs; {eligible} eligible)"
                )
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    arguments = parser.parse_args()
    with bench_database() as database_url:
        main(database_url, arguments.runs)
