"""Benchmark: the staff workbench's pages at the server, on the demo data.

    .venv/bin/python bench/workbench.py [--requests 200] [--rounds 3]

Issue 13's quality bar: "a subject page under 100 ms on the demo data at the server".
This creates a database of its own (``bench_workbench`` beside BENCH_DATABASE_URL's, or
in the embedded cluster; dropped at the end), loads the demo province into it with
`credit-service seed-demo --seed 1` (300 institutions, 3,000 practitioners, their
records and list entries, and the demo staff, whose passwords and TOTP secrets it
prints once), starts `credit-service serve` (one uvicorn process) on it, and signs in
the demo inspector (password) and the demo reviewer (password, then a TOTP code from
pyotp) through the sign-in pages, as a browser would.

Then, over one keep-alive connection per person, sequential requests, it times each
answer until its body has been read (the time at the server plus one local round trip):

- the institution subject page ``/staff/institutions/{id}``, rotating over 200
  institutions of the inspector's region;
- the practitioner subject page ``/staff/practitioners/{id}``, rotating over 200
  practitioners employed there;
- the reviewer's queue ``/staff/queue``;
- a list entry's page ``/staff/entries/{id}``, rotating over the region's entries;
- the public institution page ``/institutions/{uscc}`` of the same 200 institutions
  (the baseline: a page from the public read model, no session);
- ``/hello`` (the floor: a plain answer, no database).

The pages take turns request by request, so each meets the same background load. Each
of ``--rounds`` rounds sends ``--requests`` requests per page; the report gives each
page's median and p95 per round and the median of the rounds, and checks the goal
(both subject pages: median and p95 under 100 ms). A Server-Timing header, should the
app send one, is summed and reported beside the time measured here.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pyotp
from common import bench_database, dsn, prepare
from writers import admin_token, dedicated_database, percentile, serving

CLI = str(Path(sys.executable).parent / "credit-service")
DATABASE = "bench_workbench"
SUBJECTS = 200
PROPOSED = 60  # entries waiting in the reviewer's queue (the demo publishes, so has none)
GOAL_MS = 100.0
CREDENTIALS = re.compile(
    r"^\s+(demo-\S+)\s+(\S+)\s+password (\S+)(?:\s+TOTP secret (\S+))?", re.MULTILINE
)
SERVER_TIMING = re.compile(r"dur=([\d.]+)")


@dataclass(frozen=True, slots=True)
class Login:
    login: str
    password: str
    totp_secret: str | None


def seed(env: dict[str, str]) -> dict[str, Login]:
    """The demo province and staff; the staff's credentials (printed this once)."""
    started = time.perf_counter()
    output = subprocess.run(
        [CLI, "seed-demo", "--seed", "1"], env=env, capture_output=True, text=True, check=True
    ).stderr
    print(f"seeded the demo province in {time.perf_counter() - started:.0f} s", flush=True)
    return {
        login: Login(login, password, secret)
        for login, _, password, secret in CREDENTIALS.findall(output)
    }


@dataclass(frozen=True, slots=True)
class Targets:
    institutions: list[str]
    practitioners: list[str]
    usccs: list[str]
    entries: list[str]


async def targets(url: str, region: str) -> Targets:
    connection = await asyncpg.connect(dsn(url))
    try:
        institutions = await connection.fetch(
            "SELECT id, uscc FROM institutions WHERE region_code LIKE $1 || '%'"
            " ORDER BY uscc LIMIT $2",
            region, SUBJECTS,
        )  # fmt: skip
        practitioners = await connection.fetch(
            "SELECT DISTINCT p.id FROM practitioners p JOIN employments e"
            " ON e.practitioner_id = p.id WHERE e.institution_id = ANY($1::uuid[])"
            " ORDER BY p.id LIMIT $2",
            [row["id"] for row in institutions], SUBJECTS,
        )  # fmt: skip
        entries = await connection.fetch(
            "SELECT id FROM list_entries WHERE region_code LIKE $1 || '%' ORDER BY id", region
        )
    finally:
        await connection.close()
    return Targets(
        [str(row["id"]) for row in institutions],
        [str(row["id"]) for row in practitioners],
        [row["uscc"] for row in institutions],
        [str(row["id"]) for row in entries],
    )


