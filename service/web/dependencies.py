"""Per-request dependencies: one database transaction, the actor, the command context,
the page a list asks for, the reads a standby may answer.

The session commits after the handler has built its response and before a byte of
it is sent, so a client never hears "created" for a row that did not commit.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from service.actor import ANONYMOUS, Actor
from service.auth.service import authenticate
from service.context import CommandContext
from service.db.replica import Reads
from service.errors import Unauthorized
from service.identity.protection import IdNumberVault
from service.secret import Secret
from service.web.pagination import provide_paging
from service.web.request_id import current_request_id


async def provide_db_session(state: State) -> AsyncGenerator[AsyncSession, None]:
    async with state.session_factory() as session:
        try:
            yield session
        except Exception:
            await session.rollback()
            raise
        else:
            await session.commit()


async def provide_actor(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
) -> Actor:
    return await _actor(request, db_session)


async def provide_actor_alone(request: Request[Any, Any, Any], state: State) -> Actor:
    """The actor, from the primary in a transaction that ends at once, for a route that
    reads elsewhere (``reads``): it holds no primary connection while it works, and a
    token revoked a moment ago is refused, which a standby might not know yet."""
    async with state.session_factory() as session:
        return await _actor(request, session)


async def provide_reads(state: State) -> Reads:
    reads: Reads = state.reads
    return reads


async def _actor(request: Request[Any, Any, Any], db_session: AsyncSession) -> Actor:
    header = request.headers.get("authorization")
    if header is None:
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    actor = await authenticate(db_session, Secret(token.strip()))
    if actor is None:
        raise Unauthorized("the bearer token is not valid")
    return actor


async def provide_ctx(actor: NamedDependency[Actor], state: State) -> CommandContext:
    return CommandContext(
        actor=actor, request_id=current_request_id(), clock=state.clock, pipeline=state.pipeline
    )


async def provide_vault(state: State) -> IdNumberVault:
    vault: IdNumberVault = state.vault
    return vault


DEPENDENCIES = {
    "db_session": Provide(provide_db_session),
    "actor": Provide(provide_actor),
    "ctx": Provide(provide_ctx),
    "vault": Provide(provide_vault),
    "paging": Provide(provide_paging),
    "reads": Provide(provide_reads),
}
# For a route that reads through ``reads``: its actor comes without a request-long session.
ACTOR_ALONE = {"actor": Provide(provide_actor_alone)}
