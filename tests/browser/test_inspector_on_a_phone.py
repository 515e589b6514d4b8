"""An inspector on site, on a phone (390 × 844, Debian's chromium through Playwright):
enrols with the one-time link, signs in with a code, finds a care home by a misspelt
name, logs an inspection with three deficiencies row by row, reads what confirming will
do, confirms, and sees the grade fall on the home's page. No page scrolls sideways at
390 px, nor at 360 px (the penalty form and the upload page included)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
from browser_checks import ARTIFACTS, fits_the_screen
from conftest import MovableClock
from factories import institution_body
from playwright.async_api import Browser, Page, ViewportSize, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from staff_accounts import PASSWORD, new_staff

from service.config import Settings

PHONE: ViewportSize = {"width": 390, "height": 844}
SMALL_PHONE: ViewportSize = {"width": 360, "height": 740}
T0 = datetime(2026, 3, 16, 1, 0, tzinfo=UTC)  # 09:00 in China, a Monday


async def fits_both_phones(page: Page) -> None:
    assert await fits_the_screen(page), page.url
    await page.set_viewport_size(SMALL_PHONE)
    assert await fits_the_screen(page), page.url
    await page.set_viewport_size(PHONE)


async def fill_deficiency(
    page: Page, row: int, item: str, severity: str, scope: str, deadline: str
) -> None:
    base = f"deficiencies[{row}]"
    await page.locator(f'[id="{base}.item"]').fill(item)
    await page.locator(f'[id="{base}.severity"]').select_option(severity)
    await page.locator(f'[id="{base}.scope"]').select_option(scope)
    await page.locator(f'[id="{base}.rectification_deadline"]').fill(deadline)


async def test_an_inspector_logs_an_inspection_on_a_phone_and_sees_the_grade_change(
    browser: Browser,
    live_server: str,
    clean_db: None,
    clock: MovableClock,
    session_factory: async_sessionmaker[AsyncSession],
    test_settings: Settings,
    admin: dict[str, str],
) -> None:
    assert test_settings.secret_key is not None
    clock.set(T0)
    async with httpx.AsyncClient(base_url=live_server) as api:
        answer = await api.post(
            "/api/v1/institutions", json=institution_body(1, name="长兴县夕阳红颐养院"),
            headers=admin,
        )  # fmt: skip
        assert answer.status_code == 201
    token = await new_staff(
        session_factory, test_settings.secret_key, login="wang.jg", role="inspector", clock=clock
    )
    page = await browser.new_page(viewport=PHONE, locale="zh-CN")

    # The one-time link: a password and the authenticator app (pyotp plays it).
    await page.goto(f"{live_server}/staff/enrol/{token}")
    secret = (await page.locator("#totp-secret").inner_text()).replace(" ", "")
    totp = pyotp.TOTP(secret)
    await page.get_by_label("密码", exact=True).fill(PASSWORD)
    await page.get_by_label("再次输入密码").fill(PASSWORD)
    await page.get_by_label("动态验证码（6 位数字）").fill(totp.at(clock()))
    await page.get_by_role("button", name="启用账户").click()
    await expect(page.get_by_role("status")).to_have_text("账户已启用，请登录。")
    clock.set(T0 + timedelta(seconds=30))
    await page.get_by_label("登录名").fill("wang.jg")
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.get_by_label("动态验证码（6 位数字）").fill(totp.at(clock()))
    await page.get_by_role("button", name="继续").click()
    await expect(page).to_have_url(re.compile(r"/staff/$"))

    # Find the home by a misspelt name (虹 for 红).
    await page.get_by_role("link", name="查找机构和从业人员").click()
    await page.get_by_label("名称、统一社会信用代码或身份证号").fill("夕阳虹颐养院")
    await page.get_by_role("button", name="查找").click()
    await fits_both_phones(page)
    await page.get_by_role("link", name="长兴县夕阳红颐养院").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("长兴县夕阳红颐养院")
    await expect(page.locator(".grade-line")).to_contain_text("100 分，A 级")
    await fits_both_phones(page)

    # The inspection, a deficiency at a time: each "add" saves the draft.
    await page.get_by_role("link", name="记录一次检查").click()
    await page.get_by_label("检查类型").select_option("random")
    await page.get_by_label("检查情况摘要").fill("双随机抽查：消防与照护记录")
    await page.get_by_role("button", name="添加一个问题").click()
    await expect(page.get_by_role("status")).to_have_text("草稿已保存。")
    await fill_deficiency(page, 0, "消防通道堆放杂物", "serious", "pattern", "2026-03-30")
    await page.get_by_role("button", name="添加一个问题").click()
    await fill_deficiency(page, 1, "护理记录缺签", "general", "isolated", "")
    await page.get_by_role("button", name="添加一个问题").click()
    # A deadline before the inspection: refused at its field, by the API's rule.
    await fill_deficiency(page, 2, "药品柜未上锁", "minor", "isolated", "2026-03-01")
    await page.get_by_role("button", name="检查后果并确认").click()
    error = page.locator('[id="deficiencies[2].rectification_deadline-error"]')
    await expect(error).to_have_text("不能早于检查日期")
    await expect(page.locator('[id="deficiencies[2].rectification_deadline"]')).to_have_attribute(
        "aria-invalid", "true"
    )
    await fits_both_phones(page)
    await page.locator('[id="deficiencies[2].rectification_deadline"]').fill("2026-03-20")
    await page.screenshot(path=str(ARTIFACTS / "inspection-form-phone.png"), full_page=True)
    await page.get_by_role("button", name="检查后果并确认").click()

    # What confirming will do: the engine's points for each deficiency, the new grade.
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "确认检查记录：长兴县夕阳红颐养院"
    )
    await expect(page.locator("#grade-change")).to_contain_text("100 分 A 级 → 60 分 C 级")
    points = page.get_by_role("region", name="本记录的扣分").locator("tbody tr")
    await expect(points).to_have_count(3)
    await fits_both_phones(page)
    await page.screenshot(path=str(ARTIFACTS / "inspection-confirm-phone.png"), full_page=True)
    await page.get_by_role("button", name="确认记录").click()

    await expect(page.get_by_role("status")).to_have_text("记录已确认。")
    await expect(page.locator(".grade-line")).to_contain_text("60 分，C 级")
    await expect(page.get_by_text("消防通道堆放杂物").first).to_be_visible()
    await fits_both_phones(page)
    await page.screenshot(path=str(ARTIFACTS / "inspection-subject-phone.png"), full_page=True)

    # The other forms fit the phone as well: a penalty (the longest), and an upload.
    home = page.url.split("?")[0]
    await page.goto(f"{home}/records/new?kind=penalty")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("记录行政处罚")
    await fits_both_phones(page)
    await page.goto(f"{live_server}/staff/imports")
    await expect(page.get_by_role("heading", level=1)).to_have_text("导入记录表格")
    await fits_both_phones(page)
    await page.close()
