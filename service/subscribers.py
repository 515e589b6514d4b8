"""The one place that wires domain events to the code that derives from them.

Records publish events; the credit engine (and, later, the outbox) subscribe here
without any change to the code that publishes.
"""

from __future__ import annotations

from service.credit.scoring import rescore
from service.events import EventBus
from service.records.events import RecordEvent


def build_event_bus() -> EventBus:
    bus = EventBus()
    bus.subscribe(RecordEvent, rescore)  # scores change with the records, in their transaction
    return bus
