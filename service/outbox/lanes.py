"""Delivery lanes: the one loop that empties the outbox, whatever the destination.

A lane is a destination fed from the outbox: a public-credit platform
(``service.integrations.delivery``) or the subjects' notice webhook
(``service.listing.delivery``). Each lane sends one batch per transaction; ``drain``
sends batch after batch until the lane is empty, fails (it then waits, on the one
retry schedule of ``service.outbox.backoff``), or another worker holds it, and
``drain_all`` runs every lane at once, so a slow destination holds up no other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.logs import get_logger

log = get_logger(__name__)


@dataclass(slots=True)
class BatchResult:
    claimed: int = 0  # messages in the batch
    records: int = 0  # distinct records (or notices) sent
    delivered: int = 0
    dead: int = 0  # given up: refused, or out of attempts
    failed: int = 0  # not delivered this time: tried again later
    error: str | None = None  # the destination failed: the lane stops here
    retry_at: datetime | None = None
    skipped: str | None = None  # "busy" (another worker has the lane) or "waiting"


class Lane(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def batch_size(self) -> int: ...

    async def deliver_batch(self, session: AsyncSession) -> BatchResult:
        """Send the lane's next batch and settle it, in the caller's transaction."""
        ...


@dataclass(slots=True)
class LaneReport:
    lane: str
    batches: int = 0
    delivered: int = 0
    dead: int = 0
    failed: int = 0
    error: str | None = None
    retry_at: datetime | None = None
    skipped: str | None = None


async def drain(
    sessions: async_sessionmaker[AsyncSession], lane: Lane, *, max_batches: int | None = None
) -> LaneReport:
    """Send the lane's batches until it is empty, fails, or another worker holds it."""
    report = LaneReport(lane.name)
    while max_batches is None or report.batches < max_batches:
        async with sessions() as session, session.begin():
            batch = await lane.deliver_batch(session)
        if batch.skipped:
            report.skipped, report.retry_at = batch.skipped, batch.retry_at
            break
        if batch.claimed == 0:
            break
        report.batches += 1
        report.delivered += batch.delivered
        report.dead += batch.dead
        report.failed += batch.failed
        if batch.error:
            report.error, report.retry_at = batch.error, batch.retry_at
            log.warning(
                "delivery_failed", lane=lane.name, error=batch.error, retry_at=batch.retry_at
            )
            break
        if batch.claimed < lane.batch_size:
            break
    return report


async def drain_all(
    sessions: async_sessionmaker[AsyncSession], lanes: Sequence[Lane]
) -> list[LaneReport]:
    """Every lane at once, each in its own transactions."""
    return list(await asyncio.gather(*(drain(sessions, lane) for lane in lanes)))
