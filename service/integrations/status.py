"""What operators see of the sync: per platform, the backlog, its age, dead letters, success.

Read by ``GET /api/v1/admin/sync`` and the Prometheus gauges alike; and the one
operator action on dead letters, re-sending them after a correction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.actor import Role
from service.audit import chain as audit
from service.context import CommandContext
from service.errors import NotFound
from service.integrations.models import SyncPlatform
from service.integrations.staging import restage

DEAD_LETTERS_SHOWN = 50


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record_id: str
    version: int
    reason: str | None
    attempts: int
    failed_at: datetime | None


@dataclass(slots=True)
class PlatformStatus:
    name: str
    enabled: bool
    record_types: list[str]
    backlog: int
    oldest_pending_at: datetime | None
    oldest_pending_age_seconds: float | None
    dead_letters: int
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    retry_at: datetime | None
    failures: int
    pull: bool
    last_pull_at: datetime | None
    last_pull_error: str | None
    recent_dead_letters: list[DeadLetter] = field(default_factory=list)


_COUNTS = sa.text(
    """
    SELECT topic, status, count(*) AS n, min(created_at) AS oldest
    FROM outbox
    WHERE topic LIKE 'sync:%' AND status IN ('pending', 'dead')
    GROUP BY topic, status
    """
)


async def sync_status(
    session: AsyncSession, now: datetime, *, with_dead_letters: bool = True
) -> list[PlatformStatus]:
    counts: dict[tuple[str, str], Any] = {
        (row.topic, row.status): row for row in await session.execute(_COUNTS)
    }
    platforms = (
        await session.execute(sa.select(SyncPlatform).order_by(col(SyncPlatform.name)))
    ).scalars()
    shown = []
    for platform in platforms:
        topic = f"sync:{platform.name}"
        pending, dead = counts.get((topic, "pending")), counts.get((topic, "dead"))
        oldest = pending.oldest if pending else None
        status = PlatformStatus(
            name=platform.name, enabled=platform.enabled, record_types=list(platform.record_types),
            backlog=pending.n if pending else 0, oldest_pending_at=oldest,
            oldest_pending_age_seconds=(now - oldest).total_seconds() if oldest else None,
            dead_letters=dead.n if dead else 0, last_success_at=platform.last_success_at,
            last_attempt_at=platform.last_attempt_at, last_error=platform.last_error,
            retry_at=platform.retry_at, failures=platform.failures, pull=platform.pull,
            last_pull_at=platform.last_pull_at, last_pull_error=platform.last_pull_error,
        )  # fmt: skip
        if with_dead_letters and status.dead_letters:
            status.recent_dead_letters = await _dead_letters(session, topic)
        shown.append(status)
    return shown


async def _dead_letters(session: AsyncSession, topic: str) -> list[DeadLetter]:
    rows = await session.execute(
        sa.text(
            """
            SELECT key, (payload->>'version')::int AS version, last_error, attempts, sent_at
            FROM outbox WHERE topic = :topic AND status = 'dead'
            ORDER BY id DESC LIMIT :limit
            """
        ),
        {"topic": topic, "limit": DEAD_LETTERS_SHOWN},
    )
    return [DeadLetter(r.key, r.version, r.last_error, r.attempts, r.sent_at) for r in rows]


async def retry_dead(session: AsyncSession, ctx: CommandContext, platform: str) -> int:
    """Re-send a platform's dead letters, each rebuilt from its corrected source.

    A record whose source changed gets a new version (for every platform); then the
    dead messages go back in the lane, where the current version of each is sent.
    Admins only (the CLI acts as the system); audited with the count re-sent.
    """
    ctx.actor.require_role(Role.ADMIN)
    if await session.get(SyncPlatform, platform) is None:
        raise NotFound(f"no platform named {platform} has been registered")
    topic = f"sync:{platform}"
    keys = list(
        (
            await session.execute(
                sa.text("SELECT DISTINCT key FROM outbox WHERE topic = :topic AND status = 'dead'"),
                {"topic": topic},
            )
        ).scalars()
    )
    if not keys:
        return 0
    await restage(session, ctx, keys)
    await session.execute(
        sa.text(
            """
            UPDATE outbox SET status = 'pending', available_at = :now,
                   last_error = left('re-sent after: ' || coalesce(last_error, ''), 500)
            WHERE topic = :topic AND status = 'dead'
            """
        ),
        {"topic": topic, "now": ctx.now()},
    )
    await audit.record(
        session, ctx, action="sync.retry_dead", target_type="sync_platform", target_id=platform,
        after={"records": len(keys)},
    )  # fmt: skip
    return len(keys)
