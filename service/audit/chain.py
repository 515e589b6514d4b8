"""Queueing, sealing and verifying the hash-chained audit log.

Each sealed row's hash covers its own fields and the previous row's hash, so editing,
deleting or reordering any row breaks every hash after it.

A command queues its rows (``record``, ``record_many``) on its transaction and goes
on; just before the transaction commits, the ``before_commit`` hook below inserts them
into ``audit_queue``, with no lock, so they commit with the command or not at all.
Every session in the process runs the hook, whatever commits it (a web request, the
CLI, the worker, the demo seeding, a test). A rolled-back transaction or savepoint
drops the rows queued in it. The sequencer (``seal``, run in the background by every
serving process and worker) then moves committed rows into ``audit_log`` in queue
order, chaining each to the one before under the chain lock, which no command ever
takes (decision 0030, which replaced 0023's append under that lock at commit).
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

from service.audit.models import AuditEntry, AuditQueued
from service.context import CommandContext
from service.signing.keys import KeyRing, VerifyingKeys, b64url, b64url_decode

GENESIS_HASH = "0" * 64
AUDIT_CHAIN_LOCK = 7101002
SEAL_BATCH = 5000  # queued rows a seal moves per statement


class ChainTampered(RuntimeError):
    """The chain's head is not one a sealer signed: something wrote below the sealer."""


# What a seal signature signs, before the row hash: a signature made for anything else
# (a checkpoint, a decision) can never pass for one.
_SEAL_CONTEXT = b"credit-service audit seal\x00"


class SealSigner:
    """Signs the last row a seal writes, and checks the head a seal starts from."""

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring
        self.keys = ring.verifying()

    def sign(self, row_hash: str) -> tuple[str, str]:
        signature = self._ring.private.sign(_SEAL_CONTEXT + row_hash.encode())
        return self._ring.kid, b64url(signature)


def seal_signature_valid(
    keys: VerifyingKeys, row_hash: str, key_id: str | None, signature: str | None
) -> bool:
    public = keys.by_kid.get(key_id or "")
    if public is None or not signature:
        return False
    try:
        public.verify(b64url_decode(signature), _SEAL_CONTEXT + row_hash.encode())
    except Exception:  # a bad signature, or one that is not even base64url
        return False
    return True


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
_QUEUE_TABLE: sa.Table = AuditQueued.__table__  # type: ignore[attr-defined]


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
def _queue_rows_of_the_transaction(session: Session) -> None:
    """Insert the transaction's rows into the queue, in the transaction: no lock, no
    read of the chain's head, so writers never wait for one another here."""
    if session.in_nested_transaction():
        return  # a savepoint's rows wait for the outer transaction's commit
    _insert_queued(session)


def _insert_queued(session: Session) -> None:
    queue: list[_Queued] = session.info.pop(_QUEUE, [])
    if queue:
        # Rows as plain dicts through a Core INSERT into the table (the ORM's bulk insert
        # would split them by which values are None): one statement for the lot.
        session.execute(sa.insert(_QUEUE_TABLE), [queued.row for queued in queue])


async def _head(connection: AsyncConnection, signer: SealSigner) -> str:
    """The hash a seal chains onto: the last row, which a sealer must have signed.

    A head without a valid signature was written below the sealer (a forged row appended
    with a correctly computed hash): chaining onto it would vouch for it, so the seal
    refuses and the queue waits, losing nothing, until an admin has looked.
    """
    head = (
        await connection.execute(
            sa.select(
                col(AuditEntry.id),
                col(AuditEntry.row_hash),
                col(AuditEntry.seal_key_id),
                col(AuditEntry.seal_signature),
            )
            .order_by(col(AuditEntry.id).desc())
            .limit(1)
        )
    ).first()
    if head is None:
        return GENESIS_HASH
    if head.seal_signature is None:
        # Only a chain begun before seals were signed (migration 0012) may end unsigned.
        signed = sa.select(col(AuditEntry.id)).where(col(AuditEntry.seal_signature).isnot(None))
        if await connection.scalar(signed.limit(1)) is None:
            return str(head.row_hash)
    elif seal_signature_valid(signer.keys, head.row_hash, head.seal_key_id, head.seal_signature):
        return str(head.row_hash)
    raise ChainTampered(
        f"audit_log row {head.id} is the chain's head but no sealer signed it: "
        "run `credit-service audit verify` and look at it before sealing more"
    )


