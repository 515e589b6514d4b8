"""Signing in to the workbench in a real browser (Debian's chromium, headless, Playwright).

An inspector opens their enrolment link on a phone, sets a password, adds the key to an
authenticator app (pyotp plays the app) and signs in; a reviewer signs in with a code.
The server's clock is pinned, so each code belongs to a known 30-second step.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
from browser_checks import ARTIFACTS, fits_the_screen
from conftest import MovableClock
from playwright.async_api import Browser, ViewportSize, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from staff_accounts import PASSWORD, enrol, new_staff

from service.config import Settings

PHONE: ViewportSize = {"width": 390, "height": 844}
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


async def test_an_inspector_enrols_on_a_phone_and_signs_in_with_a_code(
    browser: Browser,
    live_server: str,
    clean_db: None,
    clock: MovableClock,
    session_factory: async_sessionmaker[AsyncSession],
    test_settings: Settings,
) -> None:
    assert test_settings.secret_key is not None
    clock.set(T0)
    token = await new_staff(
        session_factory, test_settings.secret_key, login="wang.jg", role="inspector", clock=clock
    )
    page = await browser.new_page(viewport=PHONE, locale="zh-CN")
    await page.goto(f"{live_server}/staff/enrol/{token}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("启用账户")
    assert await fits_the_screen(page)

    # A password that breaks a rule: the error is next to the field and linked to it.
    await page.get_by_label("密码", exact=True).fill("wang.jg-2025")
    await page.get_by_label("再次输入密码").fill("wang.jg-2025")
    await page.get_by_role("button", name="启用账户").click()
    error = page.locator("#password-error")
    await expect(error).to_have_text("不能包含登录名")
    await expect(page.get_by_label("密码", exact=True)).to_have_attribute(
        "aria-describedby", "password-hint password-error"
    )
    assert await fits_the_screen(page)

    secret = (await page.locator("#totp-secret").inner_text()).replace(" ", "")
    assert (await page.locator("#totp-uri").get_attribute("href") or "").startswith(
        "otpauth://totp/"
    )
    totp = pyotp.TOTP(secret)
    await page.get_by_label("密码", exact=True).fill(PASSWORD)
    await page.get_by_label("再次输入密码").fill(PASSWORD)
    await page.get_by_label("动态验证码（6 位数字）").fill(totp.at(clock()))
    await page.screenshot(path=str(ARTIFACTS / "staff-enrol-phone.png"), full_page=True)
    await page.get_by_role("button", name="启用账户").click()
    await expect(page.get_by_role("status")).to_have_text("账户已启用，请登录。")

    # Keyboard only, half a minute later (the enrolment's code is spent).
    clock.set(T0 + timedelta(seconds=30))
    await page.get_by_label("登录名").focus()
    await page.keyboard.type("wang.jg")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("第二步：输入动态验证码")
    await page.keyboard.type(totp.at(clock()))  # the code field has the focus
    await page.keyboard.press("Enter")

    await expect(page).to_have_url(re.compile(r"/staff/$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "当前用户：测试 wang.jg（检查员）"
    )
    await expect(page.get_by_role("link", name="查找机构和从业人员")).to_be_visible()
    assert await fits_the_screen(page)
    await page.screenshot(path=str(ARTIFACTS / "staff-home-phone.png"), full_page=True)

    await page.get_by_role("button", name="退出登录").click()
    await expect(page.get_by_role("status")).to_have_text("您已退出登录。")
    await page.goto(f"{live_server}/staff/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("工作人员登录")
    await page.close()


async def test_a_reviewer_signs_in_with_a_code_in_english(
    browser: Browser,
    live_server: str,
    clean_db: None,
    clock: MovableClock,
    session_factory: async_sessionmaker[AsyncSession],
    test_settings: Settings,
) -> None:
    assert test_settings.secret_key is not None
    clock.set(T0)
    token = await new_staff(
        session_factory, test_settings.secret_key, login="zhao", role="reviewer", clock=clock
    )
    async with httpx.AsyncClient(base_url=live_server) as client:
        secret = await enrol(client, token, now=clock())
    assert secret is not None
    clock.set(T0 + timedelta(minutes=5))

    page = await browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-GB")
    await page.goto(f"{live_server}/staff/")  # behind the sign-in: there first
    await expect(page.get_by_role("heading", level=1)).to_have_text("Staff sign-in")
    await page.get_by_label("Login name").fill("zhao")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    right = pyotp.TOTP(secret).at(clock())
    await page.get_by_label("Code (6 digits)").fill("000000" if right != "000000" else "111111")
    await page.get_by_role("button", name="Continue").click()
    await expect(page.locator("#code-error")).to_have_text(
        "the code is wrong: enter the one your authenticator app shows now"
    )
    await page.get_by_label("Code (6 digits)").fill(right)
    await page.get_by_role("button", name="Continue").click()
    await expect(page).to_have_url(re.compile(r"/staff/$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Signed in as 测试 zhao (reviewer)"
    )
    await expect(page.get_by_role("link", name="List entries to handle")).to_be_visible()
    await page.close()
