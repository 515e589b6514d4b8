"""Creating users and resolving bearer tokens.

Tokens are 256 random bits, so an unkeyed SHA-256 is enough to store them: a leaked
table yields no usable token, and rotating the service secret does not log anyone out.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.actor import REGIONAL_ROLES, Actor, Role
from service.audit import chain as audit
from service.auth.models import User
from service.context import CommandContext
from service.errors import Invalid
from service.identity.codes import IdentifierError, normalize_region_prefix
from service.secret import Secret

TOKEN_PREFIX = "cs_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def checked_user_fields(name: str, role: Role, region_code: str | None) -> tuple[str, str | None]:
    """A user's name (trimmed) and region prefix (normalised), or Invalid naming the field."""
    if not name.strip():
        raise Invalid.field("name", "must not be empty")
    if role in REGIONAL_ROLES and region_code is None:
        raise Invalid.field("region", f"role {role.value} needs a region code")
    if region_code is not None:
        try:
            region_code = normalize_region_prefix(region_code)
        except IdentifierError as error:
            raise Invalid.field("region", str(error)) from error
    return name.strip(), region_code


async def create_user(
    session: AsyncSession,
    ctx: CommandContext,
    *,
    name: str,
    role: Role,
    region_code: str | None = None,
) -> tuple[User, str]:
    """Create a user and return it with its token, the only time the token exists in clear."""
    ctx.actor.require_role(Role.ADMIN)
    name, region_code = checked_user_fields(name, role, region_code)
    token = new_token()
    user = User(name=name, role=role.value, region_code=region_code, token_hash=hash_token(token))
    await audit.record_creation(
        session, ctx, user, action="user.create", target_type="user", target_id=user.id
    )
    return user, token


async def authenticate(session: AsyncSession, token: Secret) -> Actor | None:
    result = await session.execute(
        select(col(User.id), col(User.role), col(User.region_code)).where(
            col(User.token_hash) == hash_token(token.reveal()), col(User.active).is_(True)
        )
    )
    row = result.first()
    if row is None:
        return None
    user_id, role, region_code = row
    return Actor(user_id=user_id, role=role, region_code=region_code)
