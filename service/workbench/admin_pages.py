"""The admins' pages of the workbench: staff accounts, policy versions (with the what-if
of a draft), the sync with the public-credit platforms, and the audit chain.

Every action calls the domain function the API and the CLI call, in the request's
transaction and as the signed-in admin, so its rules, refusals and audit rows are
theirs; these pages only gather a form and show the answer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from litestar import Request, Response, get, post
from litestar.datastructures import State, UploadFile
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from service.actor import Role
from service.audit.content import outside_writes
from service.audit.verification import last_verification, verify_and_record
from service.auth.admin import change_role_and_region, staff_account, staff_accounts
from service.auth.staff import (
    STAFF_ROLES_WHO_SIGN_IN,
    Enrolment,
    create_staff_user,
    reset_enrolment,
    set_disabled,
    set_second_factor_required,
)
from service.context import CommandContext
from service.eligibility.whatif import Change, Simulation, simulate
from service.errors import Conflict, DomainError, Invalid
from service.integrations.status import retry_dead, sync_status
from service.policy import store as policies
from service.workbench.admin_i18n import refusal_key
from service.workbench.i18n import translated, words
from service.workbench.policy_problems import Problem, problem_at_key, problems_in
from service.workbench.routes import (
    Desk,
    china_time,
    field_errors,
    form_fields,
    with_lang,
    workbench_router,
)

ROLES_TO_CHOOSE = [Role.INSPECTOR, Role.REVIEWER, Role.ADMIN]
CHANGES_SHOWN = 200  # rows of the what-if table; the counts above it cover them all
POLICY_SOURCE = "policy"
NOTICES = {  # ?notice= values a redirect may carry, and the words they show
    "disabled": "admin_notice_disabled",
    "enabled": "admin_notice_enabled",
    "role_changed": "admin_notice_role_changed",
    "second_factor_changed": "admin_notice_second_factor",
    "installed": "admin_notice_installed",
    "retried": "admin_notice_retried",
    "verified": "admin_notice_verified",
}


def _admin_only(desk: Desk) -> None:
    """Every admin page refuses anyone else with 403, reads included."""
    desk.staff.actor.require_role(Role.ADMIN)


def _notice(desk: Desk) -> str | None:
    query = desk.request.query_params
    key = NOTICES.get(query.get("notice") or "")
    if key is None:
        return None
    count = query.get("count") or ""
    return str(words(desk.lang)[key]).format(count=count if count.isdigit() else "")


def _said(message: str, lang: str) -> str:
    """A domain refusal in the page's language where it is known; as given otherwise."""
    key = refusal_key(message)
    return str(words(lang)[key]) if key else translated(message, lang)


def _errors(desk: Desk, error: DomainError) -> dict[str, str]:
    """A domain error's messages by field (the first per field), in the page's language."""
    return field_errors(error, desk.lang, _said)


def _back_to(desk: Desk, path: str, notice: str, count: int | None = None) -> Redirect:
    counted = {"count": count} if count is not None else {}
    return Redirect(with_lang(path, desk.lang, notice=notice, **counted), status_code=303)


# --- overview --------------------------------------------------------------------------


@get("/")
async def admin_home(desk: NamedDependency[Desk]) -> Response[bytes]:
    _admin_only(desk)
    return desk.page("admin/home.html")


# --- users -----------------------------------------------------------------------------


@get("/users")
async def users_page(desk: NamedDependency[Desk]) -> Response[bytes]:
    _admin_only(desk)
    accounts = await staff_accounts(desk.session, desk.ctx)
    return desk.page(
        "admin/users.html", accounts=accounts, notice=_notice(desk), china_time=china_time
    )


