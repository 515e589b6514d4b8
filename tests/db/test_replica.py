"""Reads from a real streaming standby (DATABASE_REPLICA_URL): the public lookup, pages,
eligibility and the penalty export read from it, a change shows within the lag bound,
an answer is never older than one given before it, and when the standby lags or
stops the primary answers.

The test makes its own primary and standby (tests/standby.py: initdb, pg_basebackup -R)
so it can pause and stop the standby without touching the suite's server.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from conftest import TEST_SECRET_KEY, bearer, serve
from factories import institution_body, make_uscc, penalty_body
from processes import served
from standby import StreamingPair

from service.actor import Role
from service.app import create_app
from service.auth.service import create_user
from service.config import Settings
from service.db.engine import make_engine, make_session_factory
from service.db.migrate import upgrade
from service.policy.store import ensure_shipped
from service.secret import Secret
from service.wiring import system_context

DATABASE = "credit"
BOUND = 3.0  # REPLICA_MAX_LAG_SECONDS for this server: short, so the test is too
# A change heard by the server holds the standby back until it has replayed it: shown at
# once, far within the bound, even while the standby is behind (but within the bound).
AT_ONCE = 1.0
API = "/api/v1/public/institutions"
DECISION = re.compile(r"长民罚〔2026〕R\d+号")
Headers = dict[str, str]


@pytest.fixture(scope="module")
def pair() -> Iterator[StreamingPair]:
    pair = StreamingPair()
    try:
        pair.start()
        yield pair
    finally:
        pair.close()


@pytest.fixture(scope="module")
async def admin_token(pair: StreamingPair) -> str:
    """A migrated database on the primary, which the standby follows; an admin's token."""
    connection = await asyncpg.connect(pair.primary.dsn())
    try:
        await connection.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await connection.close()
    engine = make_engine(pair.primary.url(DATABASE), pool_size=2)
    await upgrade(engine)
    async with make_session_factory(engine)() as session, session.begin():
        await ensure_shipped(session, system_context())
        _, token = await create_user(session, system_context(), name="管理员", role=Role.ADMIN)
    await engine.dispose()
    return token


