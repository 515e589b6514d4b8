"""The pages' Content-Security-Policy in a real browser: nothing refused, the style applied,
on the public pages and on every kind of workbench page (sign-in, enrolment, the code
step, home, finding and a subject's page, the inspection and record forms, the upload,
the review queue, an entry and its printable document, the admins' pages)."""

from __future__ import annotations

import httpx
from conftest import MakeToken, MovableClock
from factories import institution_body
from playwright.async_api import Browser, ConsoleMessage, Page
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from workbench_pages import (
    build_world,
    linked_paths,
    sign_in_admin,
    signed_out_paths,
    staff_paths,
)

from service.config import Settings

Headers = dict[str, str]


def refusals_of(page: Page) -> list[str]:
    """What the browser says it refused under the policy on this page, from now on."""
    complaints: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning") and "Content Security Policy" in message.text:
            complaints.append(f"{page.url}: {message.text}")

    page.on("console", listen)
    return complaints


async def holds_under_the_policy(page: Page, content_security_policy: str | None) -> None:
    """The page came with the policy, and its stylesheets applied: every one loaded, the
    body lost the browser's default 8px margin, the skip link sits off-screen until it is
    focused."""
    assert content_security_policy is not None
    assert "default-src 'none'" in content_security_policy
    assert await page.evaluate(
        "[...document.querySelectorAll('link[rel=stylesheet]')].every(l => l.sheet !== null)"
    ), page.url
    assert await page.evaluate("getComputedStyle(document.body).marginTop") == "0px", page.url
    assert await page.evaluate(
        "document.querySelector('a.skip').getBoundingClientRect().right < 0"
    ), page.url


async def visit(page: Page, url: str) -> None:
    response = await page.goto(url)
    assert response is not None
    assert response.ok, f"{url}: {response.status}"
    await holds_under_the_policy(page, await response.header_value("content-security-policy"))


async def test_every_page_keeps_its_style_under_the_policy_and_breaks_none_of_it(
    browser: Browser, client: httpx.AsyncClient, admin: Headers, live_server: str
) -> None:
    created = await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    assert created.status_code == 201
    page = await browser.new_page()
    refused = refusals_of(page)
    for path in ("/", f"/institutions/{created.json()['uscc']}?lang=en", "/lists/black"):
        await visit(page, live_server + path)
    missing = await page.goto(live_server + "/institutions/not-a-code")
    assert missing is not None
    assert missing.status == 404
    await holds_under_the_policy(page, await missing.header_value("content-security-policy"))
    assert refused == []


async def test_every_workbench_page_keeps_its_style_under_the_policy_and_breaks_none_of_it(
    browser: Browser,
    live_server: str,
    clean_db: None,
    clock: MovableClock,
    make_token: MakeToken,
    session_factory: async_sessionmaker[AsyncSession],
    test_settings: Settings,
) -> None:
    world = await build_world(live_server, clock, make_token, session_factory, test_settings)
    page = await browser.new_page(locale="zh-CN")
    refused = refusals_of(page)
    for path in signed_out_paths(world):
        await visit(page, live_server + path)
    await visit(page, f"{live_server}/staff/sign-in?lang=en")

    async def code_step(url: str) -> None:
        await visit(page, url)

    await sign_in_admin(page, live_server, world, clock, on_the_way=code_step)
    staff = f"{live_server}/staff"
    for path in staff_paths(world):
        await visit(page, staff + path)
    for path in ("/?lang=en", f"/institutions/{world.home_id}?lang=en", "/queue?lang=en"):
        await visit(page, staff + path)
    for path in await linked_paths(page, live_server, world):
        await visit(page, live_server + path)
    assert refused == []
    await page.close()
