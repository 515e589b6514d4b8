"""Demo staff for `make run`: one member of staff per role (two reviewers, so four eyes
can be shown), enrolled already, with passwords and second factors printed once.

Development only: the command refuses it when ENVIRONMENT is production.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.actor import Role
from service.audit import chain as audit
from service.auth.models import User
from service.auth.passwords import hash_password, password_problems
from service.auth.totp import TotpVault, new_totp_secret
from service.context import CommandContext

DEMO_REGION = "33"  # the demo province (service.demo.province)
DEMO_LOGIN_PREFIX = "demo-"


@dataclass(frozen=True, slots=True)
class DemoMember:
    login: str
    name: str
    role: Role
    second_factor: bool


DEMO_STAFF = (
    DemoMember("demo-inspector", "演示检查员 王建国", Role.INSPECTOR, second_factor=False),
    DemoMember("demo-reviewer", "演示审核员 赵审核", Role.REVIEWER, second_factor=True),
    DemoMember("demo-reviewer2", "演示审核员 钱复核", Role.REVIEWER, second_factor=True),
    DemoMember("demo-admin", "演示管理员", Role.ADMIN, second_factor=True),
)


@dataclass(frozen=True, slots=True)
class DemoCredentials:
    member: DemoMember
    password: str
    totp_secret: str | None


def _demo_password() -> str:
    while True:  # a random one is never common, but the rules are the rules
        password = secrets.token_urlsafe(12)
        if not password_problems(password, None):
            return password


async def seed_demo_staff(
    session: AsyncSession, ctx: CommandContext, vault: TotpVault
) -> list[DemoCredentials]:
    """Create the demo staff unless they exist; their credentials, only when just created."""
    existing = await session.scalar(
        sa.select(sa.func.count()).where(col(User.login).startswith(DEMO_LOGIN_PREFIX))
    )
    if existing:
        return []
    created = []
    for member in DEMO_STAFF:
        password = _demo_password()
        secret = new_totp_secret() if member.second_factor else None
        user = User(
            name=member.name,
            role=member.role.value,
            region_code=None if member.role == Role.ADMIN else DEMO_REGION,
            login=member.login,
            password_hash=await hash_password(password),
            totp_secret_ciphertext=vault.encrypt(secret) if secret else None,
            enrolled_at=ctx.now(),
        )
        await audit.record_creation(
            session, ctx, user, action="user.create", target_type="user", target_id=user.id
        )
        created.append(DemoCredentials(member, password, secret))
    return created
