"""The admins' workbench pages over HTTP on the live server: only admins get in, a new
user's enrolment link works, accounts change role and region, are disabled and reset,
a policy's problems are shown at their line or key, dead letters are re-sent after a
correction, and the audit chain is verified on request, each action audited.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from audit_log import COMMAND_ROWS, seal_now
from conftest import MovableClock, libpq_dsn
from processes import cli_output
from simulated import PLATFORM, platform_of, registered, stage_blacklist
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from staff_accounts import csrf_token, enrol, new_staff, sign_in

from service.config import Settings
from service.policy.load import DEFAULT_POLICY_FILE, shipped_version
from service.secret import Secret

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
ENROLMENT_LINK = re.compile(r'id="enrolment-link" href="([^"]+)"')
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def secret_key(test_settings: Settings) -> Secret:
    assert test_settings.secret_key is not None
    return test_settings.secret_key


async def signed_in(
    client: httpx.AsyncClient, sessions: Sessions, secret_key: Secret, clock: MovableClock, *,
    login: str, role: str,
) -> None:  # fmt: skip
    """The client then holds the session of a new member of staff (admins with their code)."""
    token = await new_staff(sessions, secret_key, login=login, role=role, clock=clock)
    secret = await enrol(client, token, with_second_factor=role != "inspector", now=clock())
    clock.set(clock() + timedelta(seconds=30))  # the enrolment's code is spent
    await sign_in(client, login, secret=secret, now=clock())


@pytest.fixture
async def admin_client(
    live_server: str, clean_db: None, clock: MovableClock, session_factory: Sessions,
    secret_key: Secret,
) -> AsyncIterator[httpx.AsyncClient]:  # fmt: skip
    clock.set(T0)
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        await signed_in(client, session_factory, secret_key, clock, login="admin.li", role="admin")
        yield client


async def audit_actions(sessions: Sessions, *, every: bool = False) -> list[str]:
    """The commands' own rows (not the content triggers'), or with ``every`` all of them."""
    await seal_now(sessions)
    where = "true" if every else COMMAND_ROWS
    async with sessions() as session:
        return list(
            await session.scalars(
                sa.text(f"SELECT action FROM audit_log WHERE {where} ORDER BY id")
            )
        )


async def post_form(
    client: httpx.AsyncClient, page_path: str, action: str, data: dict[str, str]
) -> httpx.Response:
    """Post a form as the browser would: with the CSRF token of the page it is on."""
    page = await client.get(page_path)
    assert page.status_code == 200, page.text
    return await client.post(action, data={"csrf_token": csrf_token(page.text), **data})


ADMIN_PAGES = [
    "/staff/admin",
    "/staff/admin/users",
    "/staff/admin/users/new",
    "/staff/admin/policies",
    f"/staff/admin/policies/{shipped_version()}",
    "/staff/admin/sync",
    "/staff/admin/audit",
]


async def test_only_an_admin_gets_the_admin_pages(
    admin_client: httpx.AsyncClient,
    live_server: str,
    clock: MovableClock,
    session_factory: Sessions,
    secret_key: Secret,
) -> None:
    for path in ADMIN_PAGES:
        for lang in ("zh", "en"):
            answer = await admin_client.get(path, params={"lang": lang})
            assert answer.status_code == 200, (path, answer.text)
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as inspector:
        await signed_in(
            inspector, session_factory, secret_key, clock, login="wang.jg", role="inspector"
        )
        for path in ADMIN_PAGES:
            assert (await inspector.get(path)).status_code == 403, path
        # A forged form with the inspector's own valid token is refused all the same.
        home = await inspector.get("/staff/")
        forged = await inspector.post(
            "/staff/admin/users/new",
            data={"csrf_token": csrf_token(home.text), "name": "Mallory", "login": "mallory",
                  "role": "admin", "region": ""},
        )  # fmt: skip
        assert forged.status_code == 403
        verify = await inspector.post(
            "/staff/admin/audit/verify", data={"csrf_token": csrf_token(home.text)}
        )
        assert verify.status_code == 403
    # Signed out: to the sign-in page, and back here after.
    async with httpx.AsyncClient(base_url=live_server) as anonymous:
        answer = await anonymous.get("/staff/admin/users")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/staff/sign-in")
    assert "user.create" not in [a for a in await audit_actions(session_factory)][-3:]


async def test_a_new_user_gets_a_working_enrolment_link_and_mistakes_are_shown_at_their_field(
    admin_client: httpx.AsyncClient,
    live_server: str,
    session_factory: Sessions,
    clock: MovableClock,
) -> None:
    refused = await post_form(
        admin_client, "/staff/admin/users/new", "/staff/admin/users/new",
        {"name": "钱审核", "login": "qian", "role": "reviewer", "region": ""},
    )  # fmt: skip
    assert refused.status_code == 422
    assert 'id="region-error"' in refused.text
    assert 'aria-describedby="region-hint region-error"' in refused.text
    assert 'value="qian"' in refused.text  # what was typed stays

    created = await post_form(
        admin_client, "/staff/admin/users/new", "/staff/admin/users/new",
        {"name": "钱审核", "login": "qian", "role": "reviewer", "region": "3305"},
    )  # fmt: skip
    assert created.status_code == 200, created.text
    found = ENROLMENT_LINK.search(created.text)
    assert found, created.text
    link = found.group(1)
    assert link.startswith("http://127.0.0.1:8000/staff/enrol/")  # BASE_URL, not the Host
    token = link.rsplit("/", 1)[1]
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as newcomer:
        opened = await newcomer.get(f"/staff/enrol/{token}")
        assert opened.status_code == 200
        assert "qian" in opened.text
        secret = await enrol(newcomer, token, now=clock())
        clock.set(clock() + timedelta(seconds=30))
        await sign_in(newcomer, "qian", secret=secret, now=clock())
        home = await newcomer.get("/staff/")
        assert "当前用户：钱审核（审核员）" in home.text
    taken = await post_form(
        admin_client, "/staff/admin/users/new", "/staff/admin/users/new",
        {"name": "钱二", "login": "qian", "role": "inspector", "region": "3305"},
    )  # fmt: skip
    assert taken.status_code == 422
    assert 'id="login-error"' in taken.text
    listing = await admin_client.get("/staff/admin/users")
    assert "钱审核" in listing.text
    actions = await audit_actions(session_factory)
    assert actions.count("user.create") == 2  # the admin, by the test; qian, by the page
    assert "staff.enrolment.issue" in actions


async def test_an_admin_changes_a_role_and_region_disables_and_resets_an_account(
    admin_client: httpx.AsyncClient,
    live_server: str,
    clock: MovableClock,
    session_factory: Sessions,
    secret_key: Secret,
) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as inspector:
        await signed_in(
            inspector, session_factory, secret_key, clock, login="wang.jg", role="inspector"
        )
        assert (await inspector.get("/staff/")).status_code == 200
        async with session_factory() as session:
            user_id = await session.scalar(sa.text("SELECT id FROM users WHERE login = 'wang.jg'"))
        page = f"/staff/admin/users/{user_id}"
        disabled = await post_form(admin_client, page, f"{page}/disable", {"disabled": "yes"})
        assert disabled.status_code == 303
        assert (await inspector.get("/staff/")).status_code == 303  # the session ended
        enabled = await post_form(admin_client, page, f"{page}/disable", {"disabled": "no"})
        assert enabled.status_code == 303
        await sign_in(inspector, "wang.jg", now=clock())
        assert (await inspector.get("/staff/")).status_code == 200

        bad = await post_form(
            admin_client, page, f"{page}/role", {"role": "reviewer", "region": "99x"}
        )
        assert bad.status_code == 422
        assert 'id="region-error">必须是 2、4 或 6 位行政区划代码<' in bad.text
        moved = await post_form(
            admin_client, page, f"{page}/role", {"role": "reviewer", "region": "330522"}
        )
        assert moved.status_code == 303
        shown = await admin_client.get(moved.headers["location"])
        assert "330522" in shown.text
        # A reviewer needs a second factor this inspector never set up: the page says so,
        # and the session opened with a password alone has ended.
        assert "尚未绑定" in shown.text
        assert (await inspector.get("/staff/")).status_code == 303
    reset = await post_form(admin_client, page, f"{page}/reset", {})
    assert reset.status_code == 200
    assert ENROLMENT_LINK.search(reset.text)

    own = await admin_client.get("/staff/admin/users")
    admin_id = re.search(
        r'href="/staff/admin/users/([0-9a-f-]{36})\?lang=zh">测试 admin.li', own.text
    )
    assert admin_id
    own_page = f"/staff/admin/users/{admin_id.group(1)}"
    demoted = await post_form(
        admin_client, own_page, f"{own_page}/role", {"role": "inspector", "region": "33"}
    )
    assert demoted.status_code == 422
    assert 'id="role-error">管理员不能更改自己的角色<' in demoted.text
    locked_out = await post_form(admin_client, own_page, f"{own_page}/disable", {"disabled": "yes"})
    assert locked_out.status_code == 422
    assert 'id="account-error">管理员不能停用自己的账户<' in locked_out.text
    for nonsense in ("not-a-uuid", "0"):
        assert (await admin_client.get(f"/staff/admin/users/{nonsense}")).status_code in (400, 404)
    missing = await admin_client.get(f"/staff/admin/users/{'0' * 8}-0000-0000-0000-{'0' * 12}")
    assert missing.status_code == 404
    actions = await audit_actions(session_factory)
    for action in ("user.role_change", "user.disable", "user.enable", "staff.enrolment.reset"):
        assert action in actions


def policy_with(version: str, *replacements: tuple[str, str]) -> str:
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    text = text.replace(f'version = "{shipped_version()}"', f'version = "{version}"', 1)
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new, 1)
    return text


async def post_policy(client: httpx.AsyncClient, document: str, action: str) -> httpx.Response:
    page = await client.get("/staff/admin/policies")
    return await client.post(
        "/staff/admin/policies",
        files={"document": (None, document), "action": (None, action),
               "csrf_token": (None, csrf_token(page.text))},
    )  # fmt: skip


def line_number(document: str, fragment: str) -> int:
    return next(n for n, line in enumerate(document.splitlines(), 1) if fragment in line)


async def test_a_policys_problems_are_shown_at_their_line_or_key(
    admin_client: httpx.AsyncClient, session_factory: Sessions
) -> None:
    broken_syntax = policy_with("2099.1", ("floor = 0", "floor = "))
    answer = await post_policy(admin_client, broken_syntax, "install")
    assert answer.status_code == 422
    line = line_number(broken_syntax, "floor = ")
    assert f"第 {line} 行" in answer.text
    assert '<tr class="at-fault"><th scope="row">' + str(line) in answer.text

    wrong_type = policy_with("2099.1", ("min = 90", 'min = "ninety"'))
    answer = await post_policy(admin_client, wrong_type, "simulate")
    assert answer.status_code == 422
    assert "键 grades[0].min" in answer.text
    assert f"第 {line_number(wrong_type, 'ninety')} 行" in answer.text

    no_title = policy_with("2099.1", (', title_en = "Credit grade D: not eligible"', ""))
    answer = await post_policy(admin_client, no_title, "install")
    assert answer.status_code == 422
    assert "键 reasons.GRADE_INELIGIBLE.title_en" in answer.text
    assert f"第 {line_number(no_title, 'GRADE_INELIGIBLE =')} 行" in answer.text

    # An uploaded file instead of pasted text: the same checks, the same what-if.
    page = await admin_client.get("/staff/admin/policies")
    form = {"document": (None, ""), "action": (None, "simulate"),
            "csrf_token": (None, csrf_token(page.text))}  # fmt: skip
    uploaded = await admin_client.post(
        "/staff/admin/policies",
        files=form | {"file": ("draft.toml", policy_with("2099.2").encode(), "application/toml")},
    )
    assert uploaded.status_code == 200, uploaded.text
    assert "预演：2099.2 对比现行版本" in uploaded.text
    not_text = await admin_client.post(
        "/staff/admin/policies", files=form | {"file": ("draft.toml", b"\xff\xfe\x00", None)}
    )
    assert not_text.status_code == 422
    assert "a policy file is UTF-8 TOML text" in not_text.text

    started = await admin_client.get(f"/staff/admin/policies?from={shipped_version()}")
    assert "Deduct from 100, like the tax credit system" in started.text  # in the textarea
    assert (await admin_client.get("/staff/admin/policies?from=1999.9")).status_code == 404

    taken = policy_with(shipped_version(), ("min = 90", "min = 95"))
    answer = await post_policy(admin_client, taken, "install")
    assert answer.status_code == 409
    assert "键 policy.version" in answer.text
    async with session_factory() as session:
        assert await session.scalar(sa.text("SELECT count(*) FROM policy_versions")) == 1


async def test_a_dead_letter_is_re_sent_after_a_correction(
    admin_client: httpx.AsyncClient, session_factory: Sessions
) -> None:
    await registered(session_factory, platform_of("http://127.0.0.1:9"))
    await stage_blacklist(session_factory, range(1, 3))
    async with session_factory() as session, session.begin():
        await session.execute(
            sa.text(
                "UPDATE outbox SET status = 'dead', attempts = 1, "
                "last_error = 'rejected: invalid_uscc', sent_at = now() "
                "WHERE topic = :topic AND key = 'BL-test-000001'"
            ),
            {"topic": f"sync:{PLATFORM}"},
        )
    page = await admin_client.get("/staff/admin/sync?lang=en")
    assert page.status_code == 200
    assert "rejected: invalid_uscc" in page.text
    assert "BL-test-000001" in page.text
    retried = await post_form(
        admin_client, "/staff/admin/sync", f"/staff/admin/sync/{PLATFORM}/retry", {}
    )
    assert retried.status_code == 303
    after = await admin_client.get(retried.headers["location"])
    assert "已将 1 条死信重新排队" in after.text
    async with session_factory() as session:
        dead = await session.scalar(sa.text("SELECT count(*) FROM outbox WHERE status = 'dead'"))
    assert dead == 0
    assert "sync.retry_dead" in await audit_actions(session_factory)
    unknown = await post_form(
        admin_client, "/staff/admin/sync", "/staff/admin/sync/nowhere/retry", {}
    )
    assert unknown.status_code == 404


async def test_the_audit_chain_is_verified_on_request_and_the_result_kept(
    admin_client: httpx.AsyncClient, session_factory: Sessions, cli_env: dict[str, str]
) -> None:
    before = await admin_client.get("/staff/admin/audit")
    assert "尚未校验过" in before.text
    verified = await post_form(admin_client, "/staff/admin/audit", "/staff/admin/audit/verify", {})
    assert verified.status_code == 303
    shown = await admin_client.get(verified.headers["location"])
    # Every row in the chain (content rows too) but the verification's own.
    rows = len(await audit_actions(session_factory, every=True)) - 1
    assert f"链完整，共检查 {rows} 条记录" in shown.text
    # The command line's verification (a nightly cron) is the last one shown too.
    code, out = await cli_output(cli_env, "audit", "verify")
    assert code == 0, out
    shown = await admin_client.get("/staff/admin/audit")
    assert f"链完整，共检查 {rows + 1} 条记录" in shown.text

    async with session_factory() as session, session.begin():
        # As someone with owner rights would: the append-only guard switched off first.
        for statement in (
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
            "UPDATE audit_log SET target_id = 'tampered' WHERE id = 2",
            "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only",
        ):
            await session.execute(sa.text(statement))
    await post_form(admin_client, "/staff/admin/audit", "/staff/admin/audit/verify", {})
    shown = await admin_client.get("/staff/admin/audit?lang=en")
    assert "broken; the first row that does not fit is 2" in shown.text


async def test_a_rename_made_in_the_database_shows_on_the_audit_page_without_a_verification(
    admin_client: httpx.AsyncClient, session_factory: Sessions, database_url: str
) -> None:
    shown = await admin_client.get("/staff/admin/audit?lang=en")
    assert "The chain holds no write made outside the service." in shown.text
    # As psql would: a plain connection, without the service's marker.
    outsider = await asyncpg.connect(libpq_dsn(database_url))
    try:
        await outsider.execute(
            "INSERT INTO institutions (id, name, uscc, region_code, kind, beds, address, status,"
            " version, created_at, updated_at) VALUES (gen_random_uuid(), '暗改养老院',"
            " '52330100MJ0000001X', '330102', 'residential', 0, '', 'operating', 1, now(), now())"
        )
        await outsider.execute(
            "UPDATE institutions SET name = '改名养老院' WHERE uscc = '52330100MJ0000001X'"
        )
    finally:
        await outsider.close()
    await seal_now(session_factory)

    shown = await admin_client.get("/staff/admin/audit?lang=en")
    outside = shown.text.split('id="outside-writes"', 1)[1]
    assert "The chain holds 2 writes made directly in the database" in outside
    assert outside.index("outside_service.update") < outside.index("outside_service.insert")
    assert "postgres" in outside  # the database role that made them
