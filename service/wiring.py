"""The composition root: which steps follow each kind of event, in which order.

This is the one place a newcomer reads to follow a change through the service. After
a record is confirmed, corrected, revoked or rectified (``RecordEvent``), in the same
transaction:

1. ``credit.contributions.on_records``: the record's parts in a score are kept for
   every policy version whose set is built (decision 0033);
2. ``credit.scoring.rescore``: the subjects it names get their new scores;
3. ``triggers.proposals.on_records``: the list triggers read those scores and the
   record, and may propose list entries (which publish ``ListEntryChanged``, whose
   steps below run right there);
4. ``integrations.staging.on_penalties``: a disclosed penalty is staged for the
   public-credit platforms;
5. ``public.readmodel.on_records``: the public view shows the new state, last, so it
   shows what the steps before it wrote.

Rules that must always hold are not steps: a command calls them itself (the hiring
command refuses a black-listed practitioner in ``employment.service``).
"""

from __future__ import annotations

from service.actor import SYSTEM
from service.clock import Clock, system_clock
from service.context import CommandContext
from service.credit import contributions
from service.credit.events import StarRatingRecorded
from service.credit.scoring import rescore
from service.events import Pipeline
from service.integrations import staging
from service.listing.events import ListEntryChanged
from service.policy.events import PolicyInstalled
from service.public import readmodel as public
from service.records.events import RecordEvent
from service.registry.events import SubjectChanged
from service.triggers import proposals

PIPELINE = Pipeline(
    (
        (
            RecordEvent,
            (
                contributions.on_records,
                rescore,
                proposals.on_records,
                staging.on_penalties,
                public.on_records,
            ),
        ),
        (ListEntryChanged, (staging.on_list_entries, public.on_list_entries)),
        (SubjectChanged, (staging.on_subjects, public.on_subjects)),
        (StarRatingRecorded, (public.on_star_ratings,)),
        (PolicyInstalled, (public.on_policy_installed,)),
    )
)


def system_context(
    request_id: str | None = None, *, clock: Clock = system_clock, pipeline: Pipeline = PIPELINE
) -> CommandContext:
    """The context of a command run from the CLI or the worker, with the service's pipeline."""
    return CommandContext(actor=SYSTEM, request_id=request_id, clock=clock, pipeline=pipeline)
