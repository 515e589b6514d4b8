"""One retry schedule for every delivery and every call to a platform: stamina's.

The wait after the n-th consecutive failure is ``initial * 2 ** (n - 1)`` plus a random
jitter of up to ``jitter`` seconds, and never more than ``maximum``: stamina's formula,
with stamina's names for its parameters.

- Calls retried in the same process (reading a platform's record, digest or changes
  feed) are retried by stamina itself: ``Backoff.retrying`` configures it.
- Deliveries wait in a row instead (an outbox message's ``available_at``, a platform
  lane's ``retry_at``), so that the wait outlives the transaction, the process and a
  restart, and any worker takes the next try. stamina has no public "delay after the
  n-th failure" (``Attempt.next_wait`` leaves the jitter out and exists only inside its
  retry loop), so ``Backoff.delay`` computes the same formula for them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import ParamSpec, TypeVar

import stamina

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Backoff:
    initial: float  # seconds before the first retry (plus the jitter)
    maximum: float  # the longest wait
    jitter: float = 1.0  # stamina's default: up to a second more, at random
    base: float = 2.0

    def delay(self, failures: int) -> timedelta:
        """How long to wait after ``failures`` consecutive failures (1 or more)."""
        jitter = random.uniform(0, self.jitter)  # noqa: S311 (spreading retries, not a secret)
        try:
            seconds = min(self.maximum, self.initial * self.base ** (max(1, failures) - 1) + jitter)
        except OverflowError:  # a platform down for days: thousands of failures
            seconds = self.maximum
        return timedelta(seconds=seconds)

    def retrying(
        self, on: type[Exception] | Callable[[Exception], bool], attempts: int
    ) -> Callable[[Callable[P, T]], Callable[P, T]]:
        """A decorator retrying a call in-process on this schedule (stamina's ``retry``)."""
        return stamina.retry(
            on=on,
            attempts=attempts,
            wait_initial=self.initial,
            wait_max=self.maximum,
            wait_jitter=self.jitter,
            wait_exp_base=self.base,
        )
