"""One delivery loop: the notices are a lane like each platform's, and every lane waits
on the one retry schedule, however long its destination stays down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from conftest import SERVER_CLOCK, TEST_SECRET_KEY, MovableClock, endpoint, serve
from factories import institution_body
from processes import free_port
from simulated import platform_of, registered, stage_blacklist
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.actor import SYSTEM
from service.config import Settings
from service.context import CommandContext
from service.identity.protection import IdNumberVault
from service.integrations.sync import connect, drain
from service.secret import Secret
from service.wiring import PIPELINE
from service.worker import Pass, run_pass

Sessions = async_sessionmaker[AsyncSession]


@dataclass
class Webhook:
    """A real HTTP endpoint for the subjects' notices that counts what it is asked."""

    url: str = ""
    requests: int = 0
    statuses: list[int] = field(default_factory=list)  # to answer in turn, then 200


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    hook = Webhook()

    def answer(body: bytes) -> int:
        hook.requests += 1
        return hook.statuses.pop(0) if hook.statuses else 200

    async for url in serve(endpoint(answer)):
        hook.url = url + "/notices"
        yield hook


async def notices_waiting(
    client: httpx.AsyncClient, admin: dict[str, str], inspector: dict[str, str], count: int
) -> None:
    """``count`` notices served by hand, each waiting in the outbox for the webhook."""
    for n in range(1, count + 1):
        home = (
            await client.post("/api/v1/institutions", json=institution_body(n), headers=admin)
        ).json()["id"]
        proposal = {"list_type": "watch", "subject_kind": "institution", "subject_id": home,
                    "reason_code": "WATCH_OTHER", "basis": "x"}  # fmt: skip
        entry = (await client.post("/api/v1/list-entries", json=proposal, headers=inspector)).json()
        notified = await client.post(
            f"/api/v1/list-entries/{entry['id']}/notify", json={}, headers=inspector
        )
        assert notified.status_code == 200, notified.text


async def worker_pass(sessions: Sessions, settings: Settings, webhook: Webhook) -> Pass:
    ctx = CommandContext(SYSTEM, clock=SERVER_CLOCK, pipeline=PIPELINE)
    async with httpx.AsyncClient(timeout=10) as http:
        return await run_pass(
            sessions, ctx, replace(settings, notice_webhook_url=webhook.url), http
        )


async def outbox_attempts(sessions: Sessions) -> list[tuple[int, str]]:
    async with sessions() as session:
        rows = await session.execute(sa.text("SELECT attempts, status FROM outbox ORDER BY id"))
    return [(attempts, status) for attempts, status in rows]


async def test_a_webhook_that_is_down_is_asked_once_a_pass_and_every_notice_waits(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    inspector: dict[str, str],
    session_factory: Sessions,
    test_settings: Settings,
    webhook: Webhook,
    clock: MovableClock,
) -> None:
    await notices_waiting(client, admin, inspector, 3)
    webhook.statuses = [503] * 10
    down = await worker_pass(session_factory, test_settings, webhook)
    assert webhook.requests == 1
    assert (down.delivered, down.failed) == (0, 1)
    assert await outbox_attempts(session_factory) == [
        (1, "pending"), (0, "pending"), (0, "pending"),
    ]  # fmt: skip
    webhook.statuses = []
    clock.set(datetime.now(UTC) + timedelta(seconds=5))  # past the first retry's wait
    back = await worker_pass(session_factory, test_settings, webhook)
    assert (back.delivered, back.failed) == (3, 0)
    assert webhook.requests == 4
    assert await outbox_attempts(session_factory) == [(2, "sent"), (1, "sent"), (1, "sent")]


async def test_a_notice_the_webhook_refuses_fails_alone(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    inspector: dict[str, str],
    session_factory: Sessions,
    test_settings: Settings,
    webhook: Webhook,
) -> None:
    await notices_waiting(client, admin, inspector, 3)
    webhook.statuses = [422]
    done = await worker_pass(session_factory, test_settings, webhook)
    assert (done.delivered, done.failed) == (2, 1)
    assert await outbox_attempts(session_factory) == [(1, "pending"), (1, "sent"), (1, "sent")]


async def test_a_platform_down_for_days_waits_its_retry_max_after_each_failure(
    session_factory: Sessions, clean_db: None
) -> None:
    # Nothing listens on the port: every batch is refused, as by a platform that is down.
    platforms = await registered(session_factory, platform_of(f"http://127.0.0.1:{free_port()}"))
    platform = platforms.platforms[0]
    await stage_blacklist(session_factory, range(1, 3))
    async with session_factory() as session, session.begin():
        # A retry every retry_max (0.3 s here, 300 s by default) for days.
        await session.execute(
            sa.text("UPDATE sync_platforms SET failures = 5000 WHERE name = :name"),
            {"name": platform.name},
        )
    moment = datetime.now(UTC)
    async with connect(platforms, IdNumberVault(Secret(TEST_SECRET_KEY))) as connections:
        refused = await drain(session_factory, connections, platform, lambda: moment)
    assert refused.error is not None
    assert "ConnectError" in refused.error
    assert refused.retry_at == moment + timedelta(seconds=platform.retry_max)
