"""The standby's lag, measured against the primary's WAL position over time."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from service.db.replica import Reads, parse_lsn


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_positions_compare_as_numbers() -> None:
    assert parse_lsn("0/3000000") == 0x3000000
    assert parse_lsn("16/B374D848") == (0x16 << 32) | 0xB374D848
    assert parse_lsn("1/0") > parse_lsn("0/FFFFFFFF")  # type: ignore[operator]
    assert parse_lsn(None) is None


def test_the_lag_is_the_time_since_the_primary_was_where_the_standby_is() -> None:
    clock = Clock()
    reads = Reads(async_sessionmaker(), async_sessionmaker(), max_lag=5.0, clock=clock)
    assert reads.lag_of(0x100) is None  # nothing known of the primary yet
    reads.primary_at(0x100)
    clock.now += 60
    reads.primary_at(0x100)  # an idle primary: a standby at its position is not behind
    assert reads.lag_of(0x100) == 0.0
    clock.now += 1
    reads.primary_at(0x200)  # at 161
    clock.now += 1
    reads.primary_at(0x300)  # at 162
    clock.now += 2.5
    assert reads.lag_of(0x300) == 0.0
    assert reads.lag_of(0x250) == 3.5  # has all the primary had at 161, not at 162
    assert reads.lag_of(0x100) == 4.5  # the primary was still there at 160
    assert reads.lag_of(0x50) == 64.5  # behind all that is remembered: at least that


def test_the_age_of_the_last_replayed_commit_bounds_the_lag_when_it_is_less() -> None:
    clock = Clock()
    reads = Reads(async_sessionmaker(), async_sessionmaker(), max_lag=5.0, clock=clock)
    reads.primary_at(0x100)
    clock.now += 1
    reads.primary_at(0x200)  # steady writes: the standby is a moment behind this sample
    clock.now += 0.9
    assert reads.lag_of(0x1FF) == pytest.approx(1.9)  # by the samples alone
    assert reads.lag_of(0x1FF, replay_age=0.004) == 0.004  # it replayed a commit 4 ms old
    assert reads.lag_of(0x1FF, replay_age=30.0) == pytest.approx(1.9)  # an old commit
    assert reads.lag_of(0x200, replay_age=30.0) == 0.0  # level with the idle primary
