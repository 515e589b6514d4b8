"""The worker signs a checkpoint when one is due and the chain has moved, sends each to
the witness, and keeps asking a witness that was down until it has them all."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from conftest import SERVER_CLOCK, MakeToken, endpoint, serve
from joserfc import jws
from joserfc.jwk import KeySet
from processes import free_port
from signing import session_ring
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.actor import SYSTEM
from service.config import Settings
from service.context import CommandContext
from service.signing import keys
from service.wiring import PIPELINE
from service.worker import Pass, run_pass

Sessions = async_sessionmaker[AsyncSession]


@dataclass
class Witness:
    """A real HTTP endpoint that keeps what it is sent, as an outside witness would."""

    url: str = ""
    received: list[str] = field(default_factory=list)


@pytest.fixture
async def witness() -> AsyncIterator[Witness]:
    kept = Witness()

    def answer(body: bytes) -> int:
        kept.received.append(json.loads(body)["checkpoint"])
        return 201

    async for url in serve(endpoint(answer)):
        kept.url = url + "/checkpoints"
        yield kept


async def worker_pass(sessions: Sessions, settings: Settings) -> Pass:
    ctx = CommandContext(SYSTEM, clock=SERVER_CLOCK, pipeline=PIPELINE)
    async with httpx.AsyncClient(timeout=10) as http:
        return await run_pass(sessions, ctx, settings, http)


async def stored(sessions: Sessions) -> list[tuple[int, int | None]]:
    async with sessions() as session:
        rows = await session.execute(
            sa.text("SELECT sequence, witness_status FROM audit_checkpoints ORDER BY id")
        )
    return [(sequence, status) for sequence, status in rows]


async def test_a_checkpoint_is_signed_when_due_and_moved_and_every_one_reaches_the_witness(
    client: httpx.AsyncClient,
    make_token: MakeToken,
    session_factory: Sessions,
    test_settings: Settings,
    witness: Witness,
) -> None:
    down = replace(
        test_settings,
        checkpoint_interval_seconds=0.001,
        checkpoint_witness_url=f"http://127.0.0.1:{free_port()}/checkpoints",
    )
    await make_token("admin")
    first = await worker_pass(session_factory, down)
    assert first.checkpointed is not None
    assert first.witnessed == 0
    again = await worker_pass(session_factory, down)
    assert again.checkpointed is None, "the head has not moved: nothing new to sign"

    await make_token("reviewer", "3305")
    up = replace(down, checkpoint_witness_url=witness.url)
    second = await worker_pass(session_factory, up)
    assert second.checkpointed is not None
    assert second.checkpointed > first.checkpointed
    assert second.witnessed == 2, "the one the witness missed is sent again"
    assert await stored(session_factory) == [
        (first.checkpointed, 201),
        (second.checkpointed, 201),
    ]
    keyset = KeySet.import_key_set(session_ring().jwks())  # type: ignore[arg-type]
    sequences = [
        json.loads(jws.deserialize_compact(item, keyset, algorithms=["EdDSA"]).payload)["sequence"]
        for item in witness.received
    ]
    assert sequences == [first.checkpointed, second.checkpointed]


async def test_no_checkpoint_before_the_interval_has_passed(
    client: httpx.AsyncClient, make_token: MakeToken, session_factory: Sessions,
    test_settings: Settings,
) -> None:  # fmt: skip
    await make_token("admin")
    assert (await worker_pass(session_factory, test_settings)).checkpointed is not None
    await make_token("reviewer", "3305")
    assert (await worker_pass(session_factory, test_settings)).checkpointed is None
    assert len(await stored(session_factory)) == 1


def test_the_key_is_made_once_owner_only_and_rotation_keeps_the_old_public_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "signing" / "ed25519.pem"
    ring = keys.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert keys.load_or_create(path).kid == ring.kid
    # The kid is the key's RFC 7638 thumbprint, as a third party computes it.
    third_party = KeySet.import_key_set(ring.jwks())  # type: ignore[arg-type]
    assert third_party.keys[0].thumbprint() == ring.kid

    old, new = keys.rotate(path)
    rotated = keys.load_or_create(path)
    assert (old, new) == (ring.kid, rotated.kid)
    assert old != new
    assert [key["kid"] for key in rotated.jwks()["keys"]] == [new, old]
    assert old in rotated.verifying().by_kid

    path.chmod(0o644)
    with pytest.raises(keys.SigningKeyError, match="readable by others"):
        keys.load_or_create(path)
