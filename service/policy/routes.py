"""HTTP routes of the policy: the installed versions, reading one, installing a new one."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.actor import Role
from service.context import CommandContext
from service.errors import Invalid
from service.policy import store as policies
from service.policy.schemas import PolicyVersionOut
from service.web.openapi import raw_body
from service.web.params import SECURITY

TOML_MEDIA_TYPE = "application/toml"
TAGS = ["policies"]


async def admins_policy_text(request: Request[Any, Any, Any], ctx: CommandContext) -> str:
    """The policy document a request sends as its raw body; only admins send one."""
    ctx.actor.require_role(Role.ADMIN)
    try:
        return (await request.body()).decode("utf-8")
    except UnicodeDecodeError as error:
        raise Invalid.field("body", "a policy file is UTF-8 TOML text") from error


def policy_upload(path: str, what: str, *, status_code: int) -> HTTPRouteHandler:
    """A POST whose body is a policy document, shown as such in the OpenAPI document."""
    body = raw_body(what, TOML_MEDIA_TYPE, "text/plain")
    return post(path, status_code=status_code, tags=TAGS, security=SECURITY, opt=body)


@get("/api/v1/policies", tags=TAGS, security=SECURITY)
async def list_policies(
    db_session: NamedDependency[AsyncSession], ctx: NamedDependency[CommandContext]
) -> list[PolicyVersionOut]:
    """Every installed policy version; ``in_force`` marks the one in force now."""
    ctx.actor.require_role(*Role)
    in_force = await policies.version_in_force(db_session, ctx.today(), ctx.now())
    return [
        PolicyVersionOut(
            v.version,
            v.effective_from,
            v.title,
            v.sha256,
            v.activated_at,
            v.version == in_force.version,
        )
        for v in await policies.versions(db_session)
    ]


@get(
    "/api/v1/policies/{version:str}",
    tags=TAGS,
    security=SECURITY,
    media_type="application/toml",
)
async def read_policy(
    version: FromPath[str],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
) -> str:
    """The policy document exactly as installed (TOML)."""
    ctx.actor.require_role(*Role)
    return (await policies.stored_version(db_session, version)).document


@policy_upload("/api/v1/policies", "the policy, a TOML document", status_code=201)
async def install_policy(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
) -> PolicyVersionOut:
    """Install a new policy version (the raw TOML document as the body); admins only."""
    stored = await policies.install(db_session, ctx, await admins_policy_text(request, ctx))
    in_force = await policies.version_in_force(db_session, ctx.today(), ctx.now())
    return PolicyVersionOut(
        stored.version,
        stored.effective_from,
        stored.title,
        stored.sha256,
        stored.activated_at,
        stored.version == in_force.version,
    )


ROUTES: list[ControllerRouterHandler] = [list_policies, read_policy, install_policy]
