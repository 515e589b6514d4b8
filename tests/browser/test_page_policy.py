"""The pages' Content-Security-Policy in a real browser: nothing refused, the style applied."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import CHROMIUM
from factories import institution_body
from playwright.async_api import Browser, ConsoleMessage, async_playwright

Headers = dict[str, str]
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed (apt-get install chromium; .ci/run does in CI)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield launched
        await launched.close()


async def test_every_page_keeps_its_style_under_the_policy_and_breaks_none_of_it(
    browser: Browser, client: httpx.AsyncClient, admin: Headers, live_server: str
) -> None:
    created = await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    assert created.status_code == 201
    page = await browser.new_page()
    complaints: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            complaints.append(message.text)

    page.on("console", listen)
    for path in ("/", f"/institutions/{created.json()['uscc']}?lang=en", "/lists/black",
                 "/institutions/not-a-code"):  # fmt: skip
        response = await page.goto(live_server + path)
        assert response is not None
        assert "default-src 'none'" in (await response.all_headers())["content-security-policy"]
        # The stylesheet applied: the body lost the browser's default 8px margin, and the
        # skip link sits off-screen until it is focused.
        assert await page.evaluate("getComputedStyle(document.body).marginTop") == "0px"
        assert await page.evaluate(
            "document.querySelector('a.skip').getBoundingClientRect().right < 0"
        )
    assert [text for text in complaints if "Content Security Policy" in text] == []
