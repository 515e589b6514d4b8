"""The sequencer: seals committed audit rows into the chain, in the background.

Every serving process and every worker runs one; the chain lock lets one seal at a
time and the others pass (``wait=False``), so running several costs a cheap query
each ``SEAL_EVERY`` seconds and no coordination. A row is sealed within about that
long after its command committed; `audit verify` seals whatever waits before it walks
the chain, so it never reports on less than what was committed (decision 0030).
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import AsyncEngine

from service.audit.chain import SEAL_BATCH, ChainTampered, SealSigner, seal
from service.logs import get_logger

log = get_logger(__name__)
SEAL_EVERY = 0.25  # seconds between seals: rows gather into batches meanwhile
RETRY_AFTER = 5.0  # seconds, after the database refused (down, restarting, failing over)


async def seal_once(engine: AsyncEngine, signer: SealSigner) -> int:
    """One sealing transaction; 0 when another sealer holds the chain."""
    async with engine.begin() as connection:
        return await seal(connection, signer, wait=False, one_batch=True)


async def keep_sealing(engine: AsyncEngine, signer: SealSigner, stop: asyncio.Event) -> None:
    """Seal until ``stop`` is set: every SEAL_EVERY seconds, at once again after a full
    batch. Sealing after every commit would cost its four statements per record; a
    pause lets a busy second's rows share them."""
    while not stop.is_set():
        pause = SEAL_EVERY
        try:
            if await seal_once(engine, signer) >= SEAL_BATCH:
                pause = 0.0
        except ChainTampered as error:  # nothing is lost: the rows wait in the queue
            log.error("audit_chain_tampered", problem=str(error))
            pause = RETRY_AFTER
        except Exception as error:  # the database is down: the rows wait, committed
            log.warning("audit_sealing_failed", error=type(error).__name__)
            pause = RETRY_AFTER
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=pause)
