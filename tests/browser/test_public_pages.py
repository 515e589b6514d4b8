"""The public pages in a real browser: Debian's chromium, headless, driven by Playwright.

Where chromium is not installed they are not collected (tests/conftest.py says so
in the run's header and summary); in CI (CI=true) a missing chromium is a failure,
since `.ci/run` installs it. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.async_api import Browser, Page, ViewportSize, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.config import Settings
from service.demo.seeding import seed_demo

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
PHONE: ViewportSize = {"width": 390, "height": 844}
MASKED_ID = re.compile(r"\d{6}\*{8}\d{3}[\dX]")


@pytest.fixture
async def site(
    live_server: str,
    session_factory: async_sessionmaker[AsyncSession],
    clean_db: None,
    test_settings: Settings,
) -> str:
    assert test_settings.secret_key is not None
    async with session_factory() as session:
        await seed_demo(session, seed=1, secret_key=test_settings.secret_key)
    return live_server


async def watch_listed_home(sessions: async_sessionmaker[AsyncSession]) -> str:
    async with sessions() as session:
        name = await session.scalar(
            sa.text(
                "SELECT subject_name FROM public_list_entries WHERE list_type = 'watch'"
                " AND ended_at IS NULL ORDER BY subject_name LIMIT 1"
            )
        )
    assert name
    return str(name)


async def fits_the_screen(page: Page) -> bool:
    return bool(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


async def test_search_open_an_institution_and_read_it_in_english_on_a_phone(
    browser: Browser, site: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    name = await watch_listed_home(session_factory)
    page = await browser.new_page(viewport=PHONE, locale="zh-CN")
    await page.goto(site + "/")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    # Keyboard only: the skip link comes first, the search box is labelled.
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "跳到正文"
    search = page.get_by_label("机构名称或统一社会信用代码")
    await search.focus()
    await page.keyboard.type(name[2:-2])  # a part of the name is enough
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name=re.compile(r"共 \d+ 家机构"))).to_be_visible()
    result = page.locator("ol.results a.name", has_text=name)
    await expect(result).to_be_visible()
    assert await fits_the_screen(page)

    await result.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)
    await expect(page.locator("#grade")).to_have_text(re.compile("^[ABCD]$"))
    await expect(page.get_by_role("heading", name="重点关注名单")).to_be_visible()
    await expect(page.locator("#freshness")).to_contain_text("数据截至")
    assert await fits_the_screen(page)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "institution-zh-phone.png"), full_page=True)

    await page.get_by_role("link", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)
    await expect(page.get_by_text("Credit grade")).to_be_visible()
    await expect(page.get_by_role("heading", name="Watch list")).to_be_visible()
    await expect(page.get_by_text("Inspected more often, under closer supervision")).to_be_visible()
    await page.close()


async def test_the_black_list_shows_people_only_masked(
    browser: Browser, site: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    home = await watch_listed_home(session_factory)
    page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
    await page.goto(site + "/")
    await expect(page.locator("html")).to_have_attribute("lang", "en")  # from Accept-Language
    await page.get_by_role("link", name=re.compile("^Black list")).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Black list")
    people = page.locator("#entries tbody tr", has_text="(Individual)")
    assert await people.count() >= 1
    for row in await people.all():
        cells = await row.locator("td").all_inner_texts()
        assert "*" in cells[0]
        assert MASKED_ID.fullmatch(cells[1].strip()), cells
    snapshot = page.get_by_role("link", name="Download every entry in force (CSV)")
    assert await snapshot.get_attribute("href") == "/api/v1/public/lists/black/snapshot.csv"

    await page.goto(site + "/?lang=en")
    await page.get_by_label("Institution name or unified social credit code").fill(home)
    await page.get_by_role("button", name="Search").click()
    await page.locator("ol.results a.name", has_text=home).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(home)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "institution-en.png"), full_page=True)
    await page.close()
