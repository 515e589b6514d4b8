"""What every command carries: who acts, under which request, the clock and the event bus."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from service.auth.actor import SYSTEM, Actor
from service.clock import Clock, local_date, system_clock
from service.events import EventBus


@dataclass(frozen=True, slots=True)
class CommandContext:
    actor: Actor
    request_id: str | None = None
    clock: Clock = field(default=system_clock)
    events: EventBus = field(default_factory=EventBus)
    # What a command looks up once and reads many times (the policy in force, say), so
    # every part of one command sees the same answer. One context per command.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        """Today's date in China, where the facts happen."""
        return local_date(self.clock())


def system_context(
    request_id: str | None = None, *, clock: Clock = system_clock, events: EventBus | None = None
) -> CommandContext:
    """The context of a command run from the CLI or the worker."""
    if events is None:
        # Imported here: the subscribers import domain code that imports this module.
        from service.subscribers import build_event_bus

        events = build_event_bus()
    return CommandContext(actor=SYSTEM, request_id=request_id, clock=clock, events=events)
