"""Reviewers at work in a real browser (Debian's chromium, headless, Playwright).

A finding of abuse with actual harm proposes the institution for the black list. A
reviewer signs in with a code, finds the proposal at the top of the queue, serves the
notice and records the institution's objection; a second reviewer rejects the objection
and decides to list. A reviewer who proposed an entry by hand finds no decision button on
it, and a decision forged with a valid CSRF token is refused with a 403 page.
The server's clock is pinned, so each code belongs to a known 30-second step.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from browser_checks import ARTIFACTS, fits_the_screen
from conftest import MakeToken, MovableClock, bearer
from factories import abuse_body, institution_body, practitioner_body
from playwright.async_api import Browser, Page, ViewportSize, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col
from staff_accounts import enrolled, sign_in_on_page

from service.actor import Actor, Role
from service.auth.models import User
from service.config import Settings
from service.context import CommandContext
from service.listing.schemas import ProposalIn
from service.listing.service import propose
from service.policy.document import ListType, SubjectType
from service.wiring import PIPELINE

DESKTOP: ViewportSize = {"width": 1280, "height": 900}
NARROW: ViewportSize = {"width": 360, "height": 800}
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in China, a Monday


async def signed_in(
    browser: Browser, live_server: str, login: str, secret: str, clock: MovableClock
) -> Page:
    """A reviewer's own browser window, signed in with password and code."""
    page = await browser.new_page(viewport=DESKTOP, locale="zh-CN")
    await page.goto(f"{live_server}/staff/queue")
    await sign_in_on_page(page, login, secret=secret, now=clock())
    await expect(page.get_by_role("heading", level=1)).to_have_text("名单待办")
    return page


async def reviewer(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    live_server: str,
    clock: MovableClock,
    login: str,
) -> str:
    """A reviewer of 3305, enrolled: their TOTP secret."""
    assert settings.secret_key is not None
    secret = await enrolled(
        sessions, settings.secret_key, live_server, login=login, role="reviewer", clock=clock
    )
    assert secret is not None
    return secret


