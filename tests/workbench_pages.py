"""Every kind of page a browser test should visit, in one place: the public pages, the
workbench's pages before signing in (enrolment, sign-in, the code step) and after, for an
admin who sees them all (home, finding and a subject's page, the inspection and record
forms, the upload, the review queue, an entry and its printable document, the admins'
pages). A test builds the world they show, signs the admin in, and goes round them."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
from conftest import MakeToken, MovableClock, bearer
from factories import institution_body
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from staff_accounts import enrolled, new_staff, sign_in_on_page

from service.config import Settings
from service.policy.load import shipped_version

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
ADMIN_LOGIN = "admin.li"


@dataclass(frozen=True)
class World:
    """A care home with a notified watch-list entry, an enrolled admin (their TOTP
    secret) and a newcomer not yet enrolled (their link's token)."""

    home_id: str
    uscc: str
    entry_id: str
    admin_secret: str
    newcomer_token: str


async def build_world(
    live_server: str,
    clock: MovableClock,
    make_token: MakeToken,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> World:
    assert settings.secret_key is not None
    clock.set(T0)
    api_admin = bearer(await make_token("admin"))
    async with httpx.AsyncClient(base_url=live_server) as api:
        home = await api.post("/api/v1/institutions", json=institution_body(1), headers=api_admin)
        assert home.status_code == 201, home.text
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
        session_factory, settings.secret_key, live_server, login=ADMIN_LOGIN, role="admin",
        clock=clock,
    )  # fmt: skip
    assert secret is not None
    newcomer = await new_staff(
        session_factory, settings.secret_key, login="zhou", role="inspector", clock=clock
    )
    clock.set(T0 + timedelta(minutes=1))
    return World(
        home_id=home.json()["id"], uscc=home.json()["uscc"], entry_id=entry.json()["id"],
        admin_secret=secret, newcomer_token=newcomer,
    )  # fmt: skip


def public_paths(world: World) -> list[str]:
    """The public pages, each kind once (a 404 page is left to its own test)."""
    return ["/", f"/institutions/{world.uscc}", "/lists/black", "/lists/watch", "/transparency"]


def signed_out_paths(world: World) -> list[str]:
    """The workbench's pages before signing in."""
    return [f"/staff/enrol/{world.newcomer_token}", "/staff/sign-in"]


def staff_paths(world: World) -> list[str]:
    """The workbench's pages for a signed-in admin, under /staff."""
    home, entry = world.home_id, world.entry_id
    return [
        "/", "/subjects?q=颐养院", f"/institutions/{home}", f"/institutions/{home}/inspections/new",
        f"/institutions/{home}/records/new?kind=penalty", "/imports", "/queue", f"/entries/{entry}",
        "/admin/", "/admin/users", "/admin/users/new", "/admin/policies",
        f"/admin/policies/{shipped_version()}", "/admin/sync", "/admin/audit",
    ]  # fmt: skip


def in_english(path: str) -> str:
    return path + ("&" if "?" in path else "?") + "lang=en"


async def sign_in_admin(
    page: Page,
    live_server: str,
    world: World,
    clock: MovableClock,
    on_the_way: Callable[[str], Awaitable[None]] | None = None,
) -> None:
    """Sign the admin in on the (Chinese) sign-in page, both steps; `on_the_way` is given
    the code step's URL, to look at that page before the code is typed."""
    await page.goto(f"{live_server}/staff/sign-in")
    await sign_in_on_page(page, ADMIN_LOGIN)
    await expect(page).to_have_url(re.compile("/staff/sign-in/code"))
    if on_the_way is not None:
        await on_the_way(page.url)
    await page.get_by_label("动态验证码（6 位数字）").fill(
        pyotp.TOTP(world.admin_secret).at(clock())
    )
    await page.get_by_role("button", name="继续").click()
    await expect(page).to_have_url(re.compile(r"/staff/$"))


async def linked_paths(page: Page, live_server: str, world: World) -> list[str]:
    """Pages reached only by a link the admin sees: an entry's printable document and a
    member of staff's page."""
    staff = f"{live_server}/staff"
    await page.goto(f"{staff}/entries/{world.entry_id}")
    document = page.get_by_role("link", name=re.compile("打印（A4）")).first
    found = [await document.get_attribute("href") or ""]
    await page.goto(f"{staff}/admin/users")
    found.append(
        await page.get_by_role("link", name=f"测试 {ADMIN_LOGIN}").get_attribute("href") or ""
    )
    assert all(found), found
    return found
