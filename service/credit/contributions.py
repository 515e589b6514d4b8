"""Each confirmed record's parts in a score, kept by policy version (decision 0033).

``credit_contributions`` holds, for a policy version whose set is built
(``credit_contribution_sets``), every part a confirmed record plays under it: a
deficiency's points or the first matching rule's, the window, the cap, when the record
was known and when a rectification was. A recompute or an answer for a past date sums
these rows (``bulk.scoring_sql(from_contributions=True)``) instead of re-deriving them
from two million records and their JSON details.

- **Built** once per version, from the records, by the first recompute under it
  (``ensure_built``); until then scores under it are derived from the records.
- **Kept** by every record event (``on_records``, a pipeline step): the rows of the
  records it names are rewritten from the records, for every built version, in the
  event's transaction. A confirmed record's content never changes (trigger), so only
  the end of its validity and its deficiencies' rectifications ever move.

A build and an event must not miss each other: the build holds a lock that waits for
every transaction already keeping the table, and an event takes its side of that lock
before it reads which versions are built (READ COMMITTED: each statement sees what was
committed before it started).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.context import CommandContext
from service.credit.bulk import contributions_built, contributions_sql
from service.policy.document import Policy
from service.policy.store import policy_version
from service.records.events import RecordCorrected, RecordEvent

_COLUMNS = (
    "record_id, subject_kind, part, policy_version, subject_id, occurred_on, stops_on,"
    " known_from, known_until, points, rectified_points, rectified_on, rectified_known_at,"
    " grade_cap"
)
_KEY = "record_id, subject_kind, part, policy_version"
_UPDATED = [column.strip() for column in _COLUMNS.split(",") if column.strip() not in _KEY]


async def ensure_built(connection: AsyncConnection, policy: Policy) -> int:
    """Build ``policy``'s set from the records unless it is built; commits. Returns the
    rows written (0 when it was built already)."""
    if await contributions_built(connection, policy.version):
        return 0
    # Waits for events in flight, and holds new ones, until the set is committed.
    await connection.execute(sa.text("LOCK TABLE credit_contributions IN SHARE ROW EXCLUSIVE MODE"))
    if await contributions_built(connection, policy.version):  # built while we waited
        await connection.commit()
        return 0
    sql, params = contributions_sql(policy)
    # In subject order, so one subject's rows share a page or two: a batch of subjects
    # (eligibility for a past date) then reads few pages.
    result = await connection.execute(
        sa.text(
            f"INSERT INTO credit_contributions ({_COLUMNS})"
            f" SELECT {_COLUMNS} FROM ({sql}) AS c ORDER BY subject_kind, subject_id"
        ),
        params,
    )
    await connection.execute(
        sa.text(
            "INSERT INTO credit_contribution_sets (policy_version, built_at)"
            " VALUES (:version, clock_timestamp())"
        ),
        {"version": policy.version},
    )
    await connection.commit()
    await connection.execute(sa.text("ANALYZE credit_contributions"))
    await connection.commit()
    return int(result.rowcount)


async def keep(session: AsyncSession, policy: Policy, record_ids: Sequence[uuid.UUID]) -> None:
    """Rewrite the rows of ``record_ids`` under ``policy`` from the records as they now are."""
    sql, params = contributions_sql(policy, record_ids)
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in _UPDATED)
    await session.execute(
        sa.text(
            f"INSERT INTO credit_contributions ({_COLUMNS}) SELECT {_COLUMNS} FROM ({sql}) AS c"
            f" ON CONFLICT ({_KEY}) DO UPDATE SET {updates}"
        ),
        params,
    )


async def on_records(
    session: AsyncSession, ctx: CommandContext, events: Sequence[RecordEvent]
) -> None:
    """Step: the records the events name (a correction's replaced one too), kept in
    every built set, in the same transaction."""
    record_ids = list(
        dict.fromkeys(
            record_id
            for event in events
            for record_id in (
                (event.record_id, event.replaced_id)
                if isinstance(event, RecordCorrected)
                else (event.record_id,)
            )
        )
    )
    # Before reading which sets are built: a build waits for this transaction, or this
    # waits for the build and then sees its set (module docstring).
    await session.execute(sa.text("LOCK TABLE credit_contributions IN ROW EXCLUSIVE MODE"))
    built = await session.execute(sa.text("SELECT policy_version FROM credit_contribution_sets"))
    for (version,) in built.all():
        await keep(session, await policy_version(session, version), record_ids)