@pytest.fixture(scope="module")
async def server(
    pair: StreamingPair, admin_token: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    settings = Settings(
        environment="test",
        database_url=pair.primary.url(DATABASE),
        database_replica_url=pair.standby.url(DATABASE),
        replica_max_lag_seconds=BOUND,
        data_dir=tmp_path_factory.mktemp("replica-data"),
        secret_key=Secret.configured(TEST_SECRET_KEY),
        log_format="json",
        public_rate_limit=1_000_000,
    )
    async for url in serve(create_app(settings)):
        yield url


@pytest.fixture
async def client(server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        yield client


async def on_standby(pair: StreamingPair, query: str) -> Any:
    connection = await asyncpg.connect(pair.standby.dsn(DATABASE))
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


async def register(client: httpx.AsyncClient, admin: Headers, n: int) -> str:
    response = await client.post("/api/v1/institutions", json=institution_body(n), headers=admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def fine(client: httpx.AsyncClient, admin: Headers, home: str, n: int) -> None:
    """Confirm a penalty: published at once, so the home's public status shows it."""
    body = penalty_body(home, document_no=f"长民罚〔2026〕R{n}号")
    response = await client.post("/api/v1/records", json=body, params={"confirm": True},
                                 headers=admin)  # fmt: skip
    assert response.status_code == 201, response.text


async def penalties(client: httpx.AsyncClient, uscc: str) -> int | None:
    """How many penalties the public lookup shows (None: it does not know the home yet)."""
    response = await client.get(f"{API}/{uscc}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return len(response.json()["penalties"])


async def shown_within(
    client: httpx.AsyncClient, uscc: str, count: int, seconds: float = AT_ONCE
) -> None:
    """Until the lookup shows ``count`` penalties; fails after ``seconds``."""
    started = time.monotonic()
    while (await penalties(client, uscc)) != count:
        assert time.monotonic() - started < seconds, f"{count} penalties not shown in {seconds} s"
        await asyncio.sleep(0.01)


async def by_standby(
    pair: StreamingPair, table: str, ask: Callable[[], Awaitable[httpx.Response]]
) -> httpx.Response:
    """Ask until the standby reads ``table`` for the answer (just after a change the
    primary may answer instead); the answer, a 200."""
    deadline = time.monotonic() + 5
    while True:
        before = pair.standby_statements(table)
        response = await ask()
        assert response.status_code == 200, response.text
        if pair.standby_statements(table) > before:
            return response
        assert time.monotonic() < deadline, f"the standby never read {table}"
        await asyncio.sleep(0.05)


async def replica_status(client: httpx.AsyncClient) -> dict[str, Any]:
    ready = await client.get("/ready")
    assert ready.status_code == 200, ready.text  # whatever the standby does
    status: dict[str, Any] = ready.json()["replica"]
    return status


async def until_replica(client: httpx.AsyncClient, state: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while (await replica_status(client))["status"] != state:
        assert time.monotonic() < deadline, f"/ready never said the standby is {state}"
        await asyncio.sleep(0.1)


async def test_the_standby_answers_the_public_reads_and_a_change_shows_within_the_bound(
    client: httpx.AsyncClient, pair: StreamingPair, admin_token: str
) -> None:
    admin = bearer(admin_token)
    uscc = make_uscc(1)
    home = await register(client, admin, 1)
    await shown_within(client, uscc, 0)
    await fine(client, admin, home, 1)
    await shown_within(client, uscc, 1)
    page = await client.get(f"/institutions/{uscc}")
    assert page.status_code == 200
    assert DECISION.findall(page.text) == ["长民罚〔2026〕R1号"]

    # What an operator checks: the standby ran the reads (its log holds every statement).
    fresh = iter(range(1000))  # a query the cache has not seen: each ask reads
    lookup = await by_standby(
        pair, "public_institutions", lambda: client.get(f"{API}/{uscc}?ask={next(fresh)}")
    )
    assert len(lookup.json()["penalties"]) == 1
    eligibility = await by_standby(
        pair,
        "credit_scores",
        lambda: client.post(
            "/api/v1/eligibility",
            json={"program": "operating_subsidy", "subjects": [{"uscc": uscc}]},
            headers=admin,
        ),
    )
    assert eligibility.json()["answers"][0]["grade"] == "B"  # 100 - 15 for the penalty
    export = await by_standby(
        pair, "records", lambda: client.get("/api/v1/disclosures/penalties", headers=admin)
    )
    assert [row["decision_no"] for row in export.json()["items"]] == ["长民罚〔2026〕R1号"]

    status = await replica_status(client)
    assert status["status"] == "ok"
    assert 0 <= status["lag_seconds"] <= BOUND
    metrics = (await client.get("/metrics")).text
    assert re.search(r'^credit_service_replica_up\{replica="[^"]+"\} 1\.0$', metrics, re.M)
    assert re.search(r"^credit_service_replica_lag_seconds\{replica=", metrics, re.M)


async def test_an_answer_is_never_older_than_one_given_before_it(
    client: httpx.AsyncClient, pair: StreamingPair, admin_token: str
) -> None:
    """Penalties are added one by one while the lookup and the page are read as fast as
    they answer; halfway the standby stops replaying, so it falls behind the bound."""
    admin = bearer(admin_token)
    uscc = make_uscc(2)
    home = await register(client, admin, 2)
    answers: list[tuple[float, float, int]] = []  # asked, answered, penalties shown
    done = asyncio.Event()

    async def read(reader: httpx.AsyncClient) -> None:
        while not done.is_set():
            asked = time.monotonic()
            count = await penalties(reader, uscc)
            if count is not None:
                answers.append((asked, time.monotonic(), count))
            asked = time.monotonic()
            page = await reader.get(f"/institutions/{uscc}")
            if page.status_code == 200:
                answers.append((asked, time.monotonic(), len(DECISION.findall(page.text))))

    async def read_from_a_second_client() -> None:
        async with httpx.AsyncClient(base_url=str(client.base_url), timeout=30) as other:
            await read(other)

    readers = [asyncio.create_task(read(client)), asyncio.create_task(read_from_a_second_client())]
    try:
        for n in range(1, 4):
            await fine(client, admin, home, n)
            await shown_within(client, uscc, n)
        await on_standby(pair, "SELECT pg_wal_replay_pause()")
        for n in range(4, 7):
            # The standby is behind, though still within the bound: the primary answers.
            await fine(client, admin, home, n)
            await shown_within(client, uscc, n)
        replayed = await on_standby(
            pair, f"SELECT count(*) FROM records WHERE institution_id = '{home}'"
        )
        assert replayed < 6  # the standby really is behind
        await until_replica(client, "lagging")
        await fine(client, admin, home, 7)
        await shown_within(client, uscc, 7)
        await on_standby(pair, "SELECT pg_wal_replay_resume()")
        await until_replica(client, "ok")
        await fine(client, admin, home, 8)
        await shown_within(client, uscc, 8)
        await asyncio.sleep(0.2)
    finally:
        done.set()
        await asyncio.gather(*readers)
    assert len(answers) > 50
    assert max(count for _, _, count in answers) == 8
    # No answer shows fewer penalties than one received before it was asked.
    by_answered = sorted(answers, key=lambda answer: answer[1])
    for asked, _, count in answers:
        before = [shown for _, answered, shown in by_answered if answered < asked]
        assert count >= max(before, default=0), (asked, count, max(before))


async def test_the_primary_answers_while_the_standby_is_stopped(
    client: httpx.AsyncClient, pair: StreamingPair, admin_token: str
) -> None:
    admin = bearer(admin_token)
    uscc = make_uscc(3)
    home = await register(client, admin, 3)
    await fine(client, admin, home, 1)
    await shown_within(client, uscc, 1)

    await asyncio.to_thread(pair.stop_standby)
    try:
        await fine(client, admin, home, 2)
        await shown_within(client, uscc, 2)
        search = await client.get(API, params={"q": uscc})
        assert search.status_code == 200
        assert search.json()["items"][0]["uscc"] == uscc
        eligibility = await client.get(f"/api/v1/eligibility/operating_subsidy/{uscc}",
                                       headers=admin)  # fmt: skip
        assert eligibility.status_code == 200, eligibility.text
        await until_replica(client, "down")
        assert (await replica_status(client))["lag_seconds"] is None
        metrics = (await client.get("/metrics")).text
        assert re.search(r'^credit_service_replica_up\{replica="[^"]+"\} 0\.0$', metrics, re.M)
    finally:
        await asyncio.to_thread(pair.start_standby)
    await until_replica(client, "ok")
    await fine(client, admin, home, 3)
    await shown_within(client, uscc, 3)


async def test_serve_reads_the_standby_its_environment_names(
    pair: StreamingPair, admin_token: str, tmp_path: Path
) -> None:
    """`credit-service serve`, two workers, configured as an operator would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DATABASE_URL=pair.primary.url(DATABASE),
        DATABASE_REPLICA_URL=pair.standby.url(DATABASE),
        REPLICA_MAX_LAG_SECONDS=str(BOUND),
        SECRET_KEY=TEST_SECRET_KEY,
        DATA_DIR=str(tmp_path / "data"),
        LOG_FORMAT="json",
        PUBLIC_RATE_LIMIT="0",  # the count is shared with the server above, in the primary
    )
    with served(env, tmp_path / "server.log", workers=2) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            await until_replica(client, "ok")
            fresh = iter(range(1000))
            lookup = await by_standby(
                pair,
                "public_institutions",
                lambda: client.get(f"{API}/{make_uscc(1)}?ask={next(fresh)}"),
            )
            assert lookup.json()["uscc"] == make_uscc(1)
