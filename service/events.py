"""Domain events, and the pipeline of steps that follows each kind, in the command's transaction.

A command (confirming a record, say) publishes its events through its context; the
steps the composition root (``service.wiring``) gave for that kind of event run at once,
in their order, on the same session, so whatever derives from the change (scores, list
proposals, sync rows, the public view) commits with it or not at all. Events travel in
batches: an import of ten thousand records publishes them together, and each step gets
every matching event of the batch in one call, so it can do its work once. A producer
never knows its consumers; the order they run in is written down in one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


class DomainEvent:
    """Base of every event; a step given for a base class runs for all its kinds."""


# A step takes the session, the command's context and the batch of matching events. The
# context is typed Any here: this module sits below service.context, which carries a
# Pipeline, and a step's own signature names CommandContext.
Step = Callable[[AsyncSession, Any, Sequence[Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Pipeline:
    """For each kind of event, the steps that follow it, in order.

    A step may publish further events (a trigger proposing a list entry publishes
    ``ListEntryChanged``); their steps run at that point, inside the step that published.
    """

    stages: tuple[tuple[type[DomainEvent], tuple[Step, ...]], ...] = ()

    def steps_for(self, event_type: type[DomainEvent]) -> tuple[Step, ...]:
        """Every step an event of this type goes through, in the order they run."""
        return tuple(
            step for kind, steps in self.stages if issubclass(event_type, kind) for step in steps
        )

    async def run(self, session: AsyncSession, ctx: Any, events: Sequence[DomainEvent]) -> None:
        """Run each stage's steps on the events of its kind; an error aborts the command."""
        for kind, steps in self.stages:
            matching = [event for event in events if isinstance(event, kind)]
            for step in steps if matching else ():
                await step(session, ctx, matching)


NO_STEPS = Pipeline()
