"""Running the sync: registering the platforms, their lanes, pulling the feeds.

Every process that publishes or syncs (the service, the worker, the sync commands)
registers the platforms file's platforms in ``sync_platforms`` when it starts
(``register_at_start``), so that any transaction, in any process, fans a change out
to exactly the platforms that take its record type. Each platform is a lane of the
outbox's delivery loop (``service.outbox.lanes``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from service.context import CommandContext
from service.identity.protection import IdNumberVault
from service.integrations.client import PlatformClient
from service.integrations.delivery import PlatformLane
from service.integrations.inbound import PullReport, pull
from service.integrations.models import SyncPlatform
from service.integrations.platforms import Platform, Platforms
from service.outbox.lanes import LaneReport
from service.outbox.lanes import drain as drain_lane


async def register_platforms(session: AsyncSession, platforms: Platforms) -> None:
    """Make the configured platforms the enabled ones; keep the state of the others."""
    names = [platform.name for platform in platforms.platforms]
    for platform in platforms.platforms:
        statement = insert(SyncPlatform).values(
            name=platform.name, record_types=platform.record_types, pull=platform.pull,
            enabled=True,
        )  # fmt: skip
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["name"],
                set_={
                    "record_types": platform.record_types,
                    "pull": platform.pull,
                    "enabled": True,
                },
            )
        )
    await session.execute(
        sa.update(SyncPlatform).where(col(SyncPlatform.name).not_in(names)).values(enabled=False)
    )


async def register_at_start(
    sessions: async_sessionmaker[AsyncSession], platforms: Platforms
) -> None:
    """What a process that publishes or syncs does first, in a transaction of its own:
    register the platforms file's platforms (without a file, leave the registry alone)."""
    if not platforms.configured:
        return
    async with sessions() as session, session.begin():
        await register_platforms(session, platforms)


@dataclass(slots=True)
class Connections:
    """The platforms file, with one signed client per platform."""

    platforms: Platforms
    vault: IdNumberVault
    clients: dict[str, PlatformClient] = field(default_factory=dict)

    def client(self, platform: Platform) -> PlatformClient:
        return self.clients[platform.name]

    def lane(self, platform: Platform, now: Callable[[], datetime]) -> PlatformLane:
        return PlatformLane(platform, self.platforms.sender, self.client(platform), self.vault, now)

    def lanes(self, now: Callable[[], datetime]) -> list[PlatformLane]:
        return [self.lane(platform, now) for platform in self.platforms.platforms]


@asynccontextmanager
async def connect(platforms: Platforms, vault: IdNumberVault) -> AsyncIterator[Connections]:
    async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=8)) as http:
        yield Connections(
            platforms, vault, {p.name: PlatformClient(p, http) for p in platforms.platforms}
        )


async def drain(
    sessions: async_sessionmaker[AsyncSession],
    connections: Connections,
    platform: Platform,
    now: Callable[[], datetime],
    *,
    max_batches: int | None = None,
) -> LaneReport:
    """Send the platform's batches until its lane is empty, fails, or another worker holds it."""
    return await drain_lane(sessions, connections.lane(platform, now), max_batches=max_batches)


async def _pull_due(
    sessions: async_sessionmaker[AsyncSession], platform: Platform, now: datetime
) -> bool:
    async with sessions() as session:
        last = await session.scalar(
            sa.select(col(SyncPlatform.last_pull_at)).where(col(SyncPlatform.name) == platform.name)
        )
    return last is None or now - last >= timedelta(seconds=platform.pull_interval)


async def pull_feeds(
    sessions: async_sessionmaker[AsyncSession], ctx: CommandContext, connections: Connections
) -> list[PullReport]:
    """Every platform's changes feed that is due (``pull = true``), all at once."""

    async def one(platform: Platform) -> PullReport | None:
        if not (platform.pull and await _pull_due(sessions, platform, ctx.now())):
            return None
        return await pull(sessions, ctx, platform, connections.client(platform), connections.vault)

    pulled = await asyncio.gather(*(one(p) for p in connections.platforms.platforms))
    return [report for report in pulled if report is not None]
