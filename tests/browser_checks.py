"""What several browser tests check of a page, and where they leave their screenshots."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page

ARTIFACTS = Path(__file__).parents[1] / "test-artifacts"


async def fits_the_screen(page: Page) -> bool:
    """Nothing on the page is wider than the screen: it does not scroll sideways."""
    return bool(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))
