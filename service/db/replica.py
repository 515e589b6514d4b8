"""Reads a streaming standby may answer, never older than what this process has shown.

With ``DATABASE_REPLICA_URL`` set, the public answers, eligibility and the penalty
export read through ``Reads.run``; writes, sign-in and everything that must see its
own writes keep the primary. Without it ``run`` opens a primary session and does
nothing else: no other statement, no other connection.

The standby answers a read only when, checked in the reading transaction itself
(``pg_last_wal_replay_lsn()`` first, so the check holds for whichever standby a
balancer picked; replay only moves forward, so the read sees at least that), it has
replayed:
- the primary's WAL position read after the last change notification this process
  heard (``public_changed`` is delivered after the commit, so that position is at or
  past the change);
- the primary's position read after every read this process answered from the
  primary, so an answer from the standby is never older than one already given;
- everything the primary had written ``REPLICA_MAX_LAG_SECONDS`` ago.
Otherwise, and while the standby is down, the primary answers.

The lag is how old the oldest commit the standby lacks may be: the time since the
primary (its position sampled every second) was last where the standby is, 0 once
the standby has the latest sample, or the age of the last commit it replayed, when
that is less. On an idle primary it stays 0, where the age of the last replayed
commit alone would grow without bound; under steady writes it stays near the real
delay, where the samples alone would be coarse by their second.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

import asyncpg
import sqlalchemy as sa
import sqlalchemy.exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db.failures import DATABASE_UNAVAILABLE, classify
from service.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")
Lsn = int

CHECK_EVERY = 1.0  # seconds between samples of the primary's and the standby's positions
CONNECT_TIMEOUT = 2.0  # seconds to reach the standby before the primary answers instead
WAIT_FOR_REPLAY = 0.05  # seconds a read waits for the standby to reach the floor
REPLAY_POLL = 0.002
HISTORY = 900  # samples of the primary's position kept: 15 minutes at one a second

WRITTEN = "SELECT pg_current_wal_lsn()::text"
# The standby's position (NULL on a server not in recovery) and the age of the last
# commit it replayed, by the primary's commit time (NULL before it replayed any).
REPLAYED = (
    "SELECT pg_last_wal_replay_lsn()::text,"
    " extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8"
)


class ReplicaState(StrEnum):
    OK = "ok"
    LAGGING = "lagging"  # behind by more than the bound: the primary answers
    DOWN = "down"
    NOT_A_STANDBY = "not_a_standby"  # reachable but not in recovery: never used
    UNKNOWN = "unknown"  # not checked yet


@dataclass(frozen=True, slots=True)
class ReplicaStatus:
    state: ReplicaState
    lag_seconds: float | None  # None while down, unknown, or not a standby


@dataclass(frozen=True, slots=True)
class Read(Generic[T]):
    value: T
    replayed: Lsn | None  # the standby's position when it answered; None: the primary did


def parse_lsn(text: str | None) -> Lsn | None:
    """PostgreSQL's ``16/B374D848`` as one comparable number."""
    if text is None:
        return None
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def _database_failure(error: BaseException) -> bool:
    """A failure of the database or the way to it, as opposed to a bug or a refusal."""
    return classify(error) is not None or isinstance(
        error, OSError | sqlalchemy.exc.DBAPIError | asyncpg.PostgresError | asyncpg.InterfaceError
    )


