"""The one place that wires domain events to the code that derives from them.

Records publish events; the credit engine, the lists' triggers and the platform sync
subscribe here without any change to the code that publishes. Order matters: scores
are updated before the triggers that read them.
"""

from __future__ import annotations

from service.credit.events import StarRatingRecorded
from service.credit.scoring import rescore
from service.events import EventBus
from service.integrations.staging import on_list_entries, on_penalties, on_subjects
from service.listing.barred import refuse_barred_employment
from service.listing.events import ListEntryChanged
from service.listing.triggers import on_records
from service.public import readmodel as public
from service.records.events import RecordEvent
from service.registry.events import EmploymentStarting, SubjectChanged


def build_event_bus() -> EventBus:
    bus = EventBus()
    bus.subscribe(RecordEvent, rescore)  # scores change with the records, in their transaction
    bus.subscribe(RecordEvent, on_records)  # then the list triggers read the new scores
    bus.subscribe(RecordEvent, on_penalties)  # disclosed penalties go to the platforms
    bus.subscribe(ListEntryChanged, on_list_entries)  # published entries go too
    bus.subscribe(SubjectChanged, on_subjects)  # and again when the subject they name changes
    bus.subscribe(EmploymentStarting, refuse_barred_employment)
    # The public read model last: it shows the scores and lists the others just wrote.
    bus.subscribe(RecordEvent, public.on_records)
    bus.subscribe(ListEntryChanged, public.on_list_entries)
    bus.subscribe(SubjectChanged, public.on_subjects)
    bus.subscribe(StarRatingRecorded, public.on_star_ratings)
    return bus