def propose(base: str, token: str, institutions: list[str]) -> list[str]:
    """Watch-list proposals through the API, every other one notified: the queue's work."""
    created: list[str] = []
    with httpx.Client(
        base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        for n, subject in enumerate(institutions):
            if len(created) == PROPOSED:
                break
            answer = client.post(
                "/api/v1/list-entries",
                json={"list_type": "watch", "subject_kind": "institution", "subject_id": subject,
                      "reason_code": "WATCH_OTHER", "basis": "多次检查发现同类问题"},
            )  # fmt: skip
            if answer.status_code != 201:  # already on the list
                continue
            entry = answer.json()["id"]
            created.append(entry)
            if n % 2:
                notified = client.post(f"/api/v1/list-entries/{entry}/notify", json={})
                assert notified.status_code == 200, notified.text[:300]
    return created


def form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no csrf_token on the page"
    return found.group(1)


def sign_in(base: str, login: Login) -> httpx.Client:
    """A browser-like client signed in through the sign-in pages (and the code page)."""
    client = httpx.Client(base_url=base, timeout=30, headers={"Accept": "text/html"})
    page = client.get("/staff/sign-in")
    answer = client.post(
        "/staff/sign-in",
        data={"csrf_token": form_token(page.text), "login": login.login,
              "password": login.password, "next": "/staff/"},
    )  # fmt: skip
    assert answer.status_code == 303, (answer.status_code, answer.text[:300])
    if answer.headers["location"].startswith("/staff/sign-in/code"):
        assert login.totp_secret, f"{login.login} has no second factor to give"
        page = client.get(answer.headers["location"])
        answer = client.post(
            "/staff/sign-in/code",
            data={"csrf_token": form_token(page.text), "code": pyotp.TOTP(login.totp_secret).now(),
                  "next": "/staff/"},
        )  # fmt: skip
        assert answer.status_code == 303, (answer.status_code, answer.text[:300])
    home = client.get("/staff/")
    assert home.status_code == 200, (home.status_code, home.text[:300])
    return client


@dataclass
class Page:
    name: str
    client: httpx.Client
    paths: list[str]
    times: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    sent: int = 0

    def fetch(self) -> None:
        path = self.paths[self.sent % len(self.paths)]
        self.sent += 1
        started = time.perf_counter()
        answer = self.client.get(path)
        answer.read()
        elapsed = (time.perf_counter() - started) * 1000
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        self.times.append(elapsed)
        self.sizes.append(len(answer.content))
        if timing := answer.headers.get("server-timing"):
            self.server.append(sum(float(d) for d in SERVER_TIMING.findall(timing)))


Figures = tuple[float, float, float | None, float]


def measure(pages: list[Page], requests: int) -> dict[str, Figures]:
    """Each page's median and p95 (ms), its Server-Timing median if sent, and its maximum."""
    for page in pages:
        page.times.clear()
        page.server.clear()
        page.sizes.clear()
    for _ in range(requests):
        for page in pages:
            page.fetch()
    return {
        page.name: (
            statistics.median(page.times),
            percentile(page.times, 0.95),
            statistics.median(page.server) if page.server else None,
            max(page.times),
        )
        for page in pages
    }


def main(url: str, requests: int, rounds: int) -> None:
    asyncio.run(prepare(url))
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-" + "k" * 40,
           "ENVIRONMENT": "development", "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json",
           "PUBLIC_RATE_LIMIT": "0"}  # fmt: skip
    logins = seed(env)
    inspector, reviewer = logins["demo-inspector"], logins["demo-reviewer"]
    chosen = asyncio.run(targets(url, "33"))
    token = admin_token(env)
    with serving(env, 1, "bench-workbench-server.log") as base:
        time.sleep(1)  # the public cache's listening connection
        entries = chosen.entries + propose(base, token, chosen.institutions)
        print(
            f"{len(chosen.institutions)} institutions, {len(chosen.practitioners)} "
            f"practitioners, {len(entries)} list entries ({len(entries) - len(chosen.entries)} "
            f"waiting in the queue) in rotation; {requests} requests per page and round, "
            f"{rounds} rounds",
            flush=True,
        )
        inspecting, reviewing = sign_in(base, inspector), sign_in(base, reviewer)
        public = httpx.Client(base_url=base, timeout=30, headers={"Accept": "text/html"})
        pages = [
            Page("institution subject page", inspecting,
                 [f"/staff/institutions/{i}" for i in chosen.institutions]),
            Page("practitioner subject page", inspecting,
                 [f"/staff/practitioners/{p}" for p in chosen.practitioners]),
            Page("reviewer's queue", reviewing, ["/staff/queue"]),
            Page("list entry page", reviewing, [f"/staff/entries/{e}" for e in entries]),
            Page("public institution page (baseline)", public,
                 [f"/institutions/{code}" for code in chosen.usccs]),
            Page("/hello (floor)", public, ["/hello"]),
        ]  # fmt: skip
        # Warm up: every path once (templates compiled, caches and the pool filled).
        for page in pages:
            for _ in page.paths:
                page.fetch()
        results = [measure(pages, requests) for _ in range(rounds)]
        for client in (inspecting, reviewing, public):
            client.close()
    report(pages, results, requests)


def report(pages: list[Page], results: list[dict[str, Figures]], requests: int) -> None:
    print(f"\nms to the full answer, one keep-alive connection, sequential; {requests} "
          f"requests per page in each of {len(results)} rounds; medians of the rounds")  # fmt: skip
    print(f"{'page':<36} {'median':>8} {'p95':>8} {'max':>8} {'kB':>6}   per round (median/p95)")
    summary: dict[str, tuple[float, float]] = {}
    for page in pages:
        medians = [result[page.name][0] for result in results]
        p95s = [result[page.name][1] for result in results]
        summary[page.name] = (statistics.median(medians), statistics.median(p95s))
        rounds = ", ".join(f"{m:.1f}/{p:.1f}" for m, p in zip(medians, p95s, strict=True))
        server = [s for result in results if (s := result[page.name][2]) is not None]
        timing = f"  Server-Timing median {statistics.median(server):.1f}" if server else ""
        print(f"{page.name:<36} {summary[page.name][0]:8.1f} {summary[page.name][1]:8.1f}"
              f" {max(result[page.name][3] for result in results):8.1f}"
              f" {statistics.median(page.sizes) / 1000:6.1f}   {rounds}{timing}")  # fmt: skip
    if not any(page.server for page in pages):
        print("(the app sends no Server-Timing header)")
    met = True
    for name in ("institution subject page", "practitioner subject page"):
        median, p95 = summary[name]
        ok = median < GOAL_MS and p95 < GOAL_MS
        met = met and ok
        print(f"goal, {name}: median {median:.1f} ms and p95 {p95:.1f} ms under "
              f"{GOAL_MS:.0f} ms: {'met' if ok else 'not met'}")  # fmt: skip
    print(
        f"goal (subject page under {GOAL_MS:.0f} ms at the server): {'met' if met else 'not met'}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200, help="per page and round")
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    with bench_database() as server_url, dedicated_database(server_url, DATABASE) as database_url:
        main(database_url, arguments.requests, arguments.rounds)