async def test_two_reviewers_take_a_proposal_from_the_queue_to_a_listing(
    browser: Browser,
    live_server: str,
    clean_db: None,
    clock: MovableClock,
    make_token: MakeToken,
    session_factory: async_sessionmaker[AsyncSession],
    test_settings: Settings,
) -> None:
    clock.set(T0)
    admin = bearer(await make_token("admin"))
    inspector = bearer(await make_token("inspector", "3305", name="王建国"))
    async with httpx.AsyncClient(base_url=live_server) as api:
        home = await api.post("/api/v1/institutions", json=institution_body(1), headers=admin)
        person = await api.post("/api/v1/practitioners", json=practitioner_body(1), headers=admin)
        finding = await api.post(
            "/api/v1/records", params={"confirm": True}, headers=inspector,
            json=abuse_body(home.json()["id"], person.json()["id"], occurred_on="2026-02-20",
                            document_no="莲民监〔2026〕5号"),
        )  # fmt: skip
        assert finding.status_code == 201, finding.text
        # Two watch-list proposals by hand, notified today: objections until 9 March.
        for n in (2, 3):
            other = await api.post("/api/v1/institutions", json=institution_body(n), headers=admin)
            entry = await api.post(
                "/api/v1/list-entries", headers=admin,
                json={"list_type": "watch", "subject_kind": "institution",
                      "subject_id": other.json()["id"], "reason_code": "WATCH_OTHER",
                      "basis": "三次检查发现同类消防隐患"},
            )  # fmt: skip
            notified = await api.post(
                f"/api/v1/list-entries/{entry.json()['id']}/notify", json={}, headers=admin
            )
            assert notified.status_code == 200, notified.text
    zhao = await reviewer(session_factory, test_settings, live_server, clock, "zhao.sh")
    qian = await reviewer(session_factory, test_settings, live_server, clock, "qian.sh")
    clock.set(T0 + timedelta(minutes=1))

    # The first reviewer: the finding's proposals head the queue, nothing overdue yet.
    page = await signed_in(browser, live_server, "zhao.sh", zhao, clock)
    first_row = page.locator("table.queue tbody tr").first
    await expect(first_row).to_contain_text("送达告知书")
    await expect(page.locator("#overdue-count")).to_have_text("没有逾期事项")
    await page.screenshot(path=str(ARTIFACTS / "review-queue.png"), full_page=True)
    await page.get_by_role("link", name="莲都区第1颐养院").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "莲都区第1颐养院：失信联合惩戒对象名单"
    )
    await expect(page.locator("#entry-status")).to_have_text("已提议")
    await expect(page.get_by_role("heading", name="作出决定")).to_have_count(0)

    # Serve the notice, with its number; it is shown as sent, printable.
    notify = page.locator("form", has=page.get_by_role("heading", name="送达告知书"))
    await notify.get_by_label("文书编号").fill("莲民信告〔2026〕3号")
    await notify.get_by_role("button", name="送达告知书").click()
    await expect(page.get_by_role("status")).to_have_text("已完成：送达告知书。")
    await expect(page.locator("#entry-status")).to_have_text("已告知")
    await expect(page.locator("pre.letter").first).to_contain_text("（含当日）")
    await expect(page.locator("#window")).to_contain_text("2026-03-09")

    # Record the objection the institution sent, with its evidence.
    objection = page.locator("form", has=page.get_by_role("heading", name="记录异议"))
    await objection.get_by_label("异议人").fill("莲都区第1颐养院 法定代表人 陈某")
    await objection.get_by_label("异议内容").fill("涉事护理员已于当日停职，机构不应承担责任")
    await objection.get_by_label("证据").fill("停职通知一份")
    await objection.get_by_role("button", name="记录异议").click()
    await expect(page.locator("#entry-status")).to_have_text("已提出异议")
    await expect(page.locator("table.objections")).to_contain_text("停职通知一份")
    entry_url = page.url.split("?")[0]
    await page.close()

    # The second reviewer rejects the objection and decides to list.
    clock.set(T0 + timedelta(minutes=2))
    page = await signed_in(browser, live_server, "qian.sh", qian, clock)
    await page.goto(entry_url)
    ruling = page.locator("form", has=page.get_by_role("heading", name="异议复核"))
    await ruling.get_by_label("复核意见").fill("停职不影响机构的管理责任，异议不成立")
    await ruling.get_by_role("button", name="异议不成立").click()
    await expect(page.locator("#entry-status")).to_have_text("异议不成立")
    decision = page.locator("form", has=page.get_by_role("heading", name="作出决定"))
    await decision.get_by_role("button", name="决定列入").click()  # nothing filled in yet
    await expect(decision.locator("#decision-comment-error")).to_have_text("必须填写")
    await expect(decision.get_by_label("说明")).to_have_attribute("aria-invalid", "true")
    await decision.get_by_label("说明").fill("事实清楚，证据确凿")
    await decision.get_by_label("文书编号（必填）").fill("莲民信决〔2026〕3号")
    await decision.get_by_role("button", name="决定列入").click()
    await expect(page.locator("#entry-status")).to_have_text("已决定列入")
    history = page.locator("table.history tbody tr")
    await expect(history).to_have_count(5)  # proposed, notified, objection, rejected, listed
    await expect(history.nth(4)).to_contain_text("测试 qian.sh")
    await expect(page.get_by_role("heading", name="列入失信联合惩戒对象名单决定书")).to_be_visible()
    await page.screenshot(path=str(ARTIFACTS / "review-entry.png"), full_page=True)

    # On a 360 px screen nothing is wider than the screen: tables become cards.
    await page.set_viewport_size(NARROW)
    assert await fits_the_screen(page)
    await page.screenshot(path=str(ARTIFACTS / "review-entry-narrow.png"), full_page=True)
    await page.goto(f"{live_server}/staff/queue")
    assert await fits_the_screen(page)
    await page.screenshot(path=str(ARTIFACTS / "review-queue-narrow.png"), full_page=True)
    await page.go_back()
    await page.set_viewport_size(DESKTOP)

    # The decision as printed: on A4, the document alone.
    await page.get_by_role(
        "link", name=re.compile("打印（A4）.*列入失信联合惩戒对象名单决定书")
    ).click()
    await page.emulate_media(media="print")
    await expect(page.locator("header")).to_be_hidden()
    await expect(page.locator("pre.letter")).to_contain_text("行政复议")
    pdf = await page.pdf(prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF")
    await page.close()

    # A fortnight on: the two decisions and the publication are overdue, counted apart.
    clock.set(datetime(2026, 3, 16, 1, 0, tzinfo=UTC))
    page = await signed_in(browser, live_server, "qian.sh", qian, clock)
    await expect(page.locator("#overdue-count")).to_have_text("逾期 3 项")
    await expect(page.locator("#counts")).to_contain_text("作出决定 2")
    await expect(page.locator("#counts")).to_contain_text("公示 1")
    await expect(page.locator("table.queue tbody tr").first).to_contain_text("张晓明")
    await page.screenshot(path=str(ARTIFACTS / "review-queue-overdue.png"), full_page=True)
    await page.close()


async def test_the_proposer_finds_no_decision_and_a_forged_one_is_refused(
    browser: Browser,
    live_server: str,
    clean_db: None,
    clock: MovableClock,
    make_token: MakeToken,
    session_factory: async_sessionmaker[AsyncSession],
    test_settings: Settings,
) -> None:
    clock.set(T0)
    admin = bearer(await make_token("admin"))
    async with httpx.AsyncClient(base_url=live_server) as api:
        home = await api.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    li = await reviewer(session_factory, test_settings, live_server, clock, "li")
    async with session_factory() as session, session.begin():
        li_id = await session.scalar(sa.select(col(User.id)).where(col(User.login) == "li"))
        entry = await propose(
            session, CommandContext(Actor(li_id, Role.REVIEWER, "3305"), clock=clock, pipeline=PIPELINE),
            ProposalIn(list_type=ListType.WATCH, subject_kind=SubjectType.INSTITUTION,
                       subject_id=uuid.UUID(home.json()["id"]), reason_code="WATCH_OTHER",
                       basis="三次检查发现同类消防隐患"),
        )  # fmt: skip
    async with httpx.AsyncClient(base_url=live_server) as api:
        notified = await api.post(f"/api/v1/list-entries/{entry.id}/notify", json={}, headers=admin)
        assert notified.status_code == 200, notified.text
    clock.set(T0 + timedelta(days=8))  # the window (to 9 March) is over

    page = await signed_in(browser, live_server, "li", li, clock)
    await page.goto(f"{live_server}/staff/entries/{entry.id}")
    await expect(page.locator("#four-eyes")).to_be_visible()
    await expect(page.get_by_role("button", name="决定列入")).to_have_count(0)
    await expect(page.get_by_role("button", name="决定不予列入")).to_have_count(0)

    # The decision posted anyway, with the page's own CSRF token: refused, as a page.
    token = await page.locator('input[name="csrf_token"]').first.get_attribute("value")
    assert token
    forged = await page.request.post(
        f"{live_server}/staff/entries/{entry.id}/steps/decision",
        form={"csrf_token": token, "idempotency_key": str(uuid.uuid4()), "choice": "list",
              "comment": "自己决定", "basis_document": "莲民信决〔2026〕9号"},
        max_redirects=0,
    )  # fmt: skip
    assert forged.status == 403
    assert "四眼原则" in await forged.text()
    await page.reload()
    await expect(page.locator("#entry-status")).to_have_text("已告知")
    await page.close()
