"""Appending to and verifying the hash-chained audit log.

Each row's hash covers its own fields and the previous row's hash, so editing,
deleting or reordering any row breaks every hash after it. Appends take one
transaction-scoped advisory lock, so rows chain in commit order even when many
writers run at once; the lock is held only from the append to the commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import SQLModel, col

from service.audit.models import AuditEntry
from service.context import CommandContext

GENESIS_HASH = "0" * 64
AUDIT_CHAIN_LOCK = 7101002


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode()


def state_digest(state: SQLModel | Mapping[str, Any] | None) -> str | None:
    """SHA-256 of a row's state, so the log proves what changed without holding personal data."""
    if state is None:
        return None
    data = state.model_dump() if isinstance(state, SQLModel) else dict(state)
    return hashlib.sha256(_canonical(data)).hexdigest()


def row_hash(entry: AuditEntry | Mapping[str, Any]) -> str:
    """The hash of a row's fields and its predecessor's hash, from a stored or a new row."""
    row = entry.model_dump() if isinstance(entry, AuditEntry) else entry
    actor_id = row["actor_id"]
    fields = {
        "occurred_at": row["occurred_at"].astimezone(UTC).isoformat(),
        "actor_id": str(actor_id) if actor_id else None,
        **{name: row[name] for name in _HASHED_AS_IS},
    }
    return hashlib.sha256(_canonical(fields)).hexdigest()


_HASHED_AS_IS = (
    "actor_role",
    "action",
    "target_type",
    "target_id",
    "before_digest",
    "after_digest",
    "request_id",
    "prev_hash",
)


@dataclass(frozen=True, slots=True)
class AuditItem:
    action: str
    target_type: str
    target_id: object
    before: SQLModel | Mapping[str, Any] | None = None
    after: SQLModel | Mapping[str, Any] | None = None


async def record_many(
    session: AsyncSession, ctx: CommandContext, items: Sequence[AuditItem]
) -> None:
    """Append rows in the caller's transaction: one lock and one insert for the lot."""
    if not items:
        return
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(AUDIT_CHAIN_LOCK)))
    last = await session.execute(
        sa.select(col(AuditEntry.row_hash)).order_by(col(AuditEntry.id).desc()).limit(1)
    )
    prev_hash = last.scalar_one_or_none() or GENESIS_HASH
    rows = []
    for item in items:
        row: dict[str, Any] = {
            "occurred_at": ctx.now(),
            "actor_id": ctx.actor.user_id,
            "actor_role": ctx.actor.role,
            "action": item.action,
            "target_type": item.target_type,
            "target_id": str(item.target_id),
            "before_digest": state_digest(item.before),
            "after_digest": state_digest(item.after),
            "request_id": ctx.request_id,
            "prev_hash": prev_hash,
        }
        row["row_hash"] = prev_hash = row_hash(row)
        rows.append(row)
    # Rows as plain dicts through a core INSERT: a batch of thousands stays cheap.
    await session.execute(sa.insert(AuditEntry), rows)


async def record(
    session: AsyncSession,
    ctx: CommandContext,
    *,
    action: str,
    target_type: str,
    target_id: object,
    before: SQLModel | Mapping[str, Any] | None = None,
    after: SQLModel | Mapping[str, Any] | None = None,
) -> None:
    """Append one audit row in the caller's transaction."""
    await record_many(session, ctx, [AuditItem(action, target_type, target_id, before, after)])


@dataclass(frozen=True, slots=True)
class ChainReport:
    rows_checked: int
    first_broken_id: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None


async def _rows(connection: AsyncConnection, batch: int) -> AsyncIterator[AuditEntry]:
    result = await connection.stream(sa.select(AuditEntry).order_by(col(AuditEntry.id)))
    async for partition in result.partitions(batch):
        for row in partition:
            yield AuditEntry.model_validate(row._mapping)


async def verify(connection: AsyncConnection, batch: int = 5000) -> ChainReport:
    """Walk the chain in id order with flat memory; name the first row that does not fit."""
    expected_prev = GENESIS_HASH
    checked = 0
    async for entry in _rows(connection, batch):
        checked += 1
        if entry.prev_hash != expected_prev:
            return ChainReport(checked, entry.id, "previous hash does not match the row before")
        if row_hash(entry) != entry.row_hash:
            return ChainReport(checked, entry.id, "row hash does not match its contents")
        expected_prev = entry.row_hash
    return ChainReport(checked)
