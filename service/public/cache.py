"""An in-process cache of public answers, emptied whenever the read model changes.

A cached answer is served from memory: no ORM, no database. Every change to the
read model ends with ``NOTIFY public_changed`` in its transaction, and each process
listens on its own connection and empties its cache when a notification arrives.
While that connection is down the cache stands aside (nothing is served from it or
put in it), so a missed notification can never leave a stale answer behind.

A request that missed reads the database and then stores its answer only if no
notification came in between (the generation did not move), so an answer computed
from the state before a change cannot outlive it.

The listener stays on the primary when a standby answers the reads: a standby sends
no notifications. With one, each notification also reads the primary's WAL position,
and no read goes to the standby before it has replayed that far
(``service.db.replica``), so a notification that outruns replay cannot refill the
cache with the state before the change.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import asyncpg

from service.db.replica import WRITTEN, Reads, parse_lsn
from service.logs import get_logger
from service.public.readmodel import CHANNEL

log = get_logger(__name__)
CAPACITY = 20_000
PING_EVERY = 5.0  # seconds: how soon a silently dead listening connection is noticed


@dataclass(frozen=True, slots=True)
class Cached:
    body: bytes
    media_type: str
    etag: str
    headers: tuple[tuple[str, str], ...]  # made once, sent with every hit
    # The raw header lines of a hit's 200 and of its 304, as the response would encode
    # them: copied, not rebuilt, for every hit.
    hit: tuple[tuple[bytes, bytes], ...] = ()
    not_modified: tuple[tuple[bytes, bytes], ...] = ()


def entity_tag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


class PublicCache:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self._entries: OrderedDict[str, Cached] = OrderedDict()
        self._capacity = capacity
        self.generation = 0
        self.live = False  # True while the listening connection is up

    def get(self, key: str) -> Cached | None:
        if not self.live:
            return None
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: Cached, generation: int) -> None:
        """Keep ``entry`` unless the read model changed since ``generation`` was read."""
        if not self.live or generation != self.generation:
            return
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


async def listen(
    dsn: str, cache: PublicCache, stop: asyncio.Event, reads: Reads | None = None
) -> None:
    """Keep a connection listening on the channel; empty the cache on every notice.

    With a standby (``reads.has_replica``), each notice also holds the standby's answers
    back until the primary's position after it is read here and the standby has it.
    """
    tracker = reads if reads is not None and reads.has_replica else None
    heard = asyncio.Event()  # set only with a tracker

    def changed(*_: object) -> None:
        cache.clear()
        if tracker is not None:
            tracker.change_heard()
            heard.set()

    while not stop.is_set():
        connection: asyncpg.Connection | None = None
        try:
            connection = await asyncpg.connect(dsn)
            await connection.add_listener(CHANNEL, changed)
            changed()  # whatever changed while nobody listened
            cache.live = True
            while not stop.is_set():
                if tracker is not None and heard.is_set():
                    heard.clear()
                    count = tracker.heard
                    written = await asyncio.wait_for(
                        connection.fetchval(WRITTEN), timeout=PING_EVERY
                    )
                    tracker.changes_written_by(parse_lsn(written), count)
                    continue
                await _either(stop, heard, PING_EVERY)
                if not heard.is_set():
                    await asyncio.wait_for(connection.execute("SELECT 1"), timeout=PING_EVERY)
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            log.warning("public_cache_listener_lost", error=f"{type(error).__name__}: {error}")
        finally:
            cache.live = False
            cache.clear()
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close(timeout=2)
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)


async def _either(first: asyncio.Event, second: asyncio.Event, seconds: float) -> None:
    """Until one of two events is set, or ``seconds`` have passed."""
    waiters = [asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
