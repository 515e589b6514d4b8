"""Delivering staged records to one platform: one lane, signed batches, never backwards.

Each platform is a single lane: a worker takes the platform's advisory lock for the
transaction of a batch, so however many workers run, one batch per platform is in
flight. The batch is the oldest pending messages (at most 500); for each record it
names, the *current* version in ``sync_records`` is sent, never the version the
message was written for. So a platform never gets an older version of a record
after a newer one, even when an answer was lost and the batch is sent again.

The messages stay locked and pending until the answer is in: a worker killed
mid-batch leaves nothing changed, and the next one sends the same records again
(the platform answers ``duplicate``). Per record: ``accepted``, ``duplicate`` and
``stale`` are delivered; ``rejected`` is a dead letter with its reason. When the
whole request fails (429, 503, a reset, a timeout), nothing is marked and the lane
waits: the Retry-After the platform gave, or the platform's backoff (the one retry
schedule, ``service.outbox.backoff``). ``PlatformLane`` is the platform as one lane of
the outbox's delivery loop (``service.outbox.lanes``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from service.identity.protection import IdNumberVault
from service.integrations.client import PlatformClient, PlatformError
from service.integrations.platforms import Platform, Sender
from service.integrations.protocol import DELIVERED, MAX_BATCH, STATUS_REJECTED
from service.outbox.lanes import BatchResult
from service.outbox.models import OutboxStatus

_CLAIM = sa.text(
    """
    SELECT o.id, o.key, (o.payload->>'version')::int AS version
    FROM outbox o
    WHERE o.topic = :topic AND o.status = 'pending'
    ORDER BY o.id
    LIMIT :limit
    FOR UPDATE
    """
)
_CURRENT = sa.text(
    """
    SELECT s.record_id, s.version, s.record_type, s.action, s.body,
           p.id_number_encrypted
    FROM sync_records s LEFT JOIN practitioners p ON p.id = s.person_id
    WHERE s.record_id = ANY(CAST(:keys AS text[]))
    """
)
# Each claimed message gets the outcome of its record; a message written for an
# older version than the one sent is superseded by it.
_SETTLE = sa.text(
    """
    UPDATE outbox o
    SET status = CASE WHEN o.status = 'pending' AND (o.payload->>'version')::int < r.version
                      THEN 'superseded' ELSE r.status END,
        sent_at = :now, attempts = o.attempts + 1, last_error = r.error
    FROM unnest(CAST(:keys AS text[]), CAST(:versions AS int[]), CAST(:statuses AS text[]),
                CAST(:errors AS text[])) AS r(key, version, status, error)
    WHERE o.id = ANY(CAST(:ids AS bigint[])) AND o.key = r.key
    """
)
# A dead letter of a record that has now been delivered at a newer version is moot.
_BURY = sa.text(
    """
    UPDATE outbox SET status = 'superseded'
    WHERE topic = :topic AND status = 'dead' AND key = ANY(CAST(:keys AS text[]))
    """
)
_SUCCEEDED = sa.text(
    """
    UPDATE sync_platforms
    SET failures = 0, retry_at = NULL, last_error = NULL, last_attempt_at = :now,
        last_success_at = :now
    WHERE name = :name
    """
)
_FAILED = sa.text(
    """
    UPDATE sync_platforms
    SET failures = failures + 1, retry_at = :retry_at, last_error = :error,
        last_attempt_at = :now
    WHERE name = :name
    """
)


def wire_record(row: Any, sender: Sender, vault: IdNumberVault | None) -> dict[str, Any]:
    """The record as the protocol has it, from its ``sync_records`` row (without a
    person's ID number when no vault is given: to compare content, not to send)."""
    record: dict[str, Any] = {
        "record_id": row.record_id,
        "version": row.version,
        "record_type": row.record_type,
        "action": row.action,
        **row.body,
    }
    record.setdefault("authority", {"name": sender.name, "uscc": sender.uscc})
    if vault is not None and row.id_number_encrypted is not None:
        record["subject"] = {
            **record["subject"],
            "id_number": vault.reveal(row.id_number_encrypted),
        }
    return record


async def _claim(
    session: AsyncSession, platform: Platform, now: datetime
) -> tuple[Sequence[Any], BatchResult | None]:
    locked = await session.scalar(
        sa.select(sa.func.pg_try_advisory_xact_lock(sa.func.hashtext(f"sync-lane:{platform.name}")))
    )
    if not locked:
        return [], BatchResult(skipped="busy")
    retry_at = await session.scalar(
        sa.text("SELECT retry_at FROM sync_platforms WHERE name = :name"), {"name": platform.name}
    )
    if retry_at is not None and retry_at > now:
        return [], BatchResult(skipped="waiting", retry_at=retry_at)
    claimed = (await session.execute(_CLAIM, {"topic": platform.topic, "limit": MAX_BATCH})).all()
    return claimed, None


async def deliver_batch(
    session: AsyncSession,
    platform: Platform,
    sender: Sender,
    client: PlatformClient,
    vault: IdNumberVault,
    clock: Callable[[], datetime],
) -> BatchResult:
    """Send the lane's next batch and settle it, in the caller's transaction."""
    now = clock()
    claimed, skipped = await _claim(session, platform, now)
    if skipped is not None or not claimed:
        return skipped or BatchResult()
    ids = [row.id for row in claimed]
    keys = list(dict.fromkeys(row.key for row in claimed))
    current = {row.record_id: row for row in (await session.execute(_CURRENT, {"keys": keys}))}
    missing = [key for key in keys if key not in current]
    records = [wire_record(current[key], sender, vault) for key in keys if key in current]
    result = BatchResult(claimed=len(ids), records=len(records))
    outcomes: list[tuple[str, int, str, str | None]] = [
        (key, 0, OutboxStatus.DEAD.value, "no such record") for key in missing
    ]
    if records:
        try:
            answers = await client.post_records(records)
        except (PlatformError, httpx.HTTPError) as error:
            # The wait counts from the failure (a timeout may have taken a while).
            return await _failed(session, platform, clock(), ids, error, result)
        for record, answer in zip(records, answers, strict=True):
            status = answer.get("status")
            if status in DELIVERED:
                outcomes.append((record["record_id"], record["version"], "sent", None))
            else:
                reason = answer.get("reason") if status == STATUS_REJECTED else None
                outcomes.append(
                    (
                        record["record_id"],
                        record["version"],
                        OutboxStatus.DEAD.value,
                        f"{status}: {reason or 'no reason given'}"[:500],
                    )
                )
    await session.execute(
        _SETTLE,
        {
            "now": now,
            "ids": ids,
            "keys": [o[0] for o in outcomes],
            "versions": [o[1] for o in outcomes],
            "statuses": [o[2] for o in outcomes],
            "errors": [o[3] for o in outcomes],
        },
    )
    delivered = [o[0] for o in outcomes if o[2] == "sent"]
    if delivered:
        await session.execute(_BURY, {"topic": platform.topic, "keys": delivered})
    await session.execute(_SUCCEEDED, {"now": now, "name": platform.name})
    result.delivered, result.dead = len(delivered), len(outcomes) - len(delivered)
    return result


async def _failed(
    session: AsyncSession,
    platform: Platform,
    now: datetime,
    ids: list[int],
    error: Exception,
    result: BatchResult,
) -> BatchResult:
    """Nothing of the batch is settled; the lane waits before it tries again."""
    failures = (
        await session.scalar(
            sa.text("SELECT failures FROM sync_platforms WHERE name = :name"),
            {"name": platform.name},
        )
        or 0
    ) + 1
    wait = getattr(error, "retry_after", None)
    result.retry_at = now + (
        platform.backoff.delay(failures) if wait is None else timedelta(seconds=wait)
    )
    result.error = f"{type(error).__name__}: {error}"[:500] if str(error) else type(error).__name__
    result.failed = len(ids)
    await session.execute(
        sa.text(
            "UPDATE outbox SET attempts = attempts + 1, last_error = :error "
            "WHERE id = ANY(CAST(:ids AS bigint[]))"
        ),
        {"ids": ids, "error": result.error},
    )
    await session.execute(
        _FAILED,
        {"now": now, "name": platform.name, "retry_at": result.retry_at, "error": result.error},
    )
    return result


@dataclass(frozen=True, slots=True)
class PlatformLane:
    """A platform as a lane of the outbox's delivery loop."""

    platform: Platform
    sender: Sender
    client: PlatformClient
    vault: IdNumberVault
    clock: Callable[[], datetime]
    batch_size: int = MAX_BATCH

    @property
    def name(self) -> str:
        return self.platform.name

    async def deliver_batch(self, session: AsyncSession) -> BatchResult:
        return await deliver_batch(
            session, self.platform, self.sender, self.client, self.vault, self.clock
        )
