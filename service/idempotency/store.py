"""Claiming a key and storing the answer, inside the request's own transaction.

The claim is an INSERT that a concurrent request with the same key must wait on: the
unique key makes the second one block until the first commits (then it replays the
stored answer) or rolls back (then it runs itself). The answer is stored before the
commit, with the rows it describes, so a replay can never describe a rolled-back write.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.errors import Conflict, FieldError, Invalid
from service.idempotency.models import IdempotencyKey

RETENTION = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    media_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KeyRequest:
    owner_id: uuid.UUID
    key: str
    method: str
    path: str
    fingerprint: str


async def claim(session: AsyncSession, request: KeyRequest, now: datetime) -> StoredResponse | None:
    """None when this request owns the key and must run; otherwise the answer to replay."""
    values = {
        "owner_id": request.owner_id,
        "key": request.key,
        "method": request.method,
        "path": request.path,
        "request_fingerprint": request.fingerprint,
        "created_at": now,
        "expires_at": now + RETENTION,
        "headers": {},
    }
    statement = (
        insert(IdempotencyKey)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["owner_id", "key"],
            # An expired key is free again: take it over as if it were new.
            set_={**values, "status_code": None, "media_type": None, "body": None},
            where=col(IdempotencyKey.expires_at) < now,
        )
        .returning(col(IdempotencyKey.key))
    )
    if (await session.execute(statement)).first() is not None:
        return None
    existing = (
        await session.execute(
            sa.select(IdempotencyKey).where(
                col(IdempotencyKey.owner_id) == request.owner_id,
                col(IdempotencyKey.key) == request.key,
            )
        )
    ).scalar_one()
    if existing.request_fingerprint != request.fingerprint:
        raise Invalid(
            f"Idempotency-Key {request.key!r} was already used for a different request "
            f"({existing.method} {existing.path}) at {existing.created_at.isoformat()}; "
            "use a new key for a new request",
            errors=[FieldError("Idempotency-Key", "already used for a different request")],
        )
    if existing.status_code is None or existing.body is None or existing.media_type is None:
        raise Conflict(
            f"the first request with Idempotency-Key {request.key!r} is still being processed",
            errors=[FieldError("Idempotency-Key", "still being processed")],
        )
    return StoredResponse(
        status_code=existing.status_code,
        media_type=existing.media_type,
        body=existing.body,
        headers={str(k): str(v) for k, v in existing.headers.items()},
    )


async def complete(session: AsyncSession, request: KeyRequest, answer: StoredResponse) -> None:
    await session.execute(
        sa.update(IdempotencyKey)
        .where(
            col(IdempotencyKey.owner_id) == request.owner_id,
            col(IdempotencyKey.key) == request.key,
        )
        .values(
            status_code=answer.status_code,
            media_type=answer.media_type,
            body=answer.body,
            headers=answer.headers,
        )
    )


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(
        sa.delete(IdempotencyKey).where(col(IdempotencyKey.expires_at) < now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True, slots=True)
class KeptAnswer:
    method: str
    path: str
    answer: StoredResponse


async def kept_answer(
    session: AsyncSession, owner_id: uuid.UUID, key: str, now: datetime
) -> KeptAnswer | None:
    """The answer stored under one of the owner's keys, while it is kept (a page that
    shows an earlier request's outcome reads it back); None if none is, or not yet."""
    row = (
        await session.execute(
            sa.select(IdempotencyKey).where(
                col(IdempotencyKey.owner_id) == owner_id,
                col(IdempotencyKey.key) == key,
                col(IdempotencyKey.expires_at) >= now,
            )
        )
    ).scalar_one_or_none()
    if row is None or row.status_code is None or row.body is None or row.media_type is None:
        return None
    answer = StoredResponse(row.status_code, row.media_type, row.body, dict(row.headers))
    return KeptAnswer(row.method, row.path, answer)
