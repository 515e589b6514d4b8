"""Reconciliation: does a platform hold what we sent it? Find the drift, send it again.

For each record type the platform takes, the local digest (over ``sync_records``, as
the protocol defines it) is compared with the platform's ``/v1/digest``. A record
whose current version the platform rejected (a dead letter) is left out of the local
view: the platform cannot hold it until an operator corrects it. When the digests
differ, every local record is looked up with ``GET /v1/records/{id}``; one the
platform lacks, holds at an older version or in another status is queued again
(unless it is queued already), and the report says what was found.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.integrations.client import PlatformClient
from service.integrations.platforms import Platform
from service.integrations.protocol import STATUS_OF_ACTION, digest_of

LOOKUPS_IN_FLIGHT = 16


@dataclass(frozen=True, slots=True)
class LocalRecord:
    record_id: str
    version: int
    status: str  # in_force or withdrawn, as the platform names it


@dataclass(slots=True)
class LocalView:
    records: list[LocalRecord]
    dead: int  # records left out: the platform rejected their current version
    queued: set[str]  # records with a message still pending for this platform

    @property
    def digest(self) -> str:
        return digest_of((r.record_id, r.version, r.status) for r in self.records)


async def local_view(session: AsyncSession, platform: Platform, record_type: str) -> LocalView:
    rows = (
        await session.execute(
            sa.text(
                "SELECT record_id, version, action FROM sync_records WHERE record_type = :type"
                " ORDER BY record_id"  # the report lists drifting records in this order
            ),
            {"type": record_type},
        )
    ).all()
    dead = {
        (row.key, row.version)
        for row in await session.execute(
            sa.text(
                "SELECT key, (payload->>'version')::int AS version FROM outbox "
                "WHERE topic = :topic AND status = 'dead'"
            ),
            {"topic": platform.topic},
        )
    }
    queued = set(
        (
            await session.execute(
                sa.text(
                    "SELECT DISTINCT key FROM outbox WHERE topic = :topic AND status = 'pending'"
                ),
                {"topic": platform.topic},
            )
        ).scalars()
    )
    records = [
        LocalRecord(row.record_id, row.version, STATUS_OF_ACTION[row.action])
        for row in rows
        if (row.record_id, row.version) not in dead
    ]
    return LocalView(records, len(rows) - len(records), queued)


@dataclass(slots=True)
class TypeReport:
    record_type: str
    local_count: int
    remote_count: int
    local_digest: str
    remote_digest: str
    dead: int
    missing: list[str] = field(default_factory=list)  # the platform does not have it
    behind: list[str] = field(default_factory=list)  # an older version or another status
    ahead: list[str] = field(default_factory=list)  # a newer version than ours (!)
    queued: int = 0  # of those, already waiting to be sent
    resent: int = 0  # of those, queued again now

    @property
    def in_sync(self) -> bool:
        return self.local_digest == self.remote_digest

    @property
    def unknown_to_us(self) -> int:
        """Records the platform holds from us that we do not (e.g. after a restore)."""
        found = self.local_count - len(self.missing)
        return max(0, self.remote_count - found)


@dataclass(slots=True)
class ReconcileReport:
    platform: str
    types: list[TypeReport] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return all(t.in_sync for t in self.types)


async def _walk(
    client: PlatformClient, records: Sequence[LocalRecord], report: TypeReport
) -> list[LocalRecord]:
    """Look each record up on the platform; return those it does not hold as we do."""
    limit = asyncio.Semaphore(LOOKUPS_IN_FLIGHT)

    async def look(record: LocalRecord) -> tuple[LocalRecord, dict[str, Any] | None]:
        async with limit:
            return record, await client.get_record(record.record_id)

    drifted = []
    for record, remote in await asyncio.gather(*(look(r) for r in records)):
        if remote is None:
            report.missing.append(record.record_id)
        elif int(remote.get("version") or 0) > record.version:
            report.ahead.append(record.record_id)
            continue
        elif (
            int(remote.get("version") or 0) < record.version
            or remote.get("status") != record.status
        ):
            report.behind.append(record.record_id)
        else:
            continue
        drifted.append(record)
    return drifted


async def reconcile(
    sessions: async_sessionmaker[AsyncSession],
    platform: Platform,
    client: PlatformClient,
    now: datetime,
    *,
    resend: bool = True,
) -> ReconcileReport:
    report = ReconcileReport(platform.name)
    for record_type in platform.record_types:
        async with sessions() as session:
            view = await local_view(session, platform, record_type)
        remote = await client.digest(record_type)
        type_report = TypeReport(
            record_type, len(view.records), int(remote.get("count") or 0), view.digest,
            str(remote.get("digest") or ""), view.dead,
        )  # fmt: skip
        report.types.append(type_report)
        if type_report.in_sync:
            continue
        drifted = await _walk(client, view.records, type_report)
        type_report.queued = sum(1 for r in drifted if r.record_id in view.queued)
        again = [r for r in drifted if r.record_id not in view.queued]
        if resend and again:
            async with sessions() as session, session.begin():
                await session.execute(
                    sa.text(
                        """
                        INSERT INTO outbox (topic, key, payload, status, attempts,
                                            available_at, created_at)
                        SELECT :topic, r.key, jsonb_build_object('version', r.version),
                               'pending', 0, :now, :now
                        FROM unnest(CAST(:keys AS text[]), CAST(:versions AS int[]))
                             AS r(key, version)
                        """
                    ),
                    {
                        "topic": platform.topic,
                        "now": now,
                        "keys": [r.record_id for r in again],
                        "versions": [r.version for r in again],
                    },
                )
            type_report.resent = len(again)
    return report


def render(report: ReconcileReport) -> str:
    """The report an operator reads: one block per record type."""
    lines = [f"platform {report.platform}: {'in sync' if report.in_sync else 'DRIFT'}"]
    for t in report.types:
        lines.append(
            f"  {t.record_type}: local {t.local_count} ({t.local_digest[:12]}), "
            f"platform {t.remote_count} ({t.remote_digest[:12]})"
            + ("  in sync" if t.in_sync else "")
            + (f", {t.dead} dead letters left out" if t.dead else "")
        )
        if t.in_sync:
            continue
        for label, ids in (("missing", t.missing), ("behind", t.behind), ("ahead", t.ahead)):
            if ids:
                shown = ", ".join(ids[:10]) + (
                    f" and {len(ids) - 10} more" if len(ids) > 10 else ""
                )
                lines.append(f"    {label} {len(ids)}: {shown}")
        lines.append(
            f"    re-sent {t.resent}, already queued {t.queued}"
            + (f", unknown to us {t.unknown_to_us}" if t.unknown_to_us else "")
        )
    return "\n".join(lines)
