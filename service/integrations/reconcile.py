"""Reconciliation: does a platform hold what our sources say? Find the drift, send it again.

For each record type the platform takes, in three steps:

1. **Sources.** Every record is rebuilt from its source (the list entry, the penalty
   and the subject they name) and compared with ``sync_records``. A change that was
   never staged (a subject edited in the database, data from before a subscriber
   existed) is staged now as a new version, so it goes out.
2. **Digest.** The local digest (over ``sync_records``, as the protocol defines it) is
   compared with the platform's ``/v1/digest``. A record whose current version the
   platform rejected (a dead letter) is left out of the local view: the platform
   cannot hold it until an operator corrects it.
3. **Records.** When the digests differ (or with ``deep``, always), every local record
   is looked up with ``GET /v1/records/{id}``. One the platform lacks, holds at an
   older version or in another status is queued again (unless it is queued already).
   One it holds at our version with other content (the protocol's digest cannot see
   content, so this compares a hash of each side's record) gets a new version, since
   the same version sent again would be answered ``duplicate``.

The report says what was found in each step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.context import CommandContext
from service.integrations.client import PlatformClient
from service.integrations.delivery import wire_record
from service.integrations.platforms import Platform, Sender
from service.integrations.protocol import STATUS_OF_ACTION, content_hash, digest_of
from service.integrations.staging import bump, restage, stale_here

LOOKUPS_IN_FLIGHT = 16
REBUILD_BATCH = 1000  # records rebuilt from their sources per transaction


@dataclass(frozen=True, slots=True)
class LocalRecord:
    record_id: str
    version: int
    status: str  # in_force or withdrawn, as the platform names it
    content: str = ""  # content_hash of the record as we send it


@dataclass(slots=True)
class LocalView:
    records: list[LocalRecord]
    dead: int  # records left out: the platform rejected their current version
    queued: set[str]  # records with a message still pending for this platform

    @property
    def digest(self) -> str:
        return digest_of((r.record_id, r.version, r.status) for r in self.records)


async def local_view(
    session: AsyncSession, platform: Platform, record_type: str, sender: Sender | None = None
) -> LocalView:
    """What we hold for the platform; with ``sender``, each record's content hash too."""
    rows = (
        await session.execute(
            sa.text(
                "SELECT record_id, version, record_type, action, body FROM sync_records"
                " WHERE record_type = :type"
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
        LocalRecord(
            row.record_id,
            row.version,
            STATUS_OF_ACTION[row.action],
            content_hash(wire_record(row, sender, None)) if sender is not None else "",
        )
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
    changed_here: list[str] = field(default_factory=list)  # our source changed, never staged
    missing: list[str] = field(default_factory=list)  # the platform does not have it
    behind: list[str] = field(default_factory=list)  # an older version or another status
    ahead: list[str] = field(default_factory=list)  # a newer version than ours (!)
    altered: list[str] = field(default_factory=list)  # our version, other content
    walked: bool = False  # every record was looked up on the platform
    queued: int = 0  # of those, already waiting to be sent
    resent: int = 0  # of those, queued again now (a new version for the altered)

    @property
    def digests_match(self) -> bool:
        return self.local_digest == self.remote_digest

    @property
    def in_sync(self) -> bool:
        return self.digests_match and not self.changed_here and not self.altered

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


@dataclass(slots=True)
class _Walked:
    drifted: list[LocalRecord] = field(default_factory=list)  # to send again as they are
    altered: list[LocalRecord] = field(default_factory=list)  # to send as a new version


def _stored(remote: dict[str, Any]) -> dict[str, Any]:
    """The record inside a GET /v1/records answer (the simulator nests it under
    ``record``; a platform that answers it flat is read as it is)."""
    record = remote.get("record")
    return record if isinstance(record, dict) else remote


async def _walk(
    client: PlatformClient, records: Sequence[LocalRecord], report: TypeReport
) -> _Walked:
    """Look each record up on the platform; sort out those it does not hold as we do."""
    limit = asyncio.Semaphore(LOOKUPS_IN_FLIGHT)

    async def look(record: LocalRecord) -> tuple[LocalRecord, dict[str, Any] | None]:
        async with limit:
            return record, await client.get_record(record.record_id)

    walked = _Walked()
    report.walked = True
    for record, remote in await asyncio.gather(*(look(r) for r in records)):
        version = int(remote.get("version") or 0) if remote is not None else 0
        if remote is None:
            report.missing.append(record.record_id)
        elif version > record.version:
            report.ahead.append(record.record_id)
            continue
        elif version < record.version or remote.get("status") != record.status:
            report.behind.append(record.record_id)
        elif record.content and content_hash(_stored(remote)) != record.content:
            report.altered.append(record.record_id)
            walked.altered.append(record)
            continue
        else:
            continue
        walked.drifted.append(record)
    return walked


async def _refresh_from_sources(
    sessions: async_sessionmaker[AsyncSession],
    ctx: CommandContext,
    record_ids: Sequence[str],
    *,
    restage_them: bool,
) -> list[str]:
    """Step 1: the records whose source changed without a new version; staged now (a new
    version for every platform taking them) unless this is a dry run."""
    stale: list[str] = []
    for start in range(0, len(record_ids), REBUILD_BATCH):
        batch = record_ids[start : start + REBUILD_BATCH]
        async with sessions() as session, session.begin():
            found = await stale_here(session, ctx, batch)
            if restage_them and found:
                await restage(session, ctx, found)
        stale.extend(found)
    return stale


async def _requeue(
    sessions: async_sessionmaker[AsyncSession],
    ctx: CommandContext,
    platform: Platform,
    again: Sequence[LocalRecord],
    altered: Sequence[LocalRecord],
) -> None:
    async with sessions() as session, session.begin():
        if again:
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
                    "now": ctx.now(),
                    "keys": [r.record_id for r in again],
                    "versions": [r.version for r in again],
                },
            )
        await bump(session, ctx.now(), [r.record_id for r in altered])


async def reconcile(
    sessions: async_sessionmaker[AsyncSession],
    ctx: CommandContext,
    platform: Platform,
    client: PlatformClient,
    sender: Sender,
    *,
    resend: bool = True,
    deep: bool = False,
) -> ReconcileReport:
    """Compare, find and (unless ``resend`` is off) repair; ``deep`` looks every record
    up even when the digests agree, to find content the digest cannot see."""
    report = ReconcileReport(platform.name)
    for record_type in platform.record_types:
        async with sessions() as session:
            before = await local_view(session, platform, record_type)
        changed_here = await _refresh_from_sources(
            sessions, ctx, [r.record_id for r in before.records], restage_them=resend
        )
        async with sessions() as session:
            view = await local_view(session, platform, record_type, sender)
        remote = await client.digest(record_type)
        type_report = TypeReport(
            record_type, len(view.records), int(remote.get("count") or 0), view.digest,
            str(remote.get("digest") or ""), view.dead, changed_here,
        )  # fmt: skip
        report.types.append(type_report)
        if type_report.digests_match and not deep:
            continue
        walked = await _walk(client, view.records, type_report)
        type_report.queued = sum(1 for r in walked.drifted if r.record_id in view.queued)
        again = [r for r in walked.drifted if r.record_id not in view.queued]
        if resend and (again or walked.altered):
            await _requeue(sessions, ctx, platform, again, walked.altered)
            type_report.resent = len(again) + len(walked.altered)
    return report


def _ids(ids: Sequence[str]) -> str:
    return ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")


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
        if t.changed_here:
            lines.append(f"    changed at the source {len(t.changed_here)}: {_ids(t.changed_here)}")
        if not t.walked:
            continue
        for label, ids in (
            ("missing", t.missing),
            ("behind", t.behind),
            ("ahead", t.ahead),
            ("other content", t.altered),
        ):
            if ids:
                lines.append(f"    {label} {len(ids)}: {_ids(ids)}")
        lines.append(
            f"    re-sent {t.resent}, already queued {t.queued}"
            + (f", unknown to us {t.unknown_to_us}" if t.unknown_to_us else "")
        )
    return "\n".join(lines)
