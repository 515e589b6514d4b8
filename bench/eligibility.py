"""Benchmark: a 10,000-subject eligibility request over HTTP, against the national dataset.

    .venv/bin/python bench/eligibility.py [--runs 15]

Starts `credit-service serve` on the benchmark database (scores recomputed first, as
the nightly job leaves them), then posts 10,000 USCCs to POST /api/v1/eligibility
and times each answer at the client, for today and for a date 30 days back (computed
from the records as known then: the contributions of decision 0033). Reports median and
p95; the goals are medians of at most 150 ms for today and 300 ms for 30 days back.
Each run also posts today's 10,000 subjects with `signed=true` (a JWS per decision,
every decision stored: issue 15 §3) and reports its median beside the unsigned one's,
with their ratio; the goal is at most 1.5 (signing adds at most 50%). In the same run,
as a floor: one raw asyncpg read of the 10,000 codes with `= ANY`, joined to their
stored scores. All of them alternate, run after run.
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

import asyncpg
import httpx
from common import bench_database, dsn, institution_uscc, national_dataset
from writers import percentile, serving

from service.credit.scoring import recompute
from service.db.engine import make_engine
from service.wiring import system_context

CLI = str(Path(sys.executable).parent / "credit-service")
SUBJECTS = 10_000
SIGNED = "today, signed"


RAW_READ = """
    SELECT i.id, i.status, cs.score, cs.grade FROM institutions i
    LEFT JOIN credit_scores cs ON cs.subject_kind = 'institution' AND cs.subject_id = i.id
    WHERE i.uscc = ANY($1::text[])"""


async def raw_read(url: str, usccs: list[str], runs: int) -> list[float]:
    """The floor: the asked codes read with their stored scores, no service around it
    (the first read of a connection prepares the statement: not counted)."""
    connection = await asyncpg.connect(dsn(url))
    try:
        times = []
        for run in range(runs + 1):
            started = time.perf_counter()
            rows = await connection.fetch(RAW_READ, usccs)
            if run >= 1:
                times.append((time.perf_counter() - started) * 1000)
            assert len(rows) == len(usccs)
        return times
    finally:
        await connection.close()


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
    with serving(env, 1, "bench-server.log") as base:
        rng = random.Random(7)
        usccs = [institution_uscc(i) for i in rng.sample(range(counts["institutions"]), SUBJECTS)]
        headers = {"Authorization": f"Bearer {token}"}
        asks = {
            "today": None,
            SIGNED: None,  # today's request again, with ?signed=true
            "30 days back": date.today() - timedelta(days=30),
        }
        contents = {}
        for label, as_of in asks.items():
            body: dict[str, object] = {
                "program": "operating_subsidy",
                "subjects": [{"uscc": u} for u in usccs],
            }
            if as_of:
                body["as_of"] = as_of.isoformat()
            # Encoded once: the time measured is the service's, not the client's JSON.
            contents[label] = json.dumps(body).encode()
        times: dict[str, list[float]] = {label: [] for label in asks}
        eligible: dict[str, int] = {}
        raw: list[float] = []
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            # Alternating, with the raw read between: the machine's load drifts, and each
            # figure is compared with the others taken around the same moment.
            for run in range(runs + 2):
                for label in asks:
                    started = time.perf_counter()
                    response = client.post(
                        "/api/v1/eligibility",
                        content=contents[label],
                        params={"signed": "true"} if label == SIGNED else None,
                        headers={"content-type": "application/json"},
                    )
                    elapsed = time.perf_counter() - started
                    assert response.status_code == 200, response.text[:300]
                    answers = response.json()["answers"]
                    assert len(answers) == SUBJECTS
                    assert all(answer["status"] == "ok" for answer in answers)
                    signed = sum(1 for answer in answers if answer.get("decision_jws"))
                    assert signed == (SUBJECTS if label == SIGNED else 0)
                    eligible[label] = sum(1 for a in answers if a["eligible"])
                    if run >= 2:  # two warm-up requests
                        times[label].append(elapsed * 1000)
                read = asyncio.run(raw_read(url, usccs, 1))
                if run >= 2:
                    raw.extend(read)
        print(
            f"raw `= ANY` read of the {SUBJECTS} codes: median "
            f"{statistics.median(raw):6.1f} ms, p95 {percentile(raw, 0.95):6.1f} ms"
        )
        for label in asks:
            print(
                f"{SUBJECTS} subjects, {label:13}: median {statistics.median(times[label]):6.1f} "
                f"ms, p95 {percentile(times[label], 0.95):6.1f} ms ({runs} runs; "
                f"{eligible[label]} eligible)"
            )
        ratio = statistics.median(times[SIGNED]) / statistics.median(times["today"])
        print(
            f"signed against unsigned, today: median {ratio:.2f}x "
            f"(+{(ratio - 1) * 100:.0f}%; goal at most 1.50x)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    arguments = parser.parse_args()
    with bench_database() as database_url:
        main(database_url, arguments.runs)
