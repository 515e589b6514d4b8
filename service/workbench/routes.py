"""The workbench's pages: sign-in (password, then a code where one is due), enrolment,
sign-out, and each role's home page. Other workbench pages join ``WORKBENCH_PAGES`` (or a
router of their own with the same guards, dependencies and handlers: ``workbench_router``).

A refused sign-in is answered, not raised: the attempt and its audit rows commit with
the answer, so failures count towards the lockout and stay on record.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape
from litestar import Request, Response, Router, get, post
from litestar.datastructures import CacheControlHeader, Cookie, ResponseHeader, State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from service.actor import ANONYMOUS, Role
from service.auth.staff import (
    EnrolmentLinkExpired,
    LockedOut,
    SignInRefused,
    complete_enrolment,
    enrolling_secret,
    open_session,
    second_factor_required,
    sign_in_with_code,
    sign_in_with_password,
    sign_out,
    user_enrolling,
)
from service.auth.totp import TotpVault, grouped, provisioning_uri
from service.clock import CHINA_TZ
from service.context import CommandContext
from service.errors import DomainError, Invalid, NotFound
from service.public.pages import HTML
from service.web.guards import NUL, NUL_MESSAGE
from service.web.problems import DOMAIN_STATUS
from service.web.request_id import current_request_id
from service.workbench.i18n import choose_language, translated, words
from service.workbench.session import (
    FORM_COOKIE,
    SESSION_COOKIE,
    CsrfRefused,
    SignedIn,
    SignInRequired,
    check_csrf,
    client_address,
    expired_session_cookie,
    form_token,
    provide_session_actor,
    provide_signed_in,
    safe_next,
    session_cookie,
    sign_in_path,
)


@cache
def _templates() -> Environment:
    # The workbench's templates first, then the public ones: base.html is shared.
    return Environment(
        loader=ChoiceLoader(
            [
                PackageLoader("service.workbench", "templates"),
                PackageLoader("service.public", "templates"),
            ]
        ),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def language(request: Request[Any, Any, Any]) -> str:
    return choose_language(request.query_params.get("lang"), request.headers.get("accept-language"))


def page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status: int = 200,
    staff: SignedIn | None = None,
    cookies: Iterable[Cookie | None] = (),
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response[bytes]:
    """A workbench page in the request's language, with the shared layout's context."""
    lang = language(request)
    params = dict(request.query_params) | {"lang": "en" if lang == "zh" else "zh"}
    body = (
        _templates()
        .get_template(template)
        .render(
            lang=lang,
            t=words(lang),
            other_language_url=request.url.path + "?" + urlencode(params),
            staff=staff,
            **context,
        )
    )
    return Response(
        body.encode(),
        status_code=status,
        media_type=HTML,
        cookies=[cookie for cookie in cookies if cookie is not None],
        headers=headers or {},
    )


def message_page(
    request: Request[Any, Any, Any],
    status: int,
    title: str,
    message: str,
    *,
    back: tuple[str, str] | None = None,
    **extra: Any,
) -> Response[bytes]:
    """A message with a way back: ``back`` (its link and label), else the sign-in page."""
    lang = language(request)
    back_href, back_label = back or (sign_in_path(lang), words(lang)["sign_in"])
    return page(
        request, "message.html", status=status, title=title, message=message,
        back_href=back_href, back_label=back_label, **extra,
    )  # fmt: skip


async def read_form(
    request: Request[Any, Any, Any], names: Iterable[str], *, multiple: Iterable[str] = ()
) -> tuple[dict[str, Any], dict[str, str]]:
    """The named fields of a posted form as text ("" when absent; for a ``multiple`` field,
    the list of its non-empty values), and an error for any holding a NUL (PostgreSQL text
    cannot): the value is kept without it, to show the form again."""
    form = await request.form()
    lists = frozenset(multiple)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in names:
        raw = form.getall(name, []) if name in lists else [form.get(name)]
        texts = [item if isinstance(item, str) else "" for item in raw]
        if any(NUL in text for text in texts):
            errors[name] = NUL_MESSAGE
            texts = [text.replace(NUL, "") for text in texts]
        values[name] = [text for text in texts if text] if name in lists else texts[0]
    return values, errors


async def form_fields(request: Request[Any, Any, Any], *names: str) -> dict[str, str]:
    """The named fields of a posted form as text, as ``read_form`` reads them; a NUL is
    refused here (``Invalid``), naming the first field holding one."""
    values, errors = await read_form(request, names)
    for name, message in errors.items():
        raise Invalid.field(name, message)
    return values


def field_errors(
    error: DomainError, lang: str, say: Callable[[str, str], str] = translated
) -> dict[str, str]:
    """A domain error's messages by field (the first per field), or its detail at ``form``,
    in the page's language as an area says them (``say(message, lang)``)."""
    errors: dict[str, str] = {}
    for item in error.errors:
        errors.setdefault(item.field, say(item.message, lang))
    return errors or {"form": say(error.detail, lang)}


