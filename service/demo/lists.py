"""The demo's lists: what the demo records triggered, as if carried over from the old
spreadsheets with their due process already done, so the public lists are not empty."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.context import CommandContext
from service.dates import add_months
from service.listing.events import ListEntryChanged
from service.listing.machine import Action, EntryStatus
from service.listing.models import ListEntry, ListTransition
from service.policy.store import policy_now
from service.triggers.proposals import red_list_candidates

CARRIED_OVER = "demo: carried over from the 2025 spreadsheets, due process done there"


async def publish_demo_lists(session: AsyncSession, ctx: CommandContext) -> int:
    """Publish every open proposal (and the red-list candidates) as of today."""
    await red_list_candidates(session, ctx)
    policy = await policy_now(session, ctx)
    entries = (
        await session.execute(
            sa.select(ListEntry)
            .where(col(ListEntry.status) == EntryStatus.PROPOSED.value)
            .order_by(col(ListEntry.created_at), col(ListEntry.id))
        )
    ).scalars()
    now, today = ctx.now(), ctx.today()
    changes = []
    for entry in entries:
        months = policy.lists.of(entry.list_type).duration_months
        steps = [
            (Action.NOTIFY, EntryStatus.PROPOSED, EntryStatus.NOTIFIED, None),
            (Action.DECIDE_LIST, EntryStatus.NOTIFIED, EntryStatus.LISTED, "演示决〔2025〕1号"),
            (Action.PUBLISH, EntryStatus.LISTED, EntryStatus.PUBLISHED, None),
        ]
        for offset, (action, before, after, document) in enumerate(steps, start=2):
            session.add(
                ListTransition(
                    entry_id=entry.id, seq=offset, action=action.value, from_status=before.value,
                    to_status=after.value, actor_id=None, actor_role="system", occurred_at=now,
                    rule=CARRIED_OVER, basis_document=document,
                )
            )  # fmt: skip
        entry.status, entry.version = EntryStatus.PUBLISHED.value, 4
        entry.notified_at = entry.decided_at = entry.published_at = now
        entry.objection_deadline = entry.publish_by = today
        entry.effective_from = today
        entry.effective_to = add_months(today, months) - timedelta(days=1)
        changes.append(ListEntryChanged.of(entry, Action.PUBLISH, now))
    await session.flush()
    if changes:
        await ctx.publish(session, changes)
    return len(changes)
