"""What every command carries: who acts, under which request, its clock, the pipeline of
steps that follow its events, and what it looked up once.

A leaf: it knows the shapes of these things, not the domains that fill them. The
composition root (``service.wiring``) builds contexts with the service's pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.actor import Actor
from service.clock import Clock, Moment, local_date, system_clock
from service.events import NO_STEPS, DomainEvent, Pipeline


@dataclass(frozen=True, slots=True)
class CommandContext:
    actor: Actor
    request_id: str | None = None
    clock: Clock = field(default=system_clock)
    pipeline: Pipeline = NO_STEPS
    # What a command looks up once and reads many times (the policy in force, say), so
    # every part of one command sees the same answer. One context per command.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        """Today's date in China, where the facts happen."""
        return local_date(self.clock())

    def moment(self, as_of: date | None = None) -> Moment:
        """The moment a question is about: a date (today by default) and what is known now."""
        return Moment.of(as_of or self.today(), self.now())

    async def publish(self, session: AsyncSession, events: Sequence[DomainEvent]) -> None:
        """Run the steps that follow these events, now, in this command's transaction."""
        await self.pipeline.run(session, self, events)