@dataclass(frozen=True, slots=True)
class Desk:
    """A workbench page's standard parameters: the request, its transaction, the context
    acting as the signed-in person, and that person (the ``desk`` of ``workbench_router``)."""

    request: Request[Any, Any, Any]
    session: AsyncSession
    ctx: CommandContext
    staff: SignedIn

    @property
    def lang(self) -> str:
        return language(self.request)

    def page(self, template: str, *, status: int = 200, **context: Any) -> Response[bytes]:
        """A page for the signed-in person (``page`` with ``staff``)."""
        return page(self.request, template, status=status, staff=self.staff, **context)


async def provide_desk(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    ctx: NamedDependency[CommandContext],
    staff: NamedDependency[SignedIn],
) -> Desk:
    return Desk(request, db_session, ctx, staff)


def anonymous_ctx(state: State) -> CommandContext:
    """The context of someone not signed in yet (their sign-in, their enrolment)."""
    return CommandContext(
        actor=ANONYMOUS, request_id=current_request_id(), clock=state.clock, pipeline=state.pipeline
    )


def china_time(moment: Any) -> str:
    """A moment as China's clocks show it (2026-03-10 14:05); "" for none."""
    return str(moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")) if moment else ""


def with_lang(path: str, lang: str, **query: str | int) -> str:
    """A workbench path in the page's language, with more of a query after it."""
    return f"{path}?{urlencode({'lang': lang, **query})}"


def locked_page(
    request: Request[Any, Any, Any], error: LockedOut, now: Any, template: str, **context: Any
) -> Response[bytes]:
    lang = language(request)
    notice = words(lang)["locked"].format(until=china_time(error.until))
    retry_after = max(1, math.ceil((error.until - now).total_seconds()))
    return page(
        request, template, status=429, headers={"Retry-After": str(retry_after)},
        errors={}, notice=notice, **context,
    )  # fmt: skip


# --- sign-in ---------------------------------------------------------------------------

NOTICES = {
    "enrolled": "enrolled_notice",
    "signed_out": "signed_out_notice",
    "expired": "expired_notice",
}


@get("/sign-in", opt={"csrf": FORM_COOKIE})
async def sign_in_page(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], state: State
) -> Response[Any]:
    lang = language(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token and await open_session(db_session, token, state.clock()) is not None:
        return Redirect(safe_next(request.query_params.get("next")), status_code=303)
    csrf_token, cookie = form_token(request)
    notice_key = NOTICES.get(request.query_params.get("notice") or "")
    return page(
        request, "sign_in.html", cookies=[cookie], csrf_token=csrf_token, errors={}, login="",
        next_path=safe_next(request.query_params.get("next")),
        notice=words(lang)[notice_key] if notice_key else None,
    )  # fmt: skip


@post("/sign-in", opt={"csrf": FORM_COOKIE}, status_code=303)
async def sign_in_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], state: State
) -> Response[Any]:
    lang = language(request)
    form: dict[str, Any] = {
        "csrf_token": request.cookies.get(FORM_COOKIE, ""), "login": "", "next_path": "/staff/",
    }  # fmt: skip
    ctx = anonymous_ctx(state)
    try:
        fields = await form_fields(request, "login", "password", "next")
        form |= {"login": fields["login"][:64], "next_path": safe_next(fields["next"])}
        opened = await sign_in_with_password(
            db_session, ctx, login=fields["login"], password=fields["password"],
            address=client_address(request),
        )  # fmt: skip
    except LockedOut as error:
        return locked_page(request, error, ctx.now(), "sign_in.html", **form)
    except (SignInRefused, Invalid) as error:
        status = 401 if isinstance(error, SignInRefused) else 422
        return page(
            request, "sign_in.html", status=status, errors=field_errors(error, lang),
            notice=None, **form,
        )  # fmt: skip
    cookie = session_cookie(request, opened.token)
    if opened.second_factor_pending:
        query = urlencode({"lang": lang, "next": form["next_path"]})
        return Redirect(f"/staff/sign-in/code?{query}", status_code=303, cookies=[cookie])
    return Redirect(form["next_path"], status_code=303, cookies=[cookie])