class Reads:
    def __init__(
        self,
        primary: async_sessionmaker[AsyncSession],
        replica: async_sessionmaker[AsyncSession] | None = None,
        *,
        max_lag: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._primary = primary
        self._replica = replica
        self.max_lag = max_lag
        self._clock = clock
        self._floor: Lsn = 0  # the standby must have replayed this before it answers
        self._heard = 0  # change notifications heard
        self._covered = 0  # of them, those whose primary position is in the floor
        self._written: deque[tuple[float, Lsn]] = deque(maxlen=HISTORY)
        # At the last check: the standby's position, the age then of the last commit it
        # replayed, and when that was.
        self._replayed: Lsn | None = None
        self._replay_age: float | None = None
        self._checked_at = 0.0
        self._state = ReplicaState.UNKNOWN

    @property
    def has_replica(self) -> bool:
        return self._replica is not None

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> Read[T]:
        """``work`` on the standby when it is current enough, on the primary otherwise."""
        replica = self._replica
        if replica is not None and self._state not in (
            ReplicaState.DOWN,
            ReplicaState.NOT_A_STANDBY,
        ):
            try:
                async with replica() as session:
                    if (replayed := await self._caught_up(session)) is not None:
                        return Read(await work(session), replayed)
            except Exception as error:
                if not _database_failure(error):
                    raise
                if classify(error) is DATABASE_UNAVAILABLE:
                    self._lost(error)
                # else a query the standby cancelled (a recovery conflict): the primary answers
        async with self._primary() as session:
            value = await work(session)
            if replica is not None and session.in_transaction():
                # Whatever this answer showed, the standby must have before it answers again.
                self._raise_floor(parse_lsn(await session.scalar(sa.text(WRITTEN))))
        return Read(value, None)

    async def _caught_up(self, session: AsyncSession) -> Lsn | None:
        """The standby's position once it may answer; None when the primary must.

        Just behind the floor (a change heard a moment ago, a primary answer) but not
        lagging, the standby is usually a millisecond from it: waiting that long keeps
        the reads on it, where answering from the primary would raise the floor again
        and, under a steady stream of changes, keep every read on the primary.
        """
        deadline = self._clock() + WAIT_FOR_REPLAY
        while True:
            position, age = (await session.execute(sa.text(REPLAYED))).one()
            replayed = parse_lsn(position)
            if replayed is None:
                return None
            lag = self.lag_of(replayed, age)
            if lag is None or lag > self.max_lag:
                return None
            if self._covered == self._heard and replayed >= self._floor:
                return replayed
            if lag > WAIT_FOR_REPLAY or self._clock() >= deadline:
                return None  # further behind than a wait would cover
            await asyncio.sleep(REPLAY_POLL)

    def still_current(self, read: Read[T]) -> bool:
        """False when an answer read from the standby is now older than one given since
        (the primary answered meanwhile): such an answer is not worth caching."""
        return read.replayed is None or read.replayed >= self._floor

    # Change notifications (service.public.cache's listener): each one holds the standby
    # back until the primary's position after it is known and replayed.

    @property
    def heard(self) -> int:
        return self._heard

    def change_heard(self) -> None:
        self._heard += 1

    def changes_written_by(self, written: Lsn | None, heard: int) -> None:
        """The primary was at ``written`` after the first ``heard`` notifications."""
        self._raise_floor(written)
        self._covered = max(self._covered, heard)

    def _raise_floor(self, written: Lsn | None) -> None:
        if written is not None and written > self._floor:
            self._floor = written

    def primary_at(self, written: Lsn) -> None:
        """A sample: the primary has written up to ``written`` now."""
        self._written.append((self._clock(), written))

    def lag_of(self, replayed: Lsn, replay_age: float | None = None) -> float | None:
        """How old the oldest commit the standby at ``replayed`` lacks may be, at most.

        Two bounds, the smaller kept: the time since the primary was last sampled at a
        position the standby has reached (0 once it has the latest sample), and the age
        of the last commit it replayed (``replay_age``; what it lacks came later). The
        first alone is coarse by the sampling second under steady writes; the second
        alone grows without bound on an idle primary.
        """
        if not self._written:
            return None
        if replayed >= self._written[-1][1]:
            return 0.0
        sampled = self._written[0][0]  # behind all we remember: at least that
        for sampled_at, written in reversed(self._written):
            if written <= replayed:
                sampled = sampled_at
                break
        lag = self._clock() - sampled
        if replay_age is not None:
            lag = min(lag, replay_age)
        return max(0.0, lag)

    # The watch: the primary's position every second, and the standby's.

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.check()
            except Exception as error:  # the watch must outlive any one check
                log.warning("replica_check_failed", error=f"{type(error).__name__}: {error}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=CHECK_EVERY)

    async def check(self) -> None:
        if self._replica is None:
            return
        try:
            async with self._primary() as session:
                written = parse_lsn(await session.scalar(sa.text(WRITTEN)))
            if written is not None:
                self.primary_at(written)
        except Exception as error:
            if not _database_failure(error):
                raise
            # The primary is away: the lag is measured against what it last wrote.
        try:
            async with self._replica() as session:
                position, age = (await session.execute(sa.text(REPLAYED))).one()
            replayed = parse_lsn(position)
        except Exception as error:
            if not _database_failure(error):
                raise
            self._lost(error)
            return
        if replayed is None:
            self._become(ReplicaState.NOT_A_STANDBY)
            return
        self._replayed, self._replay_age, self._checked_at = replayed, age, self._clock()
        lag = self.lag_of(replayed, age)
        ok = lag is not None and lag <= self.max_lag
        self._become(ReplicaState.OK if ok else ReplicaState.LAGGING, lag=lag)

    def status(self) -> ReplicaStatus:
        state = self._state
        if state in (ReplicaState.OK, ReplicaState.LAGGING) and self._replayed is not None:
            age = self._replay_age
            if age is not None:
                age += self._clock() - self._checked_at
            lag = self.lag_of(self._replayed, age)
            if lag is not None:
                state = ReplicaState.OK if lag <= self.max_lag else ReplicaState.LAGGING
                return ReplicaStatus(state, round(lag, 3))
        return ReplicaStatus(state, None)

    def _lost(self, error: BaseException) -> None:
        self._become(ReplicaState.DOWN, error=type(error).__name__)

    def _become(self, state: ReplicaState, **details: object) -> None:
        if state == self._state:
            return
        self._state = state
        if state is ReplicaState.OK:
            log.info("replica_ok", **details)
        else:
            log.warning(f"replica_{state.value}", **details)
