"""What admins do to staff accounts besides what ``staff`` does (create, reset, disable):
see them all, and change a person's role and region.

Commands in the caller's transaction, each with its audit row, refused to anyone but an
admin, exactly as the CLI and the workbench call them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.actor import Role
from service.audit import chain as audit
from service.auth.models import User
from service.auth.service import checked_user_fields
from service.auth.staff import (
    STAFF_ROLES_WHO_SIGN_IN,
    end_sessions_of,
    has_second_factor,
    second_factor_required,
)
from service.context import CommandContext
from service.errors import Invalid, NotFound


@dataclass(frozen=True, slots=True)
class StaffAccount:
    """A user as an admin sees one: who, what they may do, and where their sign-in stands."""

    user: User
    enrolment: str  # "enrolled", "link_open", "link_expired", "machine" (a bearer token)
    second_factor: bool
    second_factor_missing: bool  # required by their role or flag, but not enrolled

    @property
    def id(self) -> uuid.UUID:
        return self.user.id


def account_of(user: User, now: datetime) -> StaffAccount:
    if user.login is None:
        enrolment = "machine"
    elif user.enrolled_at is not None:
        enrolment = "enrolled"
    elif user.enrolment_expires_at is not None and now < user.enrolment_expires_at:
        enrolment = "link_open"
    else:
        enrolment = "link_expired"
    second_factor = has_second_factor(user)
    missing = (
        user.login is not None
        and user.enrolled_at is not None
        and second_factor_required(user)
        and not second_factor
    )
    return StaffAccount(user, enrolment, second_factor, missing)


async def staff_accounts(session: AsyncSession, ctx: CommandContext) -> list[StaffAccount]:
    """Every user, people first (by role, then name), machine clients after."""
    ctx.actor.require_role(Role.ADMIN)
    users = await session.scalars(
        sa.select(User).order_by(
            col(User.login).is_(None), col(User.role), col(User.name), col(User.created_at)
        )
    )
    now = ctx.now()
    return [account_of(user, now) for user in users]


async def staff_account(
    session: AsyncSession, ctx: CommandContext, user_id: uuid.UUID
) -> StaffAccount:
    ctx.actor.require_role(Role.ADMIN)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    return account_of(user, ctx.now())


async def change_role_and_region(
    session: AsyncSession,
    ctx: CommandContext,
    *,
    user_id: uuid.UUID,
    role: Role,
    region_code: str | None,
) -> User:
    """Give a member of staff another role or region; it applies from their next page
    (a session's actor is read from the user at every request).

    An admin cannot change their own role: the last admin demoting themselves would leave
    nobody to undo it. A person moved to a role that needs a second factor signs in
    again: their open sessions end, since they may have been opened with a password
    alone. One who lacks a second factor is refused until an admin resets their
    enrolment (the page says so).
    """
    ctx.actor.require_role(Role.ADMIN)
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    if user.login is not None and role not in STAFF_ROLES_WHO_SIGN_IN:
        raise Invalid.field("role", f"role {role.value} uses a bearer token and cannot sign in")
    if user.id == ctx.actor.user_id and role != Role(user.role):
        raise Invalid.field("role", "an administrator cannot change their own role")
    _, region_code = checked_user_fields(user.name, role, region_code)
    before = {"role": user.role, "region_code": user.region_code}
    after = {"role": role.value, "region_code": region_code}
    if before == after:
        return user
    needed_before = second_factor_required(user)
    user.role, user.region_code = role.value, region_code
    session.add(user)
    if second_factor_required(user) and not needed_before:
        await end_sessions_of(session, user.id, ctx.now(), "second_factor")
    await audit.record(
        session, ctx, action="user.role_change", target_type="user", target_id=user.id,
        before=before, after=after,
    )  # fmt: skip
    return user
