"""Domain events, handled in the transaction of the command that raised them.

A command (confirming a record, say) publishes its events on the bus it carries in its
context; every subscriber runs at once, on the same session, so whatever derives from
the change (scores, outbox rows) commits with it or not at all. Events travel in
batches: a command that changes one record publishes one event, an import of ten
thousand publishes them together, and a subscriber gets every matching event of the
batch in one call, so it can do its work once. Subscribers are wired in one place,
``service.subscribers``, so a producer never knows its consumers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from service.context import CommandContext


class DomainEvent:
    """Base of every event; subscribe to a base class to hear all its kinds."""


E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[AsyncSession, "CommandContext", Sequence[Any]], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: list[tuple[type[DomainEvent], Handler]] = []

    def subscribe(
        self,
        event_type: type[E],
        handler: Callable[[AsyncSession, CommandContext, Sequence[E]], Awaitable[None]],
    ) -> None:
        self._subscriptions.append((event_type, handler))

    async def publish(
        self, session: AsyncSession, ctx: CommandContext, events: Sequence[DomainEvent]
    ) -> None:
        """Run every subscriber on the events it asked for; an error aborts the command."""
        for event_type, handler in list(self._subscriptions):
            matching = [event for event in events if isinstance(event, event_type)]
            if matching:
                await handler(session, ctx, matching)
