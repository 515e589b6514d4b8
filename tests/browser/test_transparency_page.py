"""The transparency page in a real browser: the current key, the latest checkpoints and
how to verify them, in Chinese and English, on a phone."""

from __future__ import annotations

from audit_log import seal_now
from browser_checks import fits_the_screen
from conftest import MakeToken
from playwright.async_api import Browser, expect
from signing import session_ring
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from test_public_pages import PHONE

from service.audit import checkpoints
from service.clock import system_clock


async def test_the_page_shows_the_current_key_and_the_latest_checkpoint_in_both_languages(
    browser: Browser,
    live_server: str,
    make_token: MakeToken,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await make_token("admin")  # a user created: a row in the audit chain
    await seal_now(session_factory)
    async with session_factory() as session, session.begin():
        made = await checkpoints.make(session, session_ring(), system_clock(), only_if_moved=False)
    assert made is not None

    page = await browser.new_page(viewport=PHONE, locale="zh-CN")
    await page.goto(live_server + "/transparency")
    await expect(page.get_by_role("heading", level=1)).to_have_text("公开验证")
    key_row = page.locator("tr.key", has_text=session_ring().kid)
    await expect(key_row).to_contain_text("当前")
    checkpoint_row = page.locator("tr.checkpoint").first
    await expect(checkpoint_row).to_contain_text(str(made.sequence))
    await expect(checkpoint_row).to_contain_text(made.row_hash)
    assert await fits_the_screen(page)

    await page.locator("#language").click()
    await expect(page.get_by_role("heading", name="Latest checkpoints")).to_be_visible()
    await expect(page.locator("tr.key", has_text=session_ring().kid)).to_contain_text("current")
    await expect(page.locator("pre").first).to_contain_text("/.well-known/jwks.json")
    assert await fits_the_screen(page)
    await page.close()