@get("/sign-in/code")
async def code_page(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], state: State
) -> Response[Any]:
    lang = language(request)
    token = request.cookies.get(SESSION_COOKIE)
    found = await open_session(db_session, token, state.clock(), pending=True) if token else None
    if found is None:
        return Redirect(sign_in_path(lang, notice="expired"), status_code=303)
    staff_session, _ = found
    return page(
        request, "code.html", csrf_token=staff_session.csrf_token, errors={},
        next_path=safe_next(request.query_params.get("next")),
    )  # fmt: skip


@post("/sign-in/code", status_code=303)
async def code_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], state: State
) -> Response[Any]:
    lang = language(request)
    fields = {"code": "", "next": "", "csrf_token": ""}
    ctx = anonymous_ctx(state)
    try:
        fields = await form_fields(request, "code", "next", "csrf_token")
        opened = await sign_in_with_code(
            db_session, ctx, pending_token=request.cookies.get(SESSION_COOKIE, ""),
            code=fields["code"], address=client_address(request), vault=state.totp_vault,
        )  # fmt: skip
    except LockedOut as error:
        csrf_token, form_cookie = form_token(request)
        return locked_page(
            request, error, ctx.now(), "sign_in.html", csrf_token=csrf_token, login="",
            next_path=safe_next(fields["next"]),
            cookies=[expired_session_cookie(request), form_cookie],
        )  # fmt: skip
    except (SignInRefused, Invalid) as error:
        if isinstance(error, SignInRefused) and error.field != "code":
            return Redirect(sign_in_path(lang, notice="expired"), status_code=303)
        status = 401 if isinstance(error, SignInRefused) else 422
        return page(
            request, "code.html", status=status, errors=field_errors(error, lang),
            csrf_token=fields["csrf_token"], next_path=safe_next(fields["next"]),
        )  # fmt: skip
    return Redirect(
        safe_next(fields["next"]), status_code=303, cookies=[session_cookie(request, opened.token)]
    )


