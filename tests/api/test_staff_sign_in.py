"""Staff sign-in as a security review tries it (decision 0027), over HTTP on the live server:

- the enrolment link works once and expires after 72 hours; passwords follow the rules;
- a second factor (TOTP) for reviewers: a wrong code and a used code are refused;
- five wrong passwords lock a login for 15 minutes, the right one included; too many
  failures from one address lock it too;
- sessions end when idle for 30 minutes, 12 hours after sign-in, and at sign-out;
- every unsafe request needs its form's CSRF token; the cookie is HttpOnly,
  SameSite=Strict and Secure off localhost;
- all of it is in the audit chain.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
import pytest
import sqlalchemy as sa
from audit_log import COMMAND_ROWS, seal_now
from conftest import CLI, MovableClock
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col
from staff_accounts import PASSWORD, csrf_token, enrol, new_staff, post_code, post_password, sign_in

from service.auth.models import StaffSession, User
from service.auth.staff import reset_enrolment, set_disabled
from service.auth.totp import TotpVault
from service.cli import _demo_staff
from service.config import Settings
from service.demo.staff import seed_demo_staff
from service.limits import FAILURES_LOCKING_AN_ADDRESS
from service.secret import Secret
from service.wiring import system_context

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in China, a Monday


@pytest.fixture
def secret_key(test_settings: Settings) -> Secret:
    assert test_settings.secret_key is not None
    return test_settings.secret_key


@pytest.fixture
def pinned(clock: MovableClock) -> MovableClock:
    clock.set(T0)
    return clock


@pytest.fixture
async def browser_like(live_server: str, clean_db: None) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies and does not follow redirects, to see each answer."""
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        yield client


