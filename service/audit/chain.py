"""Appending to and verifying the hash-chained audit log.

Each row's hash covers its own fields and the previous row's hash, so editing,
deleting or reordering any row breaks every hash after it.

A command queues its rows (``record``, ``record_many``) on its transaction and goes
on; they are appended, chained, just before the transaction commits, by the
``before_commit`` hook below, which every session in the process runs whatever
commits it (a web request, the CLI, the worker, the demo seeding, a test). The
append takes one transaction-scoped advisory lock, so rows chain in commit order
even when many writers run at once, and that lock is held only for the append and
the commit, not while the command's pipeline runs (decision 0023). A rolled-back
transaction or savepoint drops the rows queued in it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
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


@dataclass(frozen=True, slots=True)
class _Queued:
    """A row waiting for its transaction's commit: every field but the two hashes."""

    row: dict[str, Any]
    # The innermost transaction (or savepoint) it was queued in; None: before any began.
    transaction: SessionTransaction | None


_QUEUE = "audit.queue"  # the key of a session's queued rows in Session.info


async def record_many(
    session: AsyncSession, ctx: CommandContext, items: Sequence[AuditItem]
) -> None:
    """Queue rows in the caller's transaction; they are appended just before it commits."""
    if not items:
        return
    # Digests of the state as it stands now, flushed (so generated columns are in it):
    # the row may change again later in the same transaction.
    await session.flush()
    sync_session = session.sync_session
    transaction = sync_session.get_nested_transaction() or sync_session.get_transaction()
    queue: list[_Queued] = sync_session.info.setdefault(_QUEUE, [])
    for item in items:
        row = {
            "occurred_at": ctx.now(),
            "actor_id": ctx.actor.user_id,
            "actor_role": ctx.actor.role,
            "action": item.action,
            "target_type": item.target_type,
            "target_id": str(item.target_id),
            "before_digest": state_digest(item.before),
            "after_digest": state_digest(item.after),
            "request_id": ctx.request_id,
        }
        queue.append(_Queued(row, transaction))


@event.listens_for(Session, "before_commit")
def _append_queued_rows(session: Session) -> None:
    """Chain and insert the transaction's queued rows: one lock and one insert for the lot."""
    if session.in_nested_transaction():
        return  # a savepoint's rows wait for the outer transaction's commit
    queue: list[_Queued] = session.info.pop(_QUEUE, [])
    if not queue:
        return
    # The command's own writes first, so the lock covers only the append and the commit.
    session.flush()
    session.execute(sa.select(sa.func.pg_advisory_xact_lock(AUDIT_CHAIN_LOCK)))
    last = session.execute(
        sa.select(col(AuditEntry.row_hash)).order_by(col(AuditEntry.id).desc()).limit(1)
    )
    prev_hash = last.scalar_one_or_none() or GENESIS_HASH
    rows = []
    for queued in queue:
        row = {**queued.row, "prev_hash": prev_hash}
        row["row_hash"] = prev_hash = row_hash(row)
        rows.append(row)
    # Rows as plain dicts through a core INSERT: a batch of thousands stays cheap.
    session.execute(sa.insert(AuditEntry), rows)


def _inside(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back_rows(session: Session, previous_transaction: SessionTransaction) -> None:
    """A rolled-back savepoint (or transaction) takes the rows queued in it along."""
    queue: list[_Queued] | None = session.info.get(_QUEUE)
    if queue:
        session.info[_QUEUE] = [
            q for q in queue if not _inside(q.transaction, previous_transaction)
        ]


@event.listens_for(Session, "after_transaction_end")
def _forget_rows_of_ended_transaction(session: Session, transaction: SessionTransaction) -> None:
    """Whatever ended the transaction (a commit appended its rows; a rollback or a close
    did not), nothing queued in it may reach the session's next transaction."""
    if transaction.parent is None:
        session.info.pop(_QUEUE, None)


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
    """Queue one audit row in the caller's transaction (appended just before it commits)."""
    await record_many(session, ctx, [AuditItem(action, target_type, target_id, before, after)])


async def record_creation(
    session: AsyncSession,
    ctx: CommandContext,
    row: SQLModel,
    *,
    action: str,
    target_type: str,
    target_id: object,
) -> None:
    """Add a new row and queue the audit entry of its creation (``record`` flushes the
    row first, so its digest covers what was stored)."""
    session.add(row)
    await record(
        session, ctx, action=action, target_type=target_type, target_id=target_id, after=row
    )


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
