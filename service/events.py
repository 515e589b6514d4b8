"""Domain events, handled in the transaction of the command that raised them.

A command (confirming a record, say) publishes an event on the bus it carries in its
context; every subscriber runs at once, on the same session, so whatever derives from
the change (scores, outbox rows) commits with it or not at all. Subscribers are wired
in one place, ``service.subscribers``, so a producer never knows its consumers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from service.context import CommandContext


class DomainEvent:
    """Base of every event; subscribe to a base class to hear all its kinds."""


E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[AsyncSession, "CommandContext", Any], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: list[tuple[type[DomainEvent], Handler]] = []

    def subscribe(
        self,
        event_type: type[E],
        handler: Callable[[AsyncSession, CommandContext, E], Awaitable[None]],
    ) -> None:
        self._subscriptions.append((event_type, handler))

    def unsubscribe(self, handler: Handler) -> None:
        self._subscriptions = [(t, h) for t, h in self._subscriptions if h is not handler]

    async def publish(self, session: AsyncSession, ctx: CommandContext, event: DomainEvent) -> None:
        """Run every matching subscriber in order; an error aborts the whole command."""
        for event_type, handler in list(self._subscriptions):
            if isinstance(event, event_type):
                await handler(session, ctx, event)
