"""The pages' Content-Security-Policy in a real browser: nothing refused, the style applied,
on the public pages and on every kind of workbench page (sign-in, enrolment, the code
step, home, finding and a subject's page, the inspection and record forms, the upload,
the review queue, an entry and its printable document, the admins' pages)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
from conftest import MakeToken, MovableClock, bearer
from factories import institution_body
from playwright.async_api import Browser, ConsoleMessage, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from staff_accounts import enrolled, new_staff, sign_in_on_page

from service.config import Settings
from service.policy.load import shipped_version

Headers = dict[str, str]
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


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
    assert test_settings.secret_key is not None
    clock.set(T0)
    api_admin = bearer(await make_token("admin"))
    async with httpx.AsyncClient(base_url=live_server) as api:
        home = await api.post("/api/v1/institutions", json=institution_body(1), headers=api_admin)
        entry = await api.post(
            "/api/v1/list-entries", headers=api_admin,
            json={"list_type": "watch", "subject_kind": "institution",
                  "subject_id": home.json()["id"], "reason_code": "WATCH_OTHER",
                  "basis": "三次检查发现同类消防隐患"},
        )  # fmt: skip
        assert entry.status_code == 201, entry.text
        notified = await api.post(
            f"/api/v1/list-entries/{entry.json()['id']}/notify", json={}, headers=api_admin
        )
        assert notified.status_code == 200, notified.text
    secret = await enrolled(
        session_factory, test_settings.secret_key, live_server, login="admin.li", role="admin",
        clock=clock,
    )  # fmt: skip
    assert secret is not None
    newcomer = await new_staff(
        session_factory, test_settings.secret_key, login="zhou", role="inspector", clock=clock
    )
    clock.set(T0 + timedelta(minutes=1))

    page = await browser.new_page(locale="zh-CN")
    refused = refusals_of(page)
    await visit(page, f"{live_server}/staff/enrol/{newcomer}")
    await visit(page, f"{live_server}/staff/sign-in?lang=en")
    await visit(page, f"{live_server}/staff/sign-in")
    await sign_in_on_page(page, "admin.li")  # the password: on to the code step
    await expect(page).to_have_url(re.compile("/staff/sign-in/code"))
    await visit(page, page.url)
    await page.get_by_label("动态验证码（6 位数字）").fill(pyotp.TOTP(secret).at(clock()))
    await page.get_by_role("button", name="继续").click()
    await expect(page).to_have_url(re.compile(r"/staff/$"))

    staff = f"{live_server}/staff"
    home_id, entry_id = home.json()["id"], entry.json()["id"]
    for path in (
        "/", "/?lang=en", "/subjects?q=颐养院", f"/institutions/{home_id}",
        f"/institutions/{home_id}?lang=en", f"/institutions/{home_id}/inspections/new",
        f"/institutions/{home_id}/records/new?kind=penalty", "/imports", "/queue",
        "/queue?lang=en", f"/entries/{entry_id}", "/admin/", "/admin/users", "/admin/users/new",
        "/admin/policies", f"/admin/policies/{shipped_version()}", "/admin/sync", "/admin/audit",
    ):  # fmt: skip
        await visit(page, staff + path)
    await page.goto(f"{staff}/entries/{entry_id}")
    document = page.get_by_role("link", name=re.compile("打印（A4）")).first
    await visit(page, live_server + (await document.get_attribute("href") or ""))
    await page.goto(f"{staff}/admin/users")
    user = await page.get_by_role("link", name="测试 admin.li").get_attribute("href")
    await visit(page, live_server + (user or ""))
    assert refused == []
    await page.close()
