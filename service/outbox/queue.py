"""The transactional outbox: write a message with the change; deliver it later, once.

A message is inserted in the transaction of the change that causes it, so it exists
exactly when the change does. Workers claim due messages with ``FOR UPDATE SKIP
LOCKED``, so several can run at once without taking the same message; a failed
delivery is retried later on the one retry schedule (``service.outbox.backoff``), and
after ``MAX_ATTEMPTS`` it is parked as ``dead`` for an operator.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.context import CommandContext
from service.outbox.backoff import Backoff
from service.outbox.models import OutboxMessage

MAX_ATTEMPTS = 12
RETRY = Backoff(initial=1, maximum=3600)  # 1 s, 2 s, 4 s ... an hour, each up to 1 s later
KEEP_SETTLED = timedelta(days=90)  # delivered messages stay this long, for operators' questions


def enqueue(
    session: AsyncSession, topic: str, key: str, payload: dict[str, Any], now: datetime
) -> OutboxMessage:
    message = OutboxMessage(topic=topic, key=key, payload=payload, available_at=now, created_at=now)
    session.add(message)
    return message


async def claim(
    session: AsyncSession, topics: Sequence[str], now: datetime, limit: int
) -> list[OutboxMessage]:
    """Due pending messages of these topics, locked for this transaction, oldest first."""
    if not topics:
        return []
    rows = await session.execute(
        sa.select(OutboxMessage)
        .where(
            col(OutboxMessage.status) == "pending",
            col(OutboxMessage.available_at) <= now,
            col(OutboxMessage.topic).in_(list(topics)),
        )
        .order_by(col(OutboxMessage.available_at), col(OutboxMessage.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.scalars())


def delivered(message: OutboxMessage, now: datetime) -> None:
    message.status, message.sent_at = "sent", now
    message.attempts += 1
    message.last_error = None


def failed(message: OutboxMessage, now: datetime, error: str) -> None:
    """Try again later (on ``RETRY``), or give up after MAX_ATTEMPTS."""
    message.attempts += 1
    message.last_error = error[:500]
    if message.attempts >= MAX_ATTEMPTS:
        message.status = "dead"
        return
    message.available_at = now + RETRY.delay(message.attempts)


async def purge_settled(session: AsyncSession, ctx: CommandContext) -> int:
    """Daily: forget delivered and superseded messages older than ``KEEP_SETTLED``."""
    result = await session.execute(
        sa.delete(OutboxMessage).where(
            col(OutboxMessage.status).in_(["sent", "superseded"]),
            col(OutboxMessage.created_at) < ctx.now() - KEEP_SETTLED,
        )
    )
    return result.rowcount  # type: ignore[attr-defined,no-any-return]
