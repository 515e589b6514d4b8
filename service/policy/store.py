"""Stored policy versions: installing one, and finding the one in force at a moment.

The version in force on a date is the one with the latest ``effective_from`` on or
before it, among the versions already installed by then (``activated_at``), so
installing a version later never changes an answer already given for a past date.
A date from before the first installation uses the first version installed.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.audit import chain as audit
from service.context import CommandContext
from service.errors import Conflict, Invalid, NotFound
from service.policy.document import Policy
from service.policy.events import PolicyInstalled
from service.policy.load import DEFAULT_POLICY_FILE, PolicyError, parse_policy
from service.policy.models import PolicyVersion

_parsed: dict[str, Policy] = {}  # versions never change once stored, so parse each once
_POLICY_NOW = "policy_now"


def parsed(version: PolicyVersion) -> Policy:
    policy = _parsed.get(version.version)
    if policy is None:
        policy = _parsed[version.version] = parse_policy(
            version.document, version.version, stored=True
        )
    return policy


def checked_document(text: str, source: str = "policy") -> Policy:
    try:
        return parse_policy(text, source)
    except PolicyError as error:
        raise Invalid.field("policy", str(error)) from error


async def install(
    session: AsyncSession, ctx: CommandContext, text: str, source: str = "policy"
) -> PolicyVersion:
    """Store a new version; installing the same document again changes nothing."""
    policy = checked_document(text, source)
    digest = hashlib.sha256(text.encode()).hexdigest()
    existing = await session.get(PolicyVersion, policy.version)
    if existing is not None:
        if existing.sha256 == digest:
            return existing
        raise Conflict(
            f"policy version {policy.version} is already installed with other content; "
            "give the new document a new version"
        )
    stored = PolicyVersion(
        version=policy.version,
        effective_from=policy.policy.effective_from,
        title=policy.policy.title[:200],
        document=text,
        sha256=digest,
        activated_at=ctx.now(),
        activated_by=ctx.actor.user_id,
    )
    session.add(stored)
    await session.flush()
    await audit.record(
        session,
        ctx,
        action="policy.install",
        target_type="policy",
        target_id=policy.version,
        after={"version": policy.version, "sha256": digest},
    )
    await ctx.publish(session, [PolicyInstalled(policy.version)])
    return stored


async def ensure_shipped(session: AsyncSession, ctx: CommandContext) -> PolicyVersion:
    """Install the policy that ships with this code, if this database lacks it.

    The only reader of the shipped file: every rule is applied from the installed
    version in force (``policy_now``), never from the file on disk.
    """
    return await install(session, ctx, DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))


def _in_force_query(columns: Any, as_of: date, known_at: datetime | None) -> Any:
    """The newest version in force on ``as_of`` and installed by ``known_at``; with
    ``known_at`` None, the earliest installed of those in force on ``as_of``."""
    dated = sa.select(columns).where(col(PolicyVersion.effective_from) <= as_of)
    if known_at is None:
        return dated.order_by(col(PolicyVersion.activated_at)).limit(1)
    newest_first: list[Any] = [
        col(PolicyVersion.effective_from).desc(),
        col(PolicyVersion.activated_at).desc(),
    ]
    return dated.where(col(PolicyVersion.activated_at) <= known_at).order_by(*newest_first).limit(1)


async def _in_force(session: AsyncSession, columns: Any, as_of: date, known_at: datetime) -> Any:
    # Nothing installed by then (an as-of before the first install): the first installed.
    for known in (known_at, None):
        row = (await session.execute(_in_force_query(columns, as_of, known))).scalar_one_or_none()
        if row is not None:
            return row
    raise NotFound(f"no policy version is in force on {as_of.isoformat()}")


async def version_in_force(session: AsyncSession, as_of: date, known_at: datetime) -> PolicyVersion:
    version: PolicyVersion = await _in_force(session, PolicyVersion, as_of, known_at)
    return version


async def policy_in_force(session: AsyncSession, as_of: date, known_at: datetime) -> Policy:
    # The version's name only: its document (tens of kilobytes) is read and parsed once
    # per process, not on every command.
    name: str = await _in_force(session, col(PolicyVersion.version), as_of, known_at)
    policy = _parsed.get(name)
    if policy is None:
        policy = parsed(await stored_version(session, name))
    return policy


async def policy_now(session: AsyncSession, ctx: CommandContext) -> Policy:
    """The installed policy in force when the command runs, looked up once per command.

    Every rule a command applies (a record's default publication end, the disclosure
    export, the sync, the public view, the list triggers) comes from this one answer,
    so no two parts of a command can disagree. The shipped file is only installed.
    """
    policy: Policy | None = ctx.memo.get(_POLICY_NOW)
    if policy is None:
        policy = await policy_in_force(session, ctx.today(), ctx.now())
        ctx.memo[_POLICY_NOW] = policy
    return policy


async def stored_version(session: AsyncSession, version: str) -> PolicyVersion:
    row = await session.get(PolicyVersion, version)
    if row is None:
        raise NotFound(f"no policy version {version}")
    return row


async def policy_version(session: AsyncSession, version: str) -> Policy:
    return parsed(await stored_version(session, version))


async def versions(session: AsyncSession) -> list[PolicyVersion]:
    rows = await session.execute(
        sa.select(PolicyVersion).order_by(
            col(PolicyVersion.effective_from), col(PolicyVersion.activated_at)
        )
    )
    return list(rows.scalars())
