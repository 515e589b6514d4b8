"""Signed checkpoints of the audit chain's head, and checking a chain against copies of them.

A checkpoint is a compact JWS (EdDSA) over the head's sequence number (its ``audit_log``
id), its row hash, the time and the key id. The worker signs one every
``CHECKPOINT_INTERVAL_SECONDS`` when the head has moved, ``credit-service audit
checkpoint`` on demand; each is stored, published at
``/api/v1/public/transparency/checkpoints`` and, where configured, POSTed to a witness.

A copy kept outside the database is what makes a checkpoint worth having: checked
against it, the chain must still hold every checkpointed head at its sequence number
with the same hash. The chain links every row to the ones before, so that catches a
truncated tail and any rewrite before the checkpoint, even with recomputed hashes. What
came after the last checkpoint an outsider holds is vouched for only by the seal
signature on the head (decision 0036).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from service.audit.models import AuditCheckpoint, AuditEntry
from service.logs import get_logger
from service.signing.jws import InvalidJWS, Signer, verify
from service.signing.keys import KeyRing, VerifyingKeys

log = get_logger(__name__)
CHECKPOINT_TYPE = "audit-checkpoint"
JWS_TYPE = "audit-checkpoint+jws"
PUBLISHED = 100  # the latest checkpoints the public list shows
WITNESS_TIMEOUT = 10.0  # seconds


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: not signed by a known key, or not one at all."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What a checkpoint says, once its signature has been verified."""

    sequence: int
    row_hash: str
    signed_at: str
    key_id: str
    jws: str


async def make(
    session: AsyncSession, ring: KeyRing, now: datetime, *, only_if_moved: bool
) -> AuditCheckpoint | None:
    """Sign and store a checkpoint of the chain's head as it is in this transaction;
    None when the chain is empty, or (``only_if_moved``) when the last one names the head."""
    head = (
        await session.execute(
            sa.select(col(AuditEntry.id), col(AuditEntry.row_hash))
            .order_by(col(AuditEntry.id).desc())
            .limit(1)
        )
    ).first()
    if head is None:
        return None
    if only_if_moved:
        last = await session.scalar(sa.select(sa.func.max(col(AuditCheckpoint.sequence))))
        if last == head.id:
            return None
    payload = {
        "type": CHECKPOINT_TYPE,
        "sequence": head.id,
        "row_hash": head.row_hash,
        "signed_at": now.isoformat(),
        "kid": ring.kid,
    }
    checkpoint = AuditCheckpoint(
        sequence=head.id,
        row_hash=head.row_hash,
        signed_at=now,
        key_id=ring.kid,
        jws=Signer(ring, JWS_TYPE).sign(payload),
    )
    session.add(checkpoint)
    await session.flush()
    return checkpoint


async def due(session: AsyncSession, now: datetime, interval_seconds: float) -> bool:
    """Whether the last checkpoint is older than the interval (or there is none)."""
    last = await session.scalar(sa.select(sa.func.max(col(AuditCheckpoint.signed_at))))
    return last is None or (now - last).total_seconds() >= interval_seconds


async def latest(session: AsyncSession, limit: int = PUBLISHED) -> Sequence[AuditCheckpoint]:
    rows = await session.scalars(
        sa.select(AuditCheckpoint).order_by(col(AuditCheckpoint.id).desc()).limit(limit)
    )
    return rows.all()


async def witness(
    session: AsyncSession, client: httpx.AsyncClient, url: str, now: datetime, limit: int = 20
) -> int:
    """POST the checkpoints the witness has not accepted yet (oldest first); return how
    many it accepted. A witness that is down is asked again on the next pass."""
    waiting = await session.scalars(
        sa.select(AuditCheckpoint)
        .where(
            sa.or_(
                col(AuditCheckpoint.witness_status).is_(None),
                col(AuditCheckpoint.witness_status) >= 300,
            )
        )
        .order_by(col(AuditCheckpoint.id))
        .limit(limit)
    )
    accepted = 0
    for checkpoint in waiting.all():
        try:
            response = await client.post(
                url, json={"checkpoint": checkpoint.jws}, timeout=WITNESS_TIMEOUT
            )
        except httpx.HTTPError as error:
            # The URL's origin only: a witness URL may carry a token in its query.
            log.warning(
                "checkpoint_witness_unreachable",
                witness=httpx.URL(url).host,
                error=type(error).__name__,
            )
            break
        checkpoint.witness_status = response.status_code
        checkpoint.witnessed_at = now
        if response.is_success:
            accepted += 1
        else:
            log.warning(
                "checkpoint_witness_refused",
                witness=httpx.URL(url).host,
                status=response.status_code,
                sequence=checkpoint.sequence,
            )
    return accepted


def read(jws: str, keys: VerifyingKeys) -> Checkpoint:
    """A checkpoint from its JWS, once the signature is verified."""
    try:
        header, payload = verify(jws, keys)
    except InvalidJWS as error:
        raise CheckpointError(str(error)) from None
    if payload.get("type") != CHECKPOINT_TYPE:
        raise CheckpointError(f"not an audit checkpoint (type {payload.get('type')!r})")
    sequence, row_hash = payload.get("sequence"), payload.get("row_hash")
    if not isinstance(sequence, int) or not isinstance(row_hash, str):
        raise CheckpointError("a checkpoint names a sequence number and a row hash")
    return Checkpoint(sequence, row_hash, str(payload.get("signed_at")), str(header["kid"]), jws)


def parse_published(document: Any) -> list[str]:
    """The JWS strings of a checkpoint list: the public route's JSON, a JSON list of JWS
    or of objects with ``jws``, or text with one JWS per line."""
    if isinstance(document, str):
        stripped = document.strip()
        if not stripped.startswith(("{", "[")):
            return [line.strip() for line in stripped.splitlines() if line.strip()]
        try:
            document = json.loads(stripped)
        except ValueError as error:
            raise CheckpointError(f"not JSON: {error}") from None
    items = document.get("checkpoints") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise CheckpointError("expected a list of checkpoints, or an object with 'checkpoints'")
    found = []
    for item in items:
        jws = item.get("jws") if isinstance(item, dict) else item
        if not isinstance(jws, str):
            raise CheckpointError("each checkpoint is a JWS string or an object with 'jws'")
        found.append(jws)
    return found


@dataclass(frozen=True, slots=True)
class Disagreement:
    checkpoint: Checkpoint
    problem: str


async def check_chain(
    connection: AsyncConnection, checkpoints: Sequence[Checkpoint]
) -> list[Disagreement]:
    """Every checkpointed head must still be in the chain at its sequence, with its hash."""
    if not checkpoints:
        return []
    stored = {
        row.id: row.row_hash
        for row in await connection.execute(
            sa.select(col(AuditEntry.id), col(AuditEntry.row_hash)).where(
                col(AuditEntry.id).in_({checkpoint.sequence for checkpoint in checkpoints})
            )
        )
    }
    problems = []
    for checkpoint in sorted(checkpoints, key=lambda c: c.sequence):
        found = stored.get(checkpoint.sequence)
        if found is None:
            problems.append(
                Disagreement(
                    checkpoint,
                    f"the chain has no row {checkpoint.sequence}: rows were deleted "
                    "(the log was truncated)",
                )
            )
        elif found != checkpoint.row_hash:
            problems.append(
                Disagreement(
                    checkpoint,
                    f"row {checkpoint.sequence}'s hash differs from the checkpoint's: "
                    "the chain up to it was rewritten",
                )
            )
    return problems
