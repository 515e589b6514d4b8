"""What every command carries: who acts, under which request, and the clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from service.auth.actor import SYSTEM, Actor
from service.clock import Clock, system_clock


@dataclass(frozen=True, slots=True)
class CommandContext:
    actor: Actor
    request_id: str | None = None
    clock: Clock = field(default=system_clock)

    def now(self) -> datetime:
        return self.clock()


def system_context(request_id: str | None = None) -> CommandContext:
    """The context of a command run from the CLI or the worker."""
    return CommandContext(actor=SYSTEM, request_id=request_id)
