"""Test fixtures: one PostgreSQL per session, a migrated database, a live HTTP server.

The server is the machine's own when TEST_DATABASE_URL names it (CI), otherwise an
embedded cluster this session starts itself. Every test that touches the database
gets it emptied first, so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from playwright.async_api import Browser, async_playwright
from signing import TEST_SIGNING_KEY_FILE
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.actor import Role
from service.app import create_app
from service.audit.chain import AUDIT_CHAIN_LOCK
from service.auth.service import create_user
from service.config import Settings
from service.db.embedded import EmbeddedPostgres
from service.db.engine import make_engine, make_session_factory
from service.db.migrate import upgrade
from service.policy.models import PolicyVersion
from service.policy.store import ensure_shipped
from service.secret import Secret
from service.tables import metadata
from service.wiring import system_context

TEST_SECRET_KEY = "test-secret-key-" + "x" * 32
# The browser tests need Debian's chromium. Without it (and outside CI, which installs
# it) they are not collected, and the run says so plainly at its start and its end.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_BROWSER = "browser tests NOT RUN: chromium is not installed (apt-get install chromium)"


def _browser_tests_left_out() -> bool:
    return CHROMIUM is None and os.environ.get("CI") != "true"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name == "browser" and _browser_tests_left_out():
        return True
    return None


def pytest_report_header(config: pytest.Config) -> str:
    return NO_BROWSER if _browser_tests_left_out() else f"browser tests: {CHROMIUM}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _browser_tests_left_out():
        terminalreporter.write_line(NO_BROWSER, yellow=True, bold=True)


# Without the background-networking flags chromium keeps calling home, which is closed here.
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@pytest.fixture(scope="session")
def chromium() -> str:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed (apt-get install chromium; .ci/run does in CI)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_FLAGS
        )
        yield launched
        await launched.close()


CLI = str(Path(sys.executable).parent / "credit-service")

MakeToken = Callable[..., Awaitable[str]]


def libpq_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def with_database(sqlalchemy_url: str, name: str) -> str:
    head, _, tail = sqlalchemy_url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{tail}" if tail else "")


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL of a PostgreSQL server's maintenance database."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("embedded-pg"))
    try:
        yield embedded.start()
    finally:
        embedded.stop()


async def create_database(server: str, name: str) -> str:
    connection = await asyncpg.connect(libpq_dsn(server))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return with_database(server, name)


async def drop_database(server: str, name: str) -> None:
    connection = await asyncpg.connect(libpq_dsn(server))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    """A database of this test session's own, migrated to head."""
    name = f"credit_test_{os.getpid()}_{secrets.token_hex(3)}"
    url = await create_database(server_url, name)
    engine = make_engine(url, pool_size=2)
    await upgrade(engine)
    async with make_session_factory(engine)() as session, session.begin():
        await ensure_shipped(session, system_context())
    await engine.dispose()
    try:
        yield url
    finally:
        await drop_database(server_url, name)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_session_factory(engine)


@pytest.fixture(scope="session")
async def shipped_policy_row(engine: AsyncEngine) -> dict[str, object]:
    """The shipped policy as `db upgrade` stored it, to put back after each truncation."""
    async with engine.connect() as connection:
        row = (await connection.execute(sa.select(PolicyVersion))).mappings().one()
    return dict(row)


@pytest.fixture
async def clean_db(engine: AsyncEngine, shipped_policy_row: dict[str, object]) -> None:
    tables = ", ".join(table.name for table in metadata.sorted_tables)
    async with engine.begin() as connection:
        # The chain lock first: a served app's sequencer then passes instead of taking
        # the audit tables' locks in another order than the TRUNCATE (a deadlock).
        await connection.execute(sa.select(sa.func.pg_advisory_xact_lock(AUDIT_CHAIN_LOCK)))
        await connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        await connection.execute(sa.insert(PolicyVersion), [shipped_policy_row])


@pytest.fixture(scope="session")
def test_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        signing_key_file=TEST_SIGNING_KEY_FILE,
        secret_key=Secret.configured(TEST_SECRET_KEY),
        log_format="json",
        max_request_body_bytes=65_536,
        public_rate_limit=1_000_000,  # the tests are one client; one test checks the limit
    )


class MovableClock:
    """The server's clock: real time, unless a test pins it to a moment."""

    def __init__(self) -> None:
        self.pinned: datetime | None = None

    def __call__(self) -> datetime:
        return self.pinned or datetime.now(UTC)

    def set(self, moment: datetime) -> None:
        self.pinned = moment


SERVER_CLOCK = MovableClock()


@pytest.fixture
def clock() -> Iterator[MovableClock]:
    """The live server's clock, released back to real time after the test."""
    yield SERVER_CLOCK
    SERVER_CLOCK.pinned = None


def endpoint(answer: Callable[[bytes], int]) -> Any:
    """A real HTTP endpoint as an ASGI app: each request's whole body goes to ``answer``,
    whose status code is sent back with an empty body (webhooks, witnesses)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": answer(body), "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


async def serve(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; yield its base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
async def live_server(test_settings: Settings) -> AsyncIterator[str]:
    """The app served by uvicorn on a free loopback port, in this test session's loop."""
    async for url in serve(create_app(test_settings, clock=SERVER_CLOCK)):
        yield url


@pytest.fixture
async def client(live_server: str, clean_db: None) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        yield client


@pytest.fixture
async def simulator() -> AsyncIterator[Any]:
    """The platform simulator as its own process (tests/simulated.py), stopped after."""
    from simulated import SimulatorProcess

    process = SimulatorProcess()
    await process.start()
    yield process
    await process.stop()


@pytest.fixture
def make_token(session_factory: async_sessionmaker[AsyncSession]) -> MakeToken:
    """Create a user with a role (and region) and return its bearer token."""

    async def make(role: str, region: str | None = None, name: str = "测试用户") -> str:
        async with session_factory() as session, session.begin():
            _, token = await create_user(
                session, system_context(), name=name, role=Role(role), region_code=region
            )
        return token

    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def admin(make_token: MakeToken) -> dict[str, str]:
    return bearer(await make_token("admin"))


@pytest.fixture
async def inspector(make_token: MakeToken) -> dict[str, str]:
    """An inspector of 湖州市 (3305), where the factories' institutions are."""
    return bearer(await make_token("inspector", "3305", name="王建国"))


@pytest.fixture
async def reviewer(make_token: MakeToken) -> dict[str, str]:
    return bearer(await make_token("reviewer", "3305", name="赵审核"))


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment for running `credit-service` against the test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=TEST_SECRET_KEY,
        DATA_DIR=str(tmp_path / "data"),
        LOG_FORMAT="json",
    )
    return env
