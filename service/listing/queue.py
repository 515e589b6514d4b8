"""The reviewers' queue: the list entries that need someone, by their next deadline.

Each open entry waits for one thing, and that thing is due on a day:

- ``proposed``: its notice, due from the day of the proposal (the policy sets no limit, so
  such an entry is never overdue: it simply waits longest);
- ``notified``, within its window: the window ends on the objection deadline (the day is
  included, as the notice says); afterwards the decision is due on the first working day
  after that deadline, the first day ``decide`` accepts;
- ``objected``: the ruling on the objection, due on the same day as the decision would be;
- ``objection_rejected``: the decision, likewise;
- ``listed``: publication, by ``publish_by`` (the policy's working days after the decision);
- ``published`` with a repair application waiting: its review, from the day it was filed
  (no limit either).

A deadline with a limit is overdue once today is past it. Distances count Chinese working
days (``workdays``), as every deadline of due process does. The queue is read whole within
the actor's region and the filters (the open entries of a region are hundreds, not
millions), so it can be ordered by dates that are worked out here and counted in full.

``open_steps`` is what a person may do with an entry now: the machine's allowed steps less
those the service would refuse them (their role, four eyes, the objection window), so a
page offers only those; the service still checks every step it is sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.actor import STAFF_ROLES, Actor, Role
from service.clock import local_date
from service.context import CommandContext
from service.db.rows import get_or_404
from service.errors import Invalid
from service.listing import service
from service.listing.machine import Action, EntryStatus, allowed
from service.listing.models import ListEntry, RepairApplication
from service.listing.repair import RepairCondition, repair_conditions
from service.listing.workdays import is_workday, working_days_after
from service.policy.document import Calendar, ListType, Policy
from service.policy.store import policy_now
from service.registry.service import region_scope, subjects_by_id

# Statuses in which an entry waits for staff; a published one only with a repair pending.
WAITING = (
    EntryStatus.PROPOSED,
    EntryStatus.NOTIFIED,
    EntryStatus.OBJECTED,
    EntryStatus.OBJECTION_REJECTED,
    EntryStatus.LISTED,
)
QUEUE_STATUSES = (*WAITING, EntryStatus.PUBLISHED)


class Due(StrEnum):
    """What an entry waits for."""

    NOTICE = "notice"
    OBJECTION_WINDOW = "objection_window"
    OBJECTION_RULING = "objection_ruling"
    DECISION = "decision"
    PUBLICATION = "publication"
    REPAIR_REVIEW = "repair_review"


# What waits without a limit in the policy: never counted overdue.
UNLIMITED = frozenset({Due.NOTICE, Due.REPAIR_REVIEW, Due.OBJECTION_WINDOW})


@dataclass(frozen=True, slots=True)
class QueueItem:
    entry: ListEntry
    subject_name: str
    due: Due
    due_on: date
    overdue: bool
    working_days_left: int  # negative: working days past due_on


@dataclass(frozen=True, slots=True)
class Queue:
    items: list[QueueItem]  # the page asked for
    total: int
    overdue: int
    overdue_by_due: dict[Due, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QueueFilter:
    list_type: str | None = None
    status: str | None = None
    region: str | None = None  # a region prefix within the actor's own


def queue_filter(list_type: str | None, status: str | None, region: str | None) -> QueueFilter:
    """The filters as a person typed them: blank is no filter, anything else is checked."""
    list_type, status, region = (
        (value or "").strip() or None for value in (list_type, status, region)
    )
    if list_type is not None and list_type not in {kind.value for kind in ListType}:
        raise Invalid.field("list_type", "is not a list")
    if status is not None and status not in {state.value for state in QUEUE_STATUSES}:
        raise Invalid.field("status", "is not a status an entry waits in")
    return QueueFilter(list_type, status, region)


def _next_working_day(day: date, calendar: Calendar) -> date:
    return working_days_after(day, 1, calendar).day


def _due(
    entry: ListEntry, repair_filed_on: date | None, today: date, calendar: Calendar
) -> tuple[Due, date]:
    status = EntryStatus(entry.status)
    if status == EntryStatus.PROPOSED:
        return Due.NOTICE, local_date(entry.proposed_at or entry.created_at)
    if status == EntryStatus.LISTED and entry.publish_by is not None:
        return Due.PUBLICATION, entry.publish_by
    if status == EntryStatus.PUBLISHED and repair_filed_on is not None:
        return Due.REPAIR_REVIEW, repair_filed_on
    deadline = entry.objection_deadline or local_date(entry.notified_at or entry.created_at)
    if status == EntryStatus.NOTIFIED and today <= deadline:
        return Due.OBJECTION_WINDOW, deadline
    ruling = Due.OBJECTION_RULING if status == EntryStatus.OBJECTED else Due.DECISION
    return ruling, _next_working_day(deadline, calendar)


def working_days_until(today: date, day: date, calendar: Calendar) -> int:
    """Working days from today to ``day`` (not counting today); negative once it is past."""
    start, end, sign = (today, day, 1) if day >= today else (day, today, -1)
    count, current = 0, start
    while current < end:
        current += timedelta(days=1)
        count += is_workday(current, calendar)[0]
    return sign * count


async def review_queue(
    session: AsyncSession,
    ctx: CommandContext,
    wanted: QueueFilter,
    *,
    page: int = 1,
    page_size: int = 50,
) -> Queue:
    """The entries waiting for staff within the actor's region (or the narrower region
    asked for, refused outside it), soonest deadline first, with what is overdue."""
    ctx.actor.require_role(*STAFF_ROLES)
    pending_repair = (
        sa.select(
            col(RepairApplication.entry_id),
            sa.func.min(col(RepairApplication.filed_on)).label("on"),
        )
        .where(col(RepairApplication.status) == "pending")
        .group_by(col(RepairApplication.entry_id))
        .subquery()
    )
    query = (
        sa.select(ListEntry, pending_repair.c.on)
        .outerjoin(pending_repair, pending_repair.c.entry_id == col(ListEntry.id))
        .where(
            sa.or_(
                col(ListEntry.status).in_([status.value for status in WAITING]),
                pending_repair.c.on.is_not(None),
            )
        )
    )
    if scope := region_scope(ctx.actor, wanted.region):
        query = query.where(col(ListEntry.region_code).startswith(scope, autoescape=True))
    if wanted.list_type is not None:
        query = query.where(col(ListEntry.list_type) == wanted.list_type)
    if wanted.status is not None:
        query = query.where(col(ListEntry.status) == wanted.status)
    rows = (await session.execute(query)).all()

    policy = await policy_now(session, ctx)
    today = ctx.today()
    timed = []
    for entry, repair_filed_on in rows:
        due, due_on = _due(entry, repair_filed_on, today, policy.calendar)
        overdue = due not in UNLIMITED and today > due_on
        timed.append((due_on, not overdue, entry.created_at, entry.id, entry, due, overdue))
    timed.sort(key=lambda row: row[:4])
    overdue_by_due: dict[Due, int] = {}
    for *_, due, overdue in timed:
        if overdue:
            overdue_by_due[due] = overdue_by_due.get(due, 0) + 1

    shown = timed[(page - 1) * page_size : page * page_size]
    names = await _subject_names(session, [row[4] for row in shown])
    items = [
        QueueItem(
            entry, names.get(entry.subject_id, ""), due, due_on, overdue,
            working_days_until(today, due_on, policy.calendar),
        )
        for due_on, _, _, _, entry, due, overdue in shown
    ]  # fmt: skip
    return Queue(items, len(timed), sum(overdue_by_due.values()), overdue_by_due)


async def _subject_names(session: AsyncSession, entries: list[ListEntry]) -> dict[uuid.UUID, str]:
    institutions, practitioners = await subjects_by_id(
        session,
        (e.subject_id for e in entries if e.subject_kind == "institution"),
        (e.subject_id for e in entries if e.subject_kind == "practitioner"),
    )
    return {key: row.name for key, row in (institutions | practitioners).items()}


# --- what a person may do with an entry now -------------------------------------------

# Who may take each step, as the service checks it (service.listing.service).
_ROLES: dict[Action, tuple[Role, ...]] = {
    Action.NOTIFY: STAFF_ROLES,
    Action.OBJECT: STAFF_ROLES,
    Action.WITHDRAW: STAFF_ROLES,
    Action.UPHOLD_OBJECTION: service.DECIDERS,
    Action.REJECT_OBJECTION: service.DECIDERS,
    Action.DECIDE_LIST: service.DECIDERS,
    Action.DECIDE_DISMISS: service.DECIDERS,
    Action.PUBLISH: (Role.REVIEWER, Role.ADMIN),
    Action.REVOKE: service.DECIDERS,
}
# The rulings a proposer may not make on their own proposal (four eyes).
RULINGS = frozenset(
    {Action.UPHOLD_OBJECTION, Action.REJECT_OBJECTION, Action.DECIDE_LIST, Action.DECIDE_DISMISS}
)


@dataclass(frozen=True, slots=True)
class OpenSteps:
    steps: list[Action]
    # Why a ruling is not offered now, when the machine would allow it: "four_eyes", or
    # "objection_window" (the decision waits until the day after ``window_ends``).
    withheld: str | None = None
    window_ends: date | None = None
    # Credit repair: whether an application may be recorded, and which pending ones this
    # person may review (not one they recorded: four eyes).
    repair_application: bool = False
    repair_review: frozenset[uuid.UUID] = frozenset()


DECISIONS = (Action.DECIDE_LIST, Action.DECIDE_DISMISS)


def open_steps(
    actor: Actor, entry: ListEntry, today: date, repairs: Sequence[RepairApplication] = ()
) -> OpenSteps:
    """The steps ``actor`` may take on ``entry`` today (the worker's expiry is never one)."""
    if not actor.covers_region(entry.region_code):
        return OpenSteps([])
    steps = [a for a in allowed(EntryStatus(entry.status)) if actor.role in _ROLES.get(a, ())]
    withheld = None
    if actor.user_id is not None and actor.user_id == entry.proposed_by:
        withheld = "four_eyes" if any(a in RULINGS for a in steps) else None
        steps = [a for a in steps if a not in RULINGS]
    deadline = entry.objection_deadline
    window_ends = None
    if entry.status == EntryStatus.NOTIFIED and deadline is not None and today <= deadline:
        window_ends = deadline
        if any(a in DECISIONS for a in steps):
            withheld = withheld or "objection_window"
        steps = [a for a in steps if a not in DECISIONS]
    published_black = entry.status == EntryStatus.PUBLISHED and entry.list_type == ListType.BLACK
    pending = [r for r in repairs if r.status == "pending"]
    reviewable = frozenset(
        r.id
        for r in pending
        if actor.role in service.DECIDERS
        and (actor.user_id is None or actor.user_id != r.recorded_by)
    )
    return OpenSteps(
        steps, withheld, window_ends,
        repair_application=published_black and not pending and actor.role in STAFF_ROLES,
        repair_review=reviewable if published_black else frozenset(),
    )  # fmt: skip


async def repair_application_entry(
    session: AsyncSession, ctx: CommandContext, application_id: uuid.UUID
) -> uuid.UUID:
    """The entry a repair application belongs to (its region checked when it is read)."""
    ctx.actor.require_role(*STAFF_ROLES)
    application = await get_or_404(session, RepairApplication, application_id, "repair application")
    return application.entry_id


# --- credit repair, each condition checked ---------------------------------------------


async def repair_checks(
    session: AsyncSession, ctx: CommandContext, entry: ListEntry, policy: Policy
) -> dict[uuid.UUID, list[RepairCondition]]:
    """Each repair application of a published entry with the policy's conditions, met or not,
    as ``decide_repair`` would check them today (a decided one: as they stand today)."""
    if entry.published_at is None:
        return {}
    rows = await session.execute(
        sa.select(RepairApplication).where(col(RepairApplication.entry_id) == entry.id)
    )
    applications = list(rows.scalars())
    if not applications:
        return {}
    # The same count decide_repair uses: confirmed records since the listing that would
    # trigger a black listing again.
    new_serious = await service._new_serious_records(session, entry, policy)
    today = ctx.today()
    return {
        application.id: repair_conditions(entry, application, policy, today, new_serious)
        for application in applications
    }
