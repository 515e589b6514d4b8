"""Delivering notices to the subjects' webhook: one lane of the outbox's delivery loop.

``notify`` leaves each notice in the outbox (topic ``list.notice``). A batch claims the
due ones (``SKIP LOCKED``: several workers share the lane, never the same notice) and
POSTs each to ``NOTICE_WEBHOOK_URL`` with an ``Idempotency-Key``; a delivered notice
records when. An answer that refuses one notice (a 4xx) fails that notice alone. When
the webhook itself fails (no answer, a 5xx, 408 or 429) the lane stops there, so a
webhook that is down is asked once a pass, not once per waiting notice. Either way the
failed notice is tried again on the outbox's retry schedule, until its last attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.listing.models import Notice
from service.listing.service import NOTICE_TOPIC
from service.outbox import queue as outbox
from service.outbox.lanes import BatchResult
from service.outbox.models import OutboxMessage, OutboxStatus

NOTICE_BATCH = 50
NOTICE_LANE = NOTICE_TOPIC  # the lane's name: never a platform's, which has no dot
_THE_WEBHOOKS_FAULT = frozenset({408, 429})  # 4xx answers that say nothing about the notice


def _failure(error: httpx.HTTPError) -> tuple[str, bool]:
    """What went wrong, and whether it is the webhook's fault rather than the notice's."""
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, httpx.HTTPStatusError):
        status = error.response.status_code
        return text, not 400 <= status < 500 or status in _THE_WEBHOOKS_FAULT
    return text, True


@dataclass(frozen=True, slots=True)
class NoticeLane:
    http: httpx.AsyncClient
    url: str
    clock: Callable[[], datetime]
    batch_size: int = NOTICE_BATCH

    @property
    def name(self) -> str:
        return NOTICE_LANE

    async def _post(self, message: OutboxMessage) -> None:
        response = await self.http.post(
            self.url, json=message.payload, headers={"Idempotency-Key": f"notice-{message.id}"}
        )
        response.raise_for_status()

    async def deliver_batch(self, session: AsyncSession) -> BatchResult:
        now = self.clock()
        messages = await outbox.claim(session, [NOTICE_TOPIC], now, self.batch_size)
        result = BatchResult(claimed=len(messages), records=len(messages))
        for message in messages:
            try:
                await self._post(message)
            except httpx.HTTPError as error:
                text, the_webhooks_fault = _failure(error)
                outbox.failed(message, now, text)
                result.failed += 1
                result.dead += message.status == OutboxStatus.DEAD
                if the_webhooks_fault:
                    result.error, result.retry_at = text[:500], message.available_at
                    break
                continue
            outbox.delivered(message, now)
            await session.execute(
                sa.update(Notice)
                .where(col(Notice.id) == message.payload["notice_id"])
                .values(delivered_at=now)
            )
            result.delivered += 1
        return result