async def audit_actions(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    await seal_now(sessions)
    async with sessions() as session:
        rows = await session.scalars(
            sa.text(f"SELECT action FROM audit_log WHERE {COMMAND_ROWS} ORDER BY id")
        )
        return list(rows)


async def test_the_enrolment_link_works_once_and_expires_after_72_hours(
    browser_like: httpx.AsyncClient,
    pinned: MovableClock,
    session_factory: async_sessionmaker[AsyncSession],
    secret_key: Secret,
) -> None:
    late = await new_staff(
        session_factory, secret_key, login="late", role="inspector", clock=pinned
    )
    pinned.set(T0 + timedelta(hours=72))
    expired = await browser_like.get(f"/staff/enrol/{late}")
    assert expired.status_code == 410
    assert "72" in expired.text

    token = await new_staff(
        session_factory, secret_key, login="wang", role="inspector", clock=pinned
    )
    pinned.set(T0 + timedelta(hours=143, minutes=59))  # 71 h 59 min after this one was made
    await enrol(browser_like, token, now=pinned())
    again = await browser_like.get(f"/staff/enrol/{token}")
    assert again.status_code == 404
    replayed = await browser_like.post(
        f"/staff/enrol/{token}",
        data={"csrf_token": browser_like.cookies["staff_form"], "password": "另一个密码-足够长了",
              "password_again": "另一个密码-足够长了", "code": ""},
    )  # fmt: skip
    assert replayed.status_code == 404
    assert "staff.enrolment.complete" in await audit_actions(session_factory)


@pytest.mark.parametrize(
    ("password", "again", "field", "message"),
    [
        ("short-1", "short-1", "password", "至少需要 10 个字符"),
        ("zhao.li-is-me", "zhao.li-is-me", "password", "不能包含登录名"),
        ("Password2024!", "Password2024!", "password", "过于常见"),
        ("woaini1314", "woaini1314", "password", "过于常见"),
        ("aaaaaaaaaaab", "aaaaaaaaaaab", "password", "至少使用 4 个不同的字符"),
        (PASSWORD, PASSWORD + "x", "password_again", "两次输入的密码不一致"),
    ],
)
async def test_a_new_password_must_follow_the_rules(
    browser_like: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    secret_key: Secret,
    password: str,
    again: str,
    field: str,
    message: str,
) -> None:
    token = await new_staff(session_factory, secret_key, login="zhao.li", role="inspector")
    page = await browser_like.get(f"/staff/enrol/{token}")
    answer = await browser_like.post(
        f"/staff/enrol/{token}",
        data={"csrf_token": csrf_token(page.text), "password": password,
              "password_again": again, "code": ""},
    )  # fmt: skip
    assert answer.status_code == 422
    # The error sits next to its field and is linked to it for screen readers.
    assert f'<p class="error" id="{field}-error">' in answer.text
    assert message in answer.text.split(f'id="{field}-error">')[1].split("</p>")[0]
    assert f'aria-describedby="{field}-hint {field}-error"' in answer.text or (
        f'aria-describedby="{field}-error"' in answer.text
    )
    assert (await browser_like.get(f"/staff/enrol/{token}")).status_code == 200  # not spent


async def test_a_reviewer_needs_a_code_and_neither_a_wrong_nor_a_used_one_will_do(
    browser_like: httpx.AsyncClient,
    pinned: MovableClock,
    session_factory: async_sessionmaker[AsyncSession],
    secret_key: Secret,
) -> None:
    token = await new_staff(session_factory, secret_key, login="zhao", role="reviewer")
    # A reviewer cannot skip the second factor at enrolment.
    page = await browser_like.get(f"/staff/enrol/{token}")
    skipped = await browser_like.post(
        f"/staff/enrol/{token}",
        data={"csrf_token": csrf_token(page.text), "password": PASSWORD,
              "password_again": PASSWORD, "code": ""},
    )  # fmt: skip
    assert skipped.status_code == 422
    assert 'id="code-error"' in skipped.text
    secret = await enrol(browser_like, token, now=pinned())
    assert secret is not None
    totp = pyotp.TOTP(secret)

    pinned.set(T0 + timedelta(minutes=1))
    answer = await post_password(browser_like, "zhao")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/staff/sign-in/code")
    # The password alone opens nothing.
    assert (await browser_like.get("/staff/")).status_code == 303

    wrong = f"{(int(totp.at(pinned())) + 1) % 1_000_000:06d}"
    refused = await post_code(browser_like, wrong)
    assert refused.status_code == 401
    assert "验证码错误" in refused.text
    accepted = await post_code(browser_like, totp.at(pinned()))
    assert accepted.status_code == 303
    home = await browser_like.get("/staff/")
    assert home.status_code == 200
    assert "测试 zhao" in home.text
    assert "/staff/queue" in home.text

    # The same code again, within its 30 seconds, from another browser: refused.
    async with httpx.AsyncClient(base_url=str(browser_like.base_url)) as other:
        assert (await post_password(other, "zhao")).status_code == 303
        replayed = await post_code(other, totp.at(pinned()))
        assert replayed.status_code == 401
        assert "已经使用过" in replayed.text
        pinned.set(T0 + timedelta(minutes=1, seconds=30))
        assert (await post_code(other, totp.at(pinned()))).status_code == 303

    actions = await audit_actions(session_factory)
    assert actions.count("staff.sign_in") == 2
    assert "staff.sign_in.code_failed" in actions
    assert "staff.sign_in.code_replayed" in actions


async def test_five_wrong_passwords_lock_the_login_for_15_minutes(
    browser_like: httpx.AsyncClient,
    pinned: MovableClock,
    session_factory: async_sessionmaker[AsyncSession],
    secret_key: Secret,
) -> None:
    token = await new_staff(session_factory, secret_key, login="qian", role="inspector")
    await enrol(browser_like, token, with_second_factor=False)
    for _ in range(5):
        wrong = await post_password(browser_like, "qian", "not-the-password-at-all")
        assert wrong.status_code == 401
        assert "登录名或密码错误" in wrong.text
    right = await post_password(browser_like, "qian")
    assert right.status_code == 429
    assert int(right.headers["retry-after"]) == 15 * 60
    assert "09:15" in right.text  # the lock's end, in China time
    pinned.set(T0 + timedelta(minutes=14, seconds=59))
    assert (await post_password(browser_like, "qian")).status_code == 429
    pinned.set(T0 + timedelta(minutes=15))
    await sign_in(browser_like, "qian")

    actions = await audit_actions(session_factory)
    assert actions.count("staff.sign_in.password_failed") == 5
    assert actions.count("staff.lockout") == 1
    assert actions.count("staff.sign_in.refused_locked") == 2
    assert actions[-1] == "staff.sign_in"


async def test_failures_from_one_address_lock_it_whatever_the_login(
    browser_like: httpx.AsyncClient,
    pinned: MovableClock,
    session_factory: async_sessionmaker[AsyncSession],
    secret_key: Secret,
) -> None:
    token = await new_staff(session_factory, secret_key, login="sun", role="inspector")
    await enrol(browser_like, token, with_second_factor=False)
    for n in range(FAILURES_LOCKING_AN_ADDRESS):  # one guess per login: password spraying
        assert (await post_password(browser_like, f"user{n}", "Summer2025!")).status_code == 401
    assert (await post_password(browser_like, "sun")).status_code == 429
    pinned.set(T0 + timedelta(minutes=15))
    await sign_in(browser_like, "sun")


async def test_a_session_ends_after_30_idle_minutes_and_12_hours_after_sign_in(
    browser_like: httpx.AsyncClient,
    pinned: MovableClock,
    session_factory: async_sessionmaker[AsyncSession],
    secret_key: Secret,
) -> None:
    token = await new_staff(session_factory, secret_key, login="li", role="inspector")
    await enrol(browser_like, token, with_second_factor=False)
    await sign_in(browser_like, "li")
    pinned.set(T0 + timedelta(minutes=30))
    assert (await browser_like.get("/staff/")).status_code == 200  # 30 minutes: still in
    pinned.set(T0 + timedelta(minutes=60, seconds=1))
    idle = await browser_like.get("/staff/")
    assert idle.status_code == 303
    assert idle.headers["location"].startswith("/staff/sign-in")

    await sign_in(browser_like, "li")
    start = pinned()
    for minutes in range(25, 12 * 60, 25):  # busy all day, never idle
        pinned.set(start + timedelta(minutes=minutes))
        assert (await browser_like.get("/staff/")).status_code == 200
    pinned.set(start + timedelta(hours=12, seconds=1))
    assert (await browser_like.get("/staff/")).status_code == 303

    async with session_factory() as session:
        reasons = await session.scalars(
            sa.select(col(StaffSession.end_reason)).order_by(col(StaffSession.created_at))
        )
        assert list(reasons) == ["idle", "absolute"]


async def test_sign_out_ends_the_session_and_its_cookie_is_refused_after(
    browser_like: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    secret_key: Secret,
) -> None:
    token = await new_staff(session_factory, secret_key, login="zhou", role="inspector")
    await enrol(browser_like, token, with_second_factor=False)
    await sign_in(browser_like, "zhou")
    old_cookie = browser_like.cookies["staff_session"]
    home = await browser_like.get("/staff/")
    out = await browser_like.post("/staff/sign-out", data={"csrf_token": csrf_token(home.text)})
    assert out.status_code == 303
    assert (
        'staff_session=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    )
    async with httpx.AsyncClient(
        base_url=str(browser_like.base_url), cookies={"staff_session": old_cookie}
    ) as replay:
        assert (await replay.get("/staff/")).status_code == 303
    assert (await audit_actions(session_factory))[-1] == "staff.sign_out"


async def test_a_form_posted_without_its_csrf_token_or_with_a_wrong_one_is_refused(
    browser_like: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    secret_key: Secret,
) -> None:
    token = await new_staff(session_factory, secret_key, login="wu", role="inspector")
    await enrol(browser_like, token, with_second_factor=False)
    # Before a session: the sign-in form's token is the form cookie's.
    page = await browser_like.get("/staff/sign-in")
    form = {"login": "wu", "password": PASSWORD}
    assert (await browser_like.post("/staff/sign-in", data=form)).status_code == 403
    forged = form | {"csrf_token": "forged"}
    assert (await browser_like.post("/staff/sign-in", data=forged)).status_code == 403
    signed = await browser_like.post(
        "/staff/sign-in", data=form | {"csrf_token": csrf_token(page.text)}
    )
    assert signed.status_code == 303

    # With a session: the session's token, and no other.
    home = await browser_like.get("/staff/")
    assert (await browser_like.post("/staff/sign-out")).status_code == 403
    refused = await browser_like.post("/staff/sign-out", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    assert "安全令牌" in refused.text
    assert (await browser_like.get("/staff/")).status_code == 200  # still signed in
    header = await browser_like.post(
        "/staff/sign-out", headers={"X-CSRF-Token": csrf_token(home.text)}
    )
    assert header.status_code == 303


async def test_the_session_cookie_is_httponly_samesite_strict_and_secure_off_localhost(
    browser_like: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    secret_key: Secret,
) -> None:
    token = await new_staff(session_factory, secret_key, login="zheng", role="inspector")
    await enrol(browser_like, token, with_second_factor=False)
    answer = await post_password(browser_like, "zheng")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("staff_session=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "samesite"} <= attributes
    assert "secure" not in attributes  # http://127.0.0.1: a browser's secure context
    assert "samesite=strict" in cookie.lower()
    assert "Path=/staff" in cookie
    assert "max-age" not in attributes  # the server ends sessions; the browser forgets on close
    home = await browser_like.get("/staff/")
    assert home.headers["cache-control"] == "no-store"

    async with httpx.AsyncClient(
        base_url=str(browser_like.base_url), headers={"Host": "credit.example.gov.cn"}
    ) as remote:
        page = await remote.get("/staff/sign-in")
        assert "Secure" in page.headers["set-cookie"]
        answer = await remote.post(
            "/staff/sign-in",
            data={"csrf_token": csrf_token(page.text), "login": "zheng", "password": PASSWORD},
            headers={"Cookie": f"staff_form={csrf_token(page.text)}"},
        )
        assert answer.status_code == 303
        assert "Secure" in answer.headers["set-cookie"]


async def test_bad_input_on_the_sign_in_pages_is_a_4xx_naming_the_field(
    browser_like: httpx.AsyncClient,
) -> None:
    page = await browser_like.get("/staff/sign-in")
    token = csrf_token(page.text)
    empty = await browser_like.post("/staff/sign-in", data={"csrf_token": token, "login": ""})
    assert empty.status_code == 422
    assert 'id="login-error"' in empty.text
    assert 'id="password-error"' in empty.text
    nul = await browser_like.post(
        "/staff/sign-in", data={"csrf_token": token, "login": "a\x00b", "password": "x"}
    )
    assert nul.status_code == 422
    assert 'id="login-error"' in nul.text
    long = await browser_like.post(
        "/staff/sign-in", data={"csrf_token": token, "login": "x" * 5000, "password": "y"}
    )
    assert long.status_code == 401
    assert (await browser_like.get("/staff/enrol/not-a-token")).status_code == 404
    # Hostile shapes are a 4xx page, never a 500.
    assert (await browser_like.get("/staff/enrol/%00")).status_code == 400
    no_boundary = await browser_like.post(
        "/staff/sign-in", content=b"x", headers={"Content-Type": "multipart/form-data"}
    )
    assert no_boundary.status_code == 400
    assert (await browser_like.post("/staff/sign-in", json={"login": "x"})).status_code == 403
    uploaded = await browser_like.post(
        "/staff/sign-in", data={"csrf_token": token}, files={"login": ("a.txt", b"zhang")}
    )
    assert uploaded.status_code == 422
    assert (await browser_like.get("/staff/sign-in?next=//evil.example&lang=xx")).status_code == 200
    english = await browser_like.get("/staff/sign-in?lang=en")
    assert "Staff sign-in" in english.text
    assert '<html lang="en">' in english.text


async def test_admins_reset_an_enrolment_and_disable_a_user_and_their_sessions_end(
    browser_like: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    secret_key: Secret,
) -> None:
    token = await new_staff(session_factory, secret_key, login="feng", role="inspector")
    await enrol(browser_like, token, with_second_factor=False)
    await sign_in(browser_like, "feng")
    async with session_factory() as session:
        user = (await session.scalars(sa.select(User).where(col(User.login) == "feng"))).one()
    async with session_factory() as session, session.begin():
        reset = await reset_enrolment(
            session, system_context(), user_id=user.id, vault=TotpVault(secret_key)
        )
    assert (await browser_like.get("/staff/")).status_code == 303  # the session ended
    assert (await post_password(browser_like, "feng")).status_code == 401  # old password gone
    await enrol(
        browser_like, reset.token, password="新的密码也要足够长才行", with_second_factor=False
    )
    await sign_in(browser_like, "feng", password="新的密码也要足够长才行", secret=None)

    async with session_factory() as session, session.begin():
        await set_disabled(session, system_context(), user_id=user.id, disabled=True)
    assert (await browser_like.get("/staff/")).status_code == 303
    refused = await post_password(browser_like, "feng", "新的密码也要足够长才行")
    assert refused.status_code == 401
    actions = await audit_actions(session_factory)
    assert {"staff.enrolment.reset", "user.disable"} <= set(actions)


async def test_users_create_with_a_login_prints_a_one_time_enrolment_link(
    cli_env: dict[str, str], clean_db: None
) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        [CLI, "users", "create", "--role", "reviewer", "--region", "3305",
         "--name", "赵审核", "--login", "Zhao.Shen"],
        env=cli_env | {"BASE_URL": "https://credit.example.gov.cn"},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("https://credit.example.gov.cn/staff/enrol/")
    assert len(done.stdout.strip().splitlines()) == 1
    taken = await asyncio.to_thread(
        subprocess.run,
        [CLI, "users", "create", "--role", "inspector", "--region", "3305",
         "--name", "又一个", "--login", "zhao.shen"],
        env=cli_env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert taken.returncode == 1
    assert "login" in taken.stderr
    assert "already taken" in taken.stderr


async def test_the_demo_staff_sign_in_with_what_seed_demo_prints_and_not_in_production(
    browser_like: httpx.AsyncClient,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    secret_key: Secret,
    test_settings: Settings,
) -> None:
    async with session_factory() as session, session.begin():
        created = await seed_demo_staff(session, system_context(), TotpVault(secret_key))
    assert sorted(c.member.role.value for c in created) == [
        "admin", "inspector", "reviewer", "reviewer",
    ]  # fmt: skip
    for credentials in created:
        async with httpx.AsyncClient(base_url=str(browser_like.base_url)) as client:
            await sign_in(
                client,
                credentials.member.login,
                password=credentials.password,
                secret=credentials.totp_secret,
            )
            assert (await client.get("/staff/")).status_code == 200
    async with session_factory() as session, session.begin():
        assert await seed_demo_staff(session, system_context(), TotpVault(secret_key)) == []
    production = replace(test_settings, environment="production")
    assert "not created" in await _demo_staff(production, engine)
