"""The workbench's sign-in on the web side: the session cookie, the actor a page acts as,
and the CSRF check every unsafe request passes (decision 0027).

- ``staff_session``: the session id (its hash is the row's key). HttpOnly, SameSite=Strict,
  Path=/staff, Secure except on localhost, no Max-Age: the server ends sessions (idle 30
  minutes, absolute 12 hours, sign-out), the cookie only names one.
- ``staff_form``: before there is a session (the sign-in and enrolment forms), a random
  token the form repeats (a double-submit cookie), so a login form cannot be posted from
  another site either.
- Every POST (PUT, PATCH, DELETE) under /staff carries ``csrf_token`` (a form field, or
  the ``X-CSRF-Token`` header): the session's synchronizer token, or the form cookie's on
  routes marked ``opt={"csrf": FORM_COOKIE}``. Missing or wrong: 403, before the handler.

A page gets the actor as any API route does (``ctx: CommandContext``, ``actor: Actor``),
and the signed-in person's name, role and CSRF token as ``staff: SignedIn``; without a
valid session it redirects to the sign-in page.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, State
from litestar.di import NamedDependency
from litestar.handlers import BaseRouteHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.actor import Actor
from service.auth.staff import actor_of, csrf_token_of, open_session
from service.clock import Clock

SESSION_COOKIE = "staff_session"
FORM_COOKIE = "staff_form"
COOKIE_PATH = "/staff"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Browsers treat these as secure contexts without TLS: the only hosts where the cookie
# may travel over plain HTTP (make run, the tests).
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


class SignInRequired(Exception):
    """No valid session: the page answers with a redirect to the sign-in page."""


class CsrfRefused(Exception):
    """An unsafe request without the form's token, or with a wrong one."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who is signed in, for a page: the actor domain functions take, and what the page shows."""

    actor: Actor
    name: str
    login: str
    csrf_token: str


def client_address(request: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The peer address (the server put the client there when a trusted proxy sent it)."""
    return request.client.host[:64] if request.client else None


def _secure(request: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return (request.url.hostname or "") not in LOCAL_HOSTS


def session_cookie(request: ASGIConnection[Any, Any, Any, Any], token: str) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE, value=token, path=COOKIE_PATH, httponly=True,
        secure=_secure(request), samesite="strict",
    )  # fmt: skip


def expired_session_cookie(request: ASGIConnection[Any, Any, Any, Any]) -> Cookie:
    """Tells the browser to forget the session cookie (the server has ended the session)."""
    return Cookie(
        key=SESSION_COOKIE, value="", path=COOKIE_PATH, httponly=True, max_age=0,
        expires=0, secure=_secure(request), samesite="strict",
    )  # fmt: skip


def form_token(request: Request[Any, Any, Any]) -> tuple[str, Cookie | None]:
    """The pre-session form token: the browser's, or a new one with the cookie that sets it."""
    current = request.cookies.get(FORM_COOKIE)
    if current and len(current) <= 64:
        return current, None
    token = secrets.token_urlsafe(32)
    cookie = Cookie(
        key=FORM_COOKIE, value=token, path=COOKIE_PATH, httponly=True,
        secure=_secure(request), samesite="strict",
    )  # fmt: skip
    return token, cookie


async def provide_signed_in(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], state: State
) -> SignedIn:
    token = request.cookies.get(SESSION_COOKIE)
    clock: Clock = state.clock
    found = await open_session(db_session, token, clock()) if token else None
    if found is None:
        # Keep the end of a session found expired (the redirect would roll it back).
        await db_session.commit()
        raise SignInRequired
    staff_session, user = found
    assert user.login is not None
    return SignedIn(actor_of(user), user.name, user.login, staff_session.csrf_token)


async def provide_session_actor(staff: NamedDependency[SignedIn]) -> Actor:
    """The workbench's ``actor``: the signed-in person, so ``ctx`` (and every domain
    function it reaches) acts as them, exactly as a bearer token's actor would."""
    return staff.actor


async def _sent_csrf_token(request: Request[Any, Any, Any]) -> str | None:
    if (header := request.headers.get(CSRF_HEADER)) is not None:
        return header
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    return sent if isinstance(sent, str) else None


async def check_csrf(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """A guard on every workbench route: an unsafe request must repeat its form's token."""
    if connection.scope.get("method", "GET") in SAFE_METHODS:
        return
    request: Request[Any, Any, Any] = Request(connection.scope, connection.receive)
    sent = await _sent_csrf_token(request)
    if handler.opt.get("csrf") == FORM_COOKIE:
        expected = request.cookies.get(FORM_COOKIE)
    else:
        expected = None
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            clock: Clock = connection.app.state.clock
            async with connection.app.state.session_factory() as session:
                expected = await csrf_token_of(session, token, clock())
    if not sent or not expected or not secrets.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused


def sign_in_path(lang: str, *, next_path: str | None = None, notice: str | None = None) -> str:
    """/staff/sign-in with the page's language, where to go after, and a notice to show."""
    query = f"?lang={lang}"
    if next_path:
        query += "&next=" + quote(next_path, safe="/")
    if notice:
        query += f"&notice={notice}"
    return "/staff/sign-in" + query


def safe_next(next_path: str | None) -> str:
    """Where to go after signing in: a workbench path only (never another site)."""
    if next_path is None or any(character in next_path for character in "\\\r\n"):
        return "/staff/"
    if next_path.startswith("/staff/") and not next_path.startswith("/staff//"):
        return next_path
    return "/staff/"
