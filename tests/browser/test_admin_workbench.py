"""An admin in a real browser (Debian's chromium, headless, Playwright): signs in with a
code, pastes a policy with a mistake and finds it shown at its line, then a valid one,
sees the what-if table of what it would change, and installs it. The server's clock is
pinned, so each code belongs to a known 30-second step.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from browser_checks import ARTIFACTS, fits_the_screen
from conftest import MovableClock, bearer
from factories import institution_body
from playwright.async_api import Browser, ViewportSize, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from staff_accounts import enrolled, sign_in_on_page

from service.actor import Role
from service.auth.service import create_user
from service.config import Settings
from service.policy.load import DEFAULT_POLICY_FILE, shipped_version
from service.wiring import system_context

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
NARROW: ViewportSize = {"width": 360, "height": 800}


def draft(*replacements: tuple[str, str]) -> str:
    """The shipped policy as a new version, with some lines changed."""
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    text = text.replace(f'version = "{shipped_version()}"', 'version = "2099.1"', 1)
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new, 1)
    return text


async def test_an_admin_installs_a_policy_after_seeing_its_mistake_and_its_what_if(
    browser: Browser,
    live_server: str,
    clean_db: None,
    clock: MovableClock,
    session_factory: async_sessionmaker[AsyncSession],
    test_settings: Settings,
) -> None:
    assert test_settings.secret_key is not None
    clock.set(T0)
    # One care home, A today (nothing against it): the draft asks more of an A.
    async with session_factory() as session, session.begin():
        _, token = await create_user(session, system_context(), name="导入", role=Role.ADMIN)
    async with httpx.AsyncClient(base_url=live_server) as client:
        made = await client.post(
            "/api/v1/institutions", json=institution_body(1), headers=bearer(token)
        )
        assert made.status_code == 201, made.text
    secret = await enrolled(
        session_factory, test_settings.secret_key, live_server, login="admin.li", role="admin",
        clock=clock,
    )  # fmt: skip
    assert secret is not None
    clock.set(T0 + timedelta(minutes=1))

    page = await browser.new_page(viewport=NARROW, locale="zh-CN")
    await page.goto(f"{live_server}/staff/admin/policies")  # behind the sign-in: there first
    await sign_in_on_page(page, "admin.li", secret=secret, now=clock())
    await expect(page).to_have_url(re.compile(r"/staff/admin/policies$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("政策版本")
    await expect(page.get_by_role("cell", name=shipped_version())).to_be_visible()

    # A mistake: shown at its line and key, with the line itself; nothing installed.
    mistaken = draft(("min = 90", 'min = "九十"'))
    line = next(n for n, text in enumerate(mistaken.splitlines(), 1) if "九十" in text)
    await page.get_by_label("政策文档（TOML）").fill(mistaken)
    await page.get_by_role("button", name="安装此版本").click()
    summary = page.get_by_role("alert")
    await expect(summary).to_contain_text("政策文档有 1 个问题，未做任何更改")
    await expect(summary).to_contain_text(f"第 {line} 行")
    await expect(summary).to_contain_text("键 grades[0].min")
    await expect(page.locator("tr.at-fault mark")).to_have_text('min = "九十"')
    document = page.get_by_label("政策文档（TOML）")
    await expect(document).to_have_attribute("aria-invalid", "true")
    await expect(document).to_have_value(mistaken)  # what was pasted stays, to be mended
    assert await fits_the_screen(page)
    await page.screenshot(path=str(ARTIFACTS / "admin-policy-error-360.png"), full_page=True)

    # Mended: what would change, as a table, before anything is installed.
    await document.fill(draft(("min = 90", "min = 100.5")))
    await page.get_by_role("button", name="预演变化").click()
    await expect(
        page.get_by_role("heading", level=2, name=re.compile("预演：2099.1"))
    ).to_be_visible()
    table = page.get_by_role("table", name="会改变的主体")
    await expect(table).to_be_visible()
    row = table.get_by_role("row").filter(has_text=institution_body(1)["name"])
    await expect(row).to_contain_text("A → B")
    assert await fits_the_screen(page)
    await page.screenshot(path=str(ARTIFACTS / "admin-what-if-360.png"), full_page=True)

    await page.get_by_role("button", name="安装此版本").click()
    await expect(page.get_by_role("status")).to_have_text("政策版本已安装，将在其生效日期起适用。")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("2099.1")
    assert await fits_the_screen(page)
    await page.get_by_role("link", name="返回政策版本").click()
    await expect(page.get_by_role("cell", name=re.compile("2099.1"))).to_be_visible()

    # The other admin pages hold at 360 px too; the audit chain is verified by a button.
    for name, heading in (("用户", "用户"), ("数据同步", "与公共信用平台的同步")):
        await (
            page.get_by_role("navigation", name="系统管理导航")
            .get_by_role("link", name=name)
            .click()
        )
        await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        assert await fits_the_screen(page)
        await page.screenshot(path=str(ARTIFACTS / f"admin-{name}-360.png"), full_page=True)
    await page.get_by_role("link", name="审计链").click()
    await page.get_by_role("button", name="立即校验").click()
    await expect(page.locator("#last-verification")).to_contain_text("链完整")
    assert await fits_the_screen(page)
    await page.screenshot(path=str(ARTIFACTS / "admin-audit-360.png"), full_page=True)
    await page.goto(f"{live_server}/staff/admin/users")
    await page.get_by_role("link", name="测试 admin.li").click()
    assert await fits_the_screen(page)
    await page.screenshot(path=str(ARTIFACTS / "admin-user-360.png"), full_page=True)
    await page.close()
