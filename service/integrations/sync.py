"""Running the sync: registering the platforms, draining each lane, pulling the feeds.

The platforms file is read by the processes that talk to platforms (worker, CLI);
they register its platforms in ``sync_platforms`` so that any transaction, in any
process, fans a change out to exactly the platforms that take its record type.
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
from service.integrations.delivery import BatchResult, deliver_batch
from service.integrations.inbound import PullReport, pull
from service.integrations.models import SyncPlatform
from service.integrations.platforms import Platform, Platforms
from service.integrations.protocol import MAX_BATCH
from service.logs import get_logger

log = get_logger(__name__)


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


@dataclass(slots=True)
class Connections:
    """The platforms file, with one signed client per platform."""

    platforms: Platforms
    vault: IdNumberVault
    clients: dict[str, PlatformClient] = field(default_factory=dict)

    def client(self, platform: Platform) -> PlatformClient:
        return self.clients[platform.name]


@asynccontextmanager
async def connect(platforms: Platforms, vault: IdNumberVault) -> AsyncIterator[Connections]:
    async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=8)) as http:
        yield Connections(
            platforms, vault, {p.name: PlatformClient(p, http) for p in platforms.platforms}
        )


@dataclass(slots=True)
class LaneReport:
    platform: str
    batches: int = 0
    delivered: int = 0
    dead: int = 0
    error: str | None = None
    retry_at: datetime | None = None
    skipped: str | None = None


async def drain(
    sessions: async_sessionmaker[AsyncSession],
    connections: Connections,
    platform: Platform,
    now: Callable[[], datetime],
    *,
    max_batches: int | None = None,
) -> LaneReport:
    """Send the lane's batches until it is empty, fails, or another worker holds it."""
    report = LaneReport(platform.name)
    while max_batches is None or report.batches < max_batches:
        async with sessions() as session, session.begin():
            batch: BatchResult = await deliver_batch(
                session, platform, connections.platforms.sender, connections.client(platform),
                connections.vault, now,
            )  # fmt: skip
        if batch.skipped:
            report.skipped, report.retry_at = batch.skipped, batch.retry_at
            break
        if batch.claimed == 0:
            break
        report.batches += 1
        report.delivered += batch.delivered
        report.dead += batch.dead
        if batch.error:
            report.error, report.retry_at = batch.error, batch.retry_at
            log.warning(
                "sync_batch_failed", platform=platform.name, error=batch.error,
                retry_at=batch.retry_at,
            )  # fmt: skip
            break
        if batch.claimed < MAX_BATCH:
            break
    return report


async def _pull_due(
    sessions: async_sessionmaker[AsyncSession], platform: Platform, now: datetime
) -> bool:
    async with sessions() as session:
        last = await session.scalar(
            sa.select(col(SyncPlatform.last_pull_at)).where(col(SyncPlatform.name) == platform.name)
        )
    return last is None or now - last >= timedelta(seconds=platform.pull_interval)


@dataclass(slots=True)
class SyncPass:
    lanes: list[LaneReport] = field(default_factory=list)
    pulls: list[PullReport] = field(default_factory=list)

    @property
    def delivered(self) -> int:
        return sum(lane.delivered for lane in self.lanes)

    @property
    def busy(self) -> bool:
        return any(lane.batches for lane in self.lanes) or any(p.items for p in self.pulls)


async def sync_pass(
    sessions: async_sessionmaker[AsyncSession], ctx: CommandContext, connections: Connections
) -> SyncPass:
    """Every platform at once: drain its lane, and pull its feed when due."""

    async def one(platform: Platform) -> tuple[LaneReport, PullReport | None]:
        lane = await drain(sessions, connections, platform, ctx.now)
        pulled = None
        if platform.pull and await _pull_due(sessions, platform, ctx.now()):
            pulled = await pull(
                sessions, ctx, platform, connections.client(platform), connections.vault
            )
        return lane, pulled

    done = SyncPass()
    for lane, pulled in await asyncio.gather(*(one(p) for p in connections.platforms.platforms)):
        done.lanes.append(lane)
        if pulled is not None:
            done.pulls.append(pulled)
    return done