def _new_user_form(
    desk: Desk,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> Response[bytes]:
    return desk.page(
        "admin/user_new.html", status=status, errors=errors or {},
        form=form or {"name": "", "login": "", "role": "inspector", "region": "",
                      "second_factor_required": ""},
        role_options=_role_options(desk),
    )  # fmt: skip


def _role_options(desk: Desk) -> list[tuple[str, str]]:
    t = words(desk.lang)
    return [(role.value, str(t[f"role_{role.value}"])) for role in ROLES_TO_CHOOSE]


@get("/users/new")
async def new_user_page(desk: NamedDependency[Desk]) -> Response[bytes]:
    _admin_only(desk)
    return _new_user_form(desk)


def _role(value: str) -> Role:
    try:
        role = Role(value)
    except ValueError:
        raise Invalid.field("role", "choose one of the roles listed") from None
    if role not in STAFF_ROLES_WHO_SIGN_IN:
        raise Invalid.field("role", "choose one of the roles listed")
    return role


def _enrolment_page(
    desk: Desk, state: State, enrolment: Enrolment, *, created: bool
) -> Response[bytes]:
    # The link is built from the configured BASE_URL, as the CLI builds it, never from
    # the request's Host header (which a client chooses).
    return desk.page(
        "admin/enrolment_link.html", account_user=enrolment.user,
        link=enrolment.link(state.settings.base_url), until=china_time(enrolment.expires_at),
        created=created,
    )  # fmt: skip


@post("/users/new", status_code=200)
async def new_user_submit(
    desk: NamedDependency[Desk],
    state: State,
) -> Response[bytes]:
    _admin_only(desk)
    names = ("name", "login", "role", "region", "second_factor_required")
    form = dict.fromkeys(names, "")
    try:
        form = await form_fields(desk.request, *names)
        enrolment = await create_staff_user(
            desk.session, desk.ctx, name=form["name"], role=_role(form["role"]), login=form["login"],
            region_code=form["region"].strip() or None, vault=state.totp_vault,
            second_factor_required=form["second_factor_required"] == "yes",
        )  # fmt: skip
    except Invalid as error:
        return _new_user_form(desk, status=422, errors=_errors(desk, error), form=form)
    return _enrolment_page(desk, state, enrolment, created=True)


async def _user_page(
    desk: Desk, user_id: uuid.UUID, *, status: int = 200, errors: dict[str, str] | None = None
) -> Response[bytes]:
    account = await staff_account(desk.session, desk.ctx, user_id)
    return desk.page(
        "admin/user.html", status=status, account=account,
        errors=errors or {}, role_options=_role_options(desk), notice=_notice(desk),
        china_time=china_time,
    )  # fmt: skip


@get("/users/{user_id:uuid}")
async def user_page(desk: NamedDependency[Desk], user_id: FromPath[uuid.UUID]) -> Response[bytes]:
    _admin_only(desk)
    return await _user_page(desk, user_id)


@post("/users/{user_id:uuid}/role", status_code=303)
async def change_role_submit(
    desk: NamedDependency[Desk], user_id: FromPath[uuid.UUID]
) -> Response[Any]:
    _admin_only(desk)
    try:
        form = await form_fields(desk.request, "role", "region")
        await change_role_and_region(
            desk.session, desk.ctx, user_id=user_id, role=_role(form["role"]),
            region_code=form["region"].strip() or None,
        )  # fmt: skip
    except Invalid as error:
        return await _user_page(desk, user_id, status=422, errors=_errors(desk, error))
    return _back_to(desk, f"/staff/admin/users/{user_id}", "role_changed")


@post("/users/{user_id:uuid}/disable", status_code=303)
async def disable_submit(
    desk: NamedDependency[Desk], user_id: FromPath[uuid.UUID]
) -> Response[Any]:
    _admin_only(desk)
    form = await form_fields(desk.request, "disabled")
    disabled = form["disabled"] != "no"
    try:
        await set_disabled(desk.session, desk.ctx, user_id=user_id, disabled=disabled)
    except Invalid as error:  # their own account: said beside the button
        errors = {"account": _errors(desk, error).popitem()[1]}
        return await _user_page(desk, user_id, status=422, errors=errors)
    notice = "disabled" if disabled else "enabled"
    return _back_to(desk, f"/staff/admin/users/{user_id}", notice)


@post("/users/{user_id:uuid}/second-factor", status_code=303)
async def second_factor_submit(
    desk: NamedDependency[Desk], user_id: FromPath[uuid.UUID]
) -> Response[Any]:
    _admin_only(desk)
    form = await form_fields(desk.request, "required")
    await set_second_factor_required(
        desk.session, desk.ctx, user_id=user_id, required=form["required"] == "yes"
    )
    return _back_to(desk, f"/staff/admin/users/{user_id}", "second_factor_changed")


@post("/users/{user_id:uuid}/reset", status_code=200)
async def reset_submit(
    desk: NamedDependency[Desk],
    state: State,
    user_id: FromPath[uuid.UUID],
) -> Response[bytes]:
    _admin_only(desk)
    enrolment = await reset_enrolment(
        desk.session, desk.ctx, user_id=user_id, vault=state.totp_vault
    )
    return _enrolment_page(desk, state, enrolment, created=False)


# --- policies --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VersionRow:
    version: str
    effective_from: Any
    title: str
    sha256: str
    activated_at: str
    in_force: bool


async def _versions(db_session: AsyncSession, ctx: CommandContext) -> list[VersionRow]:
    in_force = await policies.version_in_force(db_session, ctx.today(), ctx.now())
    return [
        VersionRow(
            v.version,
            v.effective_from,
            v.title,
            v.sha256,
            china_time(v.activated_at),
            v.version == in_force.version,
        )
        for v in reversed(await policies.versions(db_session))
    ]


async def _policies_page(
    desk: Desk,
    *,
    status: int = 200,
    document: str = "",
    problems: Any = (),
    simulation: Simulation | None = None,
    rows: Any = (),
) -> Response[bytes]:
    versions = await _versions(desk.session, desk.ctx)
    return desk.page(
        "admin/policies.html", status=status,
        versions=versions, document=document, problems=list(problems),
        simulation=simulation, rows=list(rows), shown=CHANGES_SHOWN, notice=_notice(desk),
        in_force=next((v.version for v in versions if v.in_force), None),
    )  # fmt: skip


@get("/policies")
async def policies_page(desk: NamedDependency[Desk]) -> Response[bytes]:
    _admin_only(desk)
    # ?from=VERSION: the form starts from that version's document, to be edited.
    start_from = desk.request.query_params.get("from")
    document = (
        (await policies.stored_version(desk.session, start_from)).document if start_from else ""
    )
    return await _policies_page(desk, document=document)


@get("/policies/{version:str}")
async def policy_page(desk: NamedDependency[Desk], version: FromPath[str]) -> Response[bytes]:
    _admin_only(desk)
    stored = await policies.stored_version(desk.session, version)
    in_force = await policies.version_in_force(desk.session, desk.ctx.today(), desk.ctx.now())
    return desk.page(
        "admin/policy.html", stored=stored,
        activated_at=china_time(stored.activated_at), in_force=stored.version == in_force.version,
        lines=list(enumerate(stored.document.splitlines(), start=1)), notice=_notice(desk),
    )  # fmt: skip


async def _posted_policy(request: Request[Any, Any, Any]) -> tuple[str, str]:
    """The action asked for, and the document: an uploaded file if one was chosen, the
    pasted text otherwise."""
    fields = await form_fields(request, "action", "document")
    upload = (await request.form()).get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        try:
            return fields["action"], (await upload.read()).decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid.field("file", "a policy file is UTF-8 TOML text") from None
    # Browsers send a textarea's line ends as CRLF: the stored document keeps the file's.
    return fields["action"], fields["document"].replace("\r\n", "\n")


@dataclass(frozen=True, slots=True)
class ChangeRow:
    change: Change
    name: str
    programs: list[tuple[str, bool | None, bool | None]]  # code, before, after (changed only)


async def _change_rows(db_session: AsyncSession, changes: list[Change]) -> list[ChangeRow]:
    """The first changes of a simulation with their subjects' names, for the table."""
    shown = changes[:CHANGES_SHOWN]
    names: dict[uuid.UUID, str] = {}
    for table, kind in (("institutions", "institution"), ("practitioners", "practitioner")):
        ids = [c.subject_id for c in shown if c.subject_kind == kind]
        if ids:
            result = await db_session.execute(
                sa.text(f"SELECT id, name FROM {table} WHERE id = ANY(:ids)"), {"ids": ids}
            )
            names.update({row.id: row.name for row in result})
    rows = []
    for change in shown:
        codes = sorted(set(change.before.eligible) | set(change.after.eligible))
        programs = [
            (code, change.before.eligible.get(code), change.after.eligible.get(code))
            for code in codes
            if change.before.eligible.get(code) != change.after.eligible.get(code)
        ]
        rows.append(ChangeRow(change, names.get(change.subject_id, ""), programs))
    return rows


def _problems(error: Invalid | Conflict, document: str) -> list[Problem]:
    """The loader's problems each at its line; a version already taken at its key."""
    if isinstance(error, Conflict):
        return [problem_at_key(error.detail, "policy.version", document)]
    if error.errors and error.errors[0].field == "policy":
        return problems_in(error.errors[0].message, document, POLICY_SOURCE)
    return [Problem(error.detail, None, None, [])]


@post("/policies", status_code=200)
async def policy_submit(desk: NamedDependency[Desk]) -> Response[Any]:
    _admin_only(desk)
    action, document = "simulate", ""
    try:
        action, document = await _posted_policy(desk.request)
        if action == "install":
            stored = await policies.install(desk.session, desk.ctx, document, POLICY_SOURCE)
            return _back_to(desk, f"/staff/admin/policies/{stored.version}", "installed")
        draft = policies.checked_document(document, POLICY_SOURCE)
        simulation = await simulate(desk.session, desk.ctx, draft)
    except (Invalid, Conflict) as error:
        return await _policies_page(
            desk, status=422 if isinstance(error, Invalid) else 409,
            document=document, problems=_problems(error, document),
        )  # fmt: skip
    return await _policies_page(
        desk, document=document, simulation=simulation,
        rows=await _change_rows(desk.session, simulation.changes),
    )  # fmt: skip


# --- sync ------------------------------------------------------------------------------


def _age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes = int(seconds // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{int(seconds)} s"


@get("/sync")
async def sync_page(desk: NamedDependency[Desk]) -> Response[bytes]:
    _admin_only(desk)
    platforms = await sync_status(desk.session, desk.ctx.now())
    return desk.page(
        "admin/sync.html", platforms=platforms, age=_age, china_time=china_time,
        notice=_notice(desk),
    )  # fmt: skip


@post("/sync/{platform:str}/retry", status_code=303)
async def retry_dead_submit(desk: NamedDependency[Desk], platform: FromPath[str]) -> Response[Any]:
    _admin_only(desk)
    count = await retry_dead(desk.session, desk.ctx, platform)
    return _back_to(desk, "/staff/admin/sync", "retried", count)


# --- audit chain -----------------------------------------------------------------------


@get("/audit")
async def audit_page(desk: NamedDependency[Desk]) -> Response[bytes]:
    _admin_only(desk)
    last = await last_verification(desk.session, desk.ctx)
    count, writes = await outside_writes(await desk.session.connection())
    return desk.page(
        "admin/audit.html", last=last,
        verified_at=china_time(last.verified_at) if last else "", notice=_notice(desk),
        outside_count=count,
        outside_writes=[
            {"when": china_time(write.occurred_at), "action": write.action,
             "target_type": write.target_type, "target_id": write.target_id,
             "actor_role": write.actor_role}
            for write in writes
        ],
    )  # fmt: skip


@post("/audit/verify", status_code=303)
async def audit_verify_submit(desk: NamedDependency[Desk]) -> Response[Any]:
    _admin_only(desk)
    await verify_and_record(desk.session, desk.ctx, desk.request.app.state.seal_signer)
    return _back_to(desk, "/staff/admin/audit", "verified")


ADMIN_PAGES: list[HTTPRouteHandler] = [
    admin_home,
    users_page,
    new_user_page,
    new_user_submit,
    user_page,
    change_role_submit,
    disable_submit,
    second_factor_submit,
    reset_submit,
    policies_page,
    policy_page,
    policy_submit,
    sync_page,
    retry_dead_submit,
    audit_page,
    audit_verify_submit,
]
ADMIN_ROUTER = workbench_router(ADMIN_PAGES, path="/staff/admin")
