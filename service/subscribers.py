"""The one place that wires domain events to the code that derives from them.

Records publish events; later stages (the credit engine, the outbox) subscribe here
without any change to the code that publishes.
"""

from __future__ import annotations

from service.events import EventBus


def build_event_bus() -> EventBus:
    return EventBus()
