"""The workbench's sign-in protections tried in a real browser (Debian's chromium, headless,
Playwright), as decision 0027 has them:

- a real form sent without its CSRF token is refused with a 403 page, and writes nothing;
- five wrong passwords typed into the sign-in form lock the login: the sixth try, with
  the right password, is refused with the time the lock ends, and the audit chain has it;
- a session idle for more than 30 minutes (the service clock moved on) sends the browser
  to the sign-in page with a notice, and signing in again returns to the page asked for.

The server's clock is pinned, so idleness and the lock's end are known moments.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from conftest import MakeToken, MovableClock, bearer
from factories import institution_body
from playwright.async_api import Browser, expect
from signing import session_sealer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col
from staff_accounts import enrolled, sign_in_on_page

from service.audit.chain import seal
from service.audit.models import AuditEntry
from service.auth.models import StaffSession, User
from service.config import Settings
from service.records.models import Record

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in China, a Monday
NAME = institution_body(1)["name"]


async def care_home(live_server: str, make_token: MakeToken) -> str:
    """A care home of 湖州市 (3305), made through the API: its id."""
    async with httpx.AsyncClient(base_url=live_server) as api:
        made = await api.post(
            "/api/v1/institutions",
            json=institution_body(1),
            headers=bearer(await make_token("admin")),
        )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def inspector(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    live_server: str,
    clock: MovableClock,
    login: str,
) -> None:
    """An inspector of 3305, enrolled with a password only (inspectors may)."""
    assert settings.secret_key is not None
    await enrolled(
        sessions, settings.secret_key, live_server, login=login, role="inspector", clock=clock,
        with_second_factor=False,
    )  # fmt: skip


async def count_records(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(Record)) or 0)


async def test_an_inspection_form_sent_without_its_csrf_token_is_refused_and_saves_nothing(
    browser: Browser,
    live_server: str,
    clean_db: None,
    clock: MovableClock,
    make_token: MakeToken,
    session_factory: async_sessionmaker[AsyncSession],
    test_settings: Settings,
) -> None:
    clock.set(T0)
    home = await care_home(live_server, make_token)
    await inspector(session_factory, test_settings, live_server, clock, "wang.jg")
    page = await browser.new_page(locale="zh-CN")
    await page.goto(f"{live_server}/staff/institutions/{home}/inspections/new")
    await sign_in_on_page(page, "wang.jg")
    await expect(page.get_by_label("检查情况摘要")).to_be_visible()

    # The form filled in as an inspector would, its token taken out before it is sent.
    await page.get_by_label("检查类型").select_option("random")
    await page.get_by_label("检查情况摘要").fill("双随机抽查：消防与照护记录")
    removed = await page.evaluate(
        """() => {
            const token = document.querySelector(
                'form[action*="/inspections"] input[name="csrf_token"]');
            if (token === null) return false;
            token.remove();
            return true;
        }"""
    )
    assert removed, "the inspection form has no csrf_token field to take out"
    async with page.expect_navigation() as sent:
        await page.get_by_role("button", name="添加一个问题").click()
    answer = await sent.value
    assert answer is not None
    assert answer.status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text("请求被拒绝")
    await expect(page.locator("main")).to_contain_text("缺少或错误的安全令牌")
    assert await count_records(session_factory) == 0  # no draft was written

    # The same form with its token goes through: the token alone made the difference.
    await page.goto(f"{live_server}/staff/institutions/{home}/inspections/new")
    await page.get_by_label("检查类型").select_option("random")
    await page.get_by_label("检查情况摘要").fill("双随机抽查：消防与照护记录")
    await page.get_by_role("button", name="添加一个问题").click()
    await expect(page.get_by_role("status")).to_have_text("草稿已保存。")
    assert await count_records(session_factory) == 1
    await page.close()


async def test_five_wrong_passwords_lock_the_login_and_the_right_one_is_refused_after(
    browser: Browser,
    live_server: str,
    clean_db: None,
    clock: MovableClock,
    session_factory: async_sessionmaker[AsyncSession],
    test_settings: Settings,
) -> None:
    clock.set(T0)
    await inspector(session_factory, test_settings, live_server, clock, "qian")
    page = await browser.new_page(locale="zh-CN")
    await page.goto(f"{live_server}/staff/sign-in")
    for _ in range(5):
        await sign_in_on_page(page, "qian", password="not-the-password-at-all")
        # The answer's page: the password field empty again, the refusal above the form.
        await expect(page.get_by_label("密码")).to_be_empty()
        await expect(page.get_by_role("alert")).to_contain_text("登录名或密码错误")

    await sign_in_on_page(page, "qian")  # the right password, the sixth time
    await expect(page.get_by_role("status")).to_have_text(
        "失败次数过多，登录已锁定至 2026-03-02 09:15（北京时间）。"
    )
    await expect(page.get_by_role("heading", level=1)).to_have_text("工作人员登录")
    await page.goto(f"{live_server}/staff/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("工作人员登录")

    async with session_factory() as session:
        qian = await session.scalar(sa.select(col(User.id)).where(col(User.login) == "qian"))
        await seal(
            await session.connection(), session_sealer()
        )  # rows the server has not sealed yet, too
        rows = [
            tuple(row)
            for row in await session.execute(
                sa.select(col(AuditEntry.action), col(AuditEntry.target_id))
                .where(col(AuditEntry.action).startswith("staff."))
                .order_by(col(AuditEntry.id))
            )
        ]
    actions = [action for action, _ in rows]
    assert actions.count("staff.sign_in.password_failed") == 5
    assert ("staff.lockout", str(qian)) in rows  # the fifth failure locked this login
    assert actions[-1] == "staff.sign_in.refused_locked"
    assert "staff.sign_in" not in actions
    await page.close()


async def test_an_idle_session_ends_and_signing_in_again_returns_to_the_page(
    browser: Browser,
    live_server: str,
    clean_db: None,
    clock: MovableClock,
    make_token: MakeToken,
    session_factory: async_sessionmaker[AsyncSession],
    test_settings: Settings,
) -> None:
    clock.set(T0)
    home = await care_home(live_server, make_token)
    await inspector(session_factory, test_settings, live_server, clock, "li")
    page = await browser.new_page(locale="zh-CN")
    subject_page = f"{live_server}/staff/institutions/{home}"
    await page.goto(subject_page)
    await sign_in_on_page(page, "li")
    await expect(page).to_have_url(subject_page)
    await expect(page.get_by_role("heading", level=1)).to_have_text(NAME)

    # 29 minutes on, the page is still there (and the session counts from now).
    clock.set(T0 + timedelta(minutes=29))
    await page.reload()
    await expect(page.get_by_role("heading", level=1)).to_have_text(NAME)

    # Then more than 30 minutes without a page: the session is over.
    clock.set(T0 + timedelta(minutes=59, seconds=1))
    await page.reload()
    await expect(page.get_by_role("heading", level=1)).to_have_text("工作人员登录")
    await expect(page.get_by_role("status")).to_have_text("会话已过期或尚未登录，请重新登录。")
    await expect(page).to_have_url(re.compile(r"/staff/sign-in\?"))

    await sign_in_on_page(page, "li")
    await expect(page).to_have_url(subject_page)
    await expect(page.get_by_role("heading", level=1)).to_have_text(NAME)

    async with session_factory() as session:
        reasons = await session.scalars(
            sa.select(col(StaffSession.end_reason)).order_by(col(StaffSession.created_at))
        )
        assert list(reasons) == ["idle", None]  # the first ended idle, the second is open
    await page.close()
