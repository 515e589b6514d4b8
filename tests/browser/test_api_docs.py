"""The API documentation page renders in a real browser from this service's own assets."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Browser, Request, expect


async def test_the_api_docs_render_without_loading_anything_from_elsewhere(
    browser: Browser, live_server: str
) -> None:
    page = await browser.new_page()
    requested: list[str] = []

    def note(request: Request) -> None:
        requested.append(request.url)

    page.on("request", note)
    await page.goto(f"{live_server}/schema")
    # Swagger UI draws the document's title and an operation of each tag.
    await expect(page.get_by_text("Elderly-care regulatory credit service")).to_be_visible()
    await expect(page.locator(".opblock-tag", has_text="public")).to_be_visible()
    origin = urlsplit(live_server).netloc
    foreign = [url for url in requested if urlsplit(url).netloc not in ("", origin)]
    assert foreign == [], foreign
    assert any("/static/api-docs/swagger-ui-bundle.js" in url for url in requested), requested