async def seal(
    connection: AsyncConnection,
    signer: SealSigner,
    *,
    wait: bool = True,
    batch: int = SEAL_BATCH,
    one_batch: bool = False,
) -> int:
    """Move committed queued rows into the chain, in queue order; return how many.

    The sequencer's work, in the caller's transaction: it takes the chain lock (or, with
    ``wait=False``, gives up at once when another sealer holds it), reads the head, and
    moves the queue in batches, deleting each row in the same transaction that chains
    it, so a crash leaves every row either queued or sealed, never lost nor doubled.
    Rows of transactions still running are not visible yet; a later seal takes them.
    The last row of each batch carries the signer's signature over its hash.
    With ``one_batch`` it stops after one batch, so a background sealer's transaction
    (and its hold on the lock) stays short however long the queue.
    """
    if wait:
        await connection.execute(sa.select(sa.func.pg_advisory_xact_lock(AUDIT_CHAIN_LOCK)))
    elif not await connection.scalar(
        sa.select(sa.func.pg_try_advisory_xact_lock(AUDIT_CHAIN_LOCK))
    ):
        return 0
    queue = _QUEUE_TABLE
    prev_hash: str | None = None  # the chain's head, read once there is something to seal
    sealed = 0
    while True:
        oldest = sa.select(queue.c.id).order_by(queue.c.id).limit(batch).scalar_subquery()
        taken = await connection.execute(
            sa.delete(queue).where(queue.c.id.in_(oldest)).returning(*queue.c)
        )
        moved = sorted((dict(row._mapping) for row in taken), key=lambda row: row["id"])
        if not moved:
            return sealed
        if prev_hash is None:
            prev_hash = await _head(connection, signer)
        rows = []
        for row in moved:
            del row["id"]
            row["prev_hash"] = prev_hash
            row["row_hash"] = prev_hash = row_hash(row)
            row["seal_key_id"] = row["seal_signature"] = None
            rows.append(row)
        rows[-1]["seal_key_id"], rows[-1]["seal_signature"] = signer.sign(prev_hash)
        # One multi-row INSERT: identities follow the list, so the chain's order is the id's.
        await connection.execute(sa.insert(AuditEntry), rows)
        sealed += len(rows)
        if len(rows) < batch or one_batch:
            return sealed


async def queue_now(session: AsyncSession) -> None:
    """Insert the rows queued so far now rather than at commit, so a seal in the same
    transaction takes them (the admin's verification seals its own outcome)."""
    await session.run_sync(_insert_queued)


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
    sealed_by: str | None = None  # the key id whose signature covers the head, when intact

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None


async def _rows(connection: AsyncConnection, batch: int) -> AsyncIterator[AuditEntry]:
    result = await connection.stream(sa.select(AuditEntry).order_by(col(AuditEntry.id)))
    async for partition in result.partitions(batch):
        for row in partition:
            yield AuditEntry.model_validate(row._mapping)


async def verify(
    connection: AsyncConnection, keys: VerifyingKeys, batch: int = 5000
) -> ChainReport:
    """Walk the chain in id order with flat memory; name the first row that does not fit.

    Past the links, the last signed row's seal signature must verify and no row may
    follow it: the chain links every row to the head, so that one signature vouches for
    all of them, and an unsigned tail is rows written below the sealer.
    """
    expected_prev = GENESIS_HASH
    checked = 0
    signed: AuditEntry | None = None  # the last row a sealer signed
    first_unsigned_after: int | None = None
    async for entry in _rows(connection, batch):
        checked += 1
        if entry.prev_hash != expected_prev:
            return ChainReport(checked, entry.id, "previous hash does not match the row before")
        if row_hash(entry) != entry.row_hash:
            return ChainReport(checked, entry.id, "row hash does not match its contents")
        expected_prev = entry.row_hash
        if entry.seal_signature is not None:
            signed, first_unsigned_after = entry, None
        elif first_unsigned_after is None:
            first_unsigned_after = entry.id
    if signed is None:
        return ChainReport(checked)  # a chain (or an empty one) from before seals were signed
    if first_unsigned_after is not None:
        return ChainReport(
            checked,
            first_unsigned_after,
            "rows after the last sealed one were written below the sealer (no seal signs them)",
        )
    if not seal_signature_valid(keys, signed.row_hash, signed.seal_key_id, signed.seal_signature):
        return ChainReport(
            checked, signed.id, "the head's seal signature does not verify with the service's keys"
        )
    return ChainReport(checked, sealed_by=signed.seal_key_id)