@post("/sign-out", status_code=303)
async def sign_out_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], state: State
) -> Response[Any]:
    lang = language(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await sign_out(db_session, anonymous_ctx(state), token)
    return Redirect(
        sign_in_path(lang, notice="signed_out"),
        status_code=303,
        cookies=[expired_session_cookie(request)],
    )


# --- enrolment -------------------------------------------------------------------------


async def _enrol_page(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    state: State,
    token: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response[bytes]:
    user = await user_enrolling(db_session, token, state.clock())
    assert user.login is not None
    assert user.enrolment_expires_at is not None
    vault: TotpVault = state.totp_vault
    secret = enrolling_secret(user, vault)
    csrf_token, cookie = form_token(request)
    return page(
        request, "enrol.html", status=status, cookies=[cookie], csrf_token=csrf_token,
        errors=errors or {}, token=token, name=user.name, login=user.login, role=user.role,
        until=china_time(user.enrolment_expires_at), secret=grouped(secret),
        uri=provisioning_uri(secret, user.login),
        second_factor_required=second_factor_required(user),
    )  # fmt: skip


def _link_refused(request: Request[Any, Any, Any], error: DomainError) -> Response[bytes]:
    t = words(language(request))
    if isinstance(error, EnrolmentLinkExpired):
        return message_page(request, 410, t["link_expired_title"], error.detail)
    return message_page(request, 404, t["link_invalid_title"], error.detail)


@get("/enrol/{token:str}", opt={"csrf": FORM_COOKIE})
async def enrol_page(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    state: State,
    token: FromPath[str],
) -> Response[Any]:
    try:
        return await _enrol_page(request, db_session, state, token)
    except (NotFound, EnrolmentLinkExpired) as error:
        return _link_refused(request, error)


@post("/enrol/{token:str}", opt={"csrf": FORM_COOKIE}, status_code=303)
async def enrol_submit(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    state: State,
    token: FromPath[str],
) -> Response[Any]:
    lang = language(request)
    try:
        fields = await form_fields(request, "password", "password_again", "code")
        await complete_enrolment(
            db_session, anonymous_ctx(state), token=token, password=fields["password"],
            password_again=fields["password_again"], code=fields["code"], vault=state.totp_vault,
        )  # fmt: skip
    except (NotFound, EnrolmentLinkExpired) as error:
        return _link_refused(request, error)
    except Invalid as error:
        return await _enrol_page(
            request, db_session, state, token, status=422, errors=field_errors(error, lang)
        )
    return Redirect(sign_in_path(lang, notice="enrolled"), status_code=303)


# --- home ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Task:
    href: str
    title: str  # message keys
    note: str


SUBJECTS = Task("/staff/subjects", "task_subjects", "task_subjects_note")
RECORD = Task("/staff/subjects", "task_record", "task_record_note")
QUEUE = Task("/staff/queue", "task_queue", "task_queue_note")
ADMIN = Task("/staff/admin", "task_admin", "task_admin_note")
TASKS_BY_ROLE: dict[str, Sequence[Task]] = {
    Role.INSPECTOR: (SUBJECTS, RECORD),
    Role.REVIEWER: (QUEUE, SUBJECTS),
    Role.ADMIN: (ADMIN, QUEUE, SUBJECTS, RECORD),
}


@get("/")
async def home_page(
    request: Request[Any, Any, Any], staff: NamedDependency[SignedIn]
) -> Response[bytes]:
    return page(request, "home.html", staff=staff, tasks=TASKS_BY_ROLE.get(staff.actor.role, ()))


# --- answers for what a page raises ----------------------------------------------------


def redirect_to_sign_in(request: Request[Any, Any, Any], _: SignInRequired) -> Response[Any]:
    """No valid session: to the sign-in page, and back here after (GET pages only)."""
    lang = language(request)
    back = request.url.path if request.method == "GET" else None
    if back and request.url.query:
        back += "?" + request.url.query
    # The cookie stays: it may name a sign-in waiting for its code, which goes on.
    return Redirect(sign_in_path(lang, next_path=back, notice="expired"), status_code=303)


def csrf_refused_page(request: Request[Any, Any, Any], _: CsrfRefused) -> Response[bytes]:
    t = words(language(request))
    return message_page(request, 403, t["forbidden_title"], t["csrf_refused"])


def domain_status(error: DomainError) -> int:
    """The HTTP status the API answers a domain refusal with."""
    return next((code for kind, code in DOMAIN_STATUS.items() if isinstance(error, kind)), 400)


def domain_error_page(request: Request[Any, Any, Any], error: DomainError) -> Response[bytes]:
    """A domain refusal a page did not answer itself, as an HTML page with its status."""
    t = words(language(request))
    return message_page(
        request, domain_status(error), t["error_title"], translated(error.detail, language(request))
    )


def http_error_page(request: Request[Any, Any, Any], error: HTTPException) -> Response[bytes]:
    t = words(language(request))
    return message_page(request, error.status_code, t["error_title"], str(error.detail))


WORKBENCH_PAGES: list[HTTPRouteHandler] = [
    sign_in_page,
    sign_in_submit,
    code_page,
    code_submit,
    sign_out_submit,
    enrol_page,
    enrol_submit,
    home_page,
]


def workbench_router(
    route_handlers: Sequence[ControllerRouterHandler], path: str = "/staff"
) -> Router:
    """A router of workbench pages: the CSRF guard on every unsafe request, the session's
    actor as ``actor`` (so ``ctx`` acts as the person), a page's standard parameters as
    ``desk``, HTML answers for what pages raise,
    and nothing cached (pages carry CSRF tokens and personal data)."""
    return Router(
        path=path,
        route_handlers=list(route_handlers),
        guards=[check_csrf],
        dependencies={
            "staff": Provide(provide_signed_in),
            "actor": Provide(provide_session_actor),
            "desk": Provide(provide_desk),
        },
        exception_handlers={
            SignInRequired: redirect_to_sign_in,
            CsrfRefused: csrf_refused_page,
            DomainError: domain_error_page,
            HTTPException: http_error_page,
        },
        response_headers=[ResponseHeader(name="Cache-Control", value="no-store")],
        include_in_schema=False,
    )


WORKBENCH_ROUTER = workbench_router(WORKBENCH_PAGES)
WORKBENCH_ASSETS = create_static_files_router(
    path="/static/workbench",
    directories=[Path(__file__).parent / "static"],
    cache_control=CacheControlHeader(public=True, max_age=3600),
    name="workbench_assets",
    include_in_schema=False,
)
