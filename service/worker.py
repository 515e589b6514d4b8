"""The background worker: expiries, daily scans and the outbox. Several may run at once.

Each pass, in short transactions of its own:
- ends published list entries whose period is over (``SKIP LOCKED``: no entry twice);
- runs each daily job once a day across all workers (an advisory lock, then a
  ``job_runs`` row saying it ran today): overdue deficiencies and red-list candidates
  (proposals), the purge of expired idempotency keys;
- empties the outbox, every delivery lane at once (``service.outbox.lanes``): the
  notices to the subjects' webhook (``service.listing.delivery``) and each public-credit
  platform of the platforms file (``service.integrations.delivery``); a failed delivery
  is tried again on the one retry schedule (``service.outbox.backoff``);
- pulls each platform's changes feed when it is due (``service.integrations.sync``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from service.audit import checkpoints
from service.audit.chain import SealSigner, seal
from service.auth.staff import purge_sign_in_records
from service.config import Settings
from service.context import CommandContext
from service.idempotency.store import purge_expired
from service.identity.protection import IdNumberVault
from service.integrations.platforms import Platforms
from service.integrations.staging import withdraw_ended_penalties
from service.integrations.sync import Connections, connect, pull_feeds, register_at_start
from service.listing.delivery import NOTICE_LANE, NoticeLane
from service.listing.models import JobRun
from service.listing.service import expire_due
from service.logs import get_logger
from service.outbox import queue as outbox
from service.outbox.lanes import Lane, drain_all
from service.public.readmodel import rebuild as rebuild_public_view
from service.signing.keys import KeyRing, load_or_create
from service.triggers.proposals import overdue_deficiencies, red_list_candidates

log = get_logger(__name__)
EXPIRY_BATCH = 500


async def _purge_idempotency_keys(session: AsyncSession, ctx: CommandContext) -> int:
    return await purge_expired(session, ctx.now())


DAILY_JOBS: dict[str, Callable[[AsyncSession, CommandContext], Awaitable[int]]] = {
    "overdue_deficiencies": overdue_deficiencies,
    "red_list_candidates": red_list_candidates,
    "idempotency_purge": _purge_idempotency_keys,
    "penalty_publication_end": withdraw_ended_penalties,
    "outbox_purge": outbox.purge_settled,
    "sign_in_purge": purge_sign_in_records,
    # Last: what changes with time alone (publication periods, star ratings, scores).
    "public_view": rebuild_public_view,
}


@dataclass(slots=True)
class Pass:
    expired: int = 0
    jobs: dict[str, int] = field(default_factory=dict)
    delivered: int = 0
    failed: int = 0
    synced: int = 0  # records the platforms confirmed
    dead: int = 0  # records a platform rejected
    imported: int = 0  # items imported from changes feeds
    sealed: int = 0  # audit rows sealed into the chain
    checkpointed: int | None = None  # the sequence number of a checkpoint signed
    witnessed: int = 0  # checkpoints the witness accepted


async def _claim_daily(session: AsyncSession, ctx: CommandContext, name: str) -> bool:
    """True for exactly one worker, once a day: this transaction then runs the job."""
    locked = await session.scalar(
        sa.select(sa.func.pg_try_advisory_xact_lock(sa.func.hashtext(f"job:{name}")))
    )
    if not locked:
        return False
    last = await session.scalar(sa.select(col(JobRun.last_run_on)).where(col(JobRun.name) == name))
    if last is not None and last >= ctx.today():
        return False
    await session.execute(
        insert(JobRun)
        .values(name=name, last_run_on=ctx.today(), last_run_at=ctx.now())
        .on_conflict_do_update(
            index_elements=["name"], set_={"last_run_on": ctx.today(), "last_run_at": ctx.now()}
        )
    )
    return True


async def run_pass(
    sessions: async_sessionmaker[AsyncSession],
    ctx: CommandContext,
    settings: Settings,
    client: httpx.AsyncClient,
    connections: Connections | None = None,
    ring: KeyRing | None = None,
) -> Pass:
    done = Pass()
    while True:
        async with sessions() as session, session.begin():
            count = await expire_due(session, ctx, EXPIRY_BATCH)
        done.expired += count
        if count < EXPIRY_BATCH:
            break
    for name, job in DAILY_JOBS.items():
        async with sessions() as session, session.begin():
            if await _claim_daily(session, ctx, name):
                done.jobs[name] = await job(session, ctx)
    lanes: list[Lane] = []
    if settings.notice_webhook_url:
        lanes.append(NoticeLane(client, settings.notice_webhook_url, ctx.now))
    if connections is not None:
        lanes.extend(connections.lanes(ctx.now))
    for lane in await drain_all(sessions, lanes):
        if lane.lane == NOTICE_LANE:
            done.delivered, done.failed = lane.delivered, lane.failed
        else:
            done.synced += lane.delivered
            done.dead += lane.dead
    if connections is not None:
        done.imported = sum(
            pulled.imported for pulled in await pull_feeds(sessions, ctx, connections)
        )
    # Last, so the pass's own audit rows are among those sealed (decision 0030), and the
    # checkpoint, when one is due, signs the head they end in (decision 0036).
    ring = ring or load_or_create(settings.signing_key_path)
    async with sessions() as session, session.begin():
        done.sealed = await seal(await session.connection(), SealSigner(ring), wait=False)
        if await checkpoints.due(session, ctx.now(), settings.checkpoint_interval_seconds):
            made = await checkpoints.make(session, ring, ctx.now(), only_if_moved=True)
            done.checkpointed = made.sequence if made else None
    if settings.checkpoint_witness_url:
        async with sessions() as session, session.begin():
            done.witnessed = await checkpoints.witness(
                session, client, settings.checkpoint_witness_url, ctx.now()
            )
    return done


async def run(
    sessions: async_sessionmaker[AsyncSession],
    context: Callable[[], CommandContext],
    settings: Settings,
    platforms: Platforms,
    *,
    once: bool,
    interval: float,
    stop: asyncio.Event | None = None,
) -> Pass:
    """Pass after pass until stopped (or once); each pass gets a fresh context (its clock)."""
    stop = stop or asyncio.Event()
    totals = Pass()
    assert settings.secret_key is not None
    ring = load_or_create(settings.signing_key_path)
    await register_at_start(sessions, platforms)
    async with (
        httpx.AsyncClient(timeout=10) as client,
        connect(platforms, IdNumberVault(settings.secret_key)) as connections,
    ):
        while True:
            done = await run_pass(sessions, context(), settings, client, connections, ring)
            totals.expired += done.expired
            totals.delivered += done.delivered
            totals.failed += done.failed
            totals.synced += done.synced
            totals.dead += done.dead
            totals.imported += done.imported
            totals.sealed += done.sealed
            totals.checkpointed = done.checkpointed or totals.checkpointed
            totals.witnessed += done.witnessed
            totals.jobs.update(done.jobs)
            if any(_summary(done).values()):
                log.info("worker_pass", **_summary(done))
            if once:
                return totals
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
                return totals
            except TimeoutError:
                continue


def _summary(done: Pass) -> dict[str, Any]:
    return {
        "expired": done.expired,
        "jobs": done.jobs,
        "delivered": done.delivered,
        "failed": done.failed,
        "synced": done.synced,
        "dead": done.dead,
        "imported": done.imported,
        "sealed": done.sealed,
        "checkpointed": done.checkpointed,
        "witnessed": done.witnessed,
    }
