"""The public pages in a real browser: Debian's chromium, headless, driven by Playwright.

Where chromium is not installed they are not collected (tests/conftest.py says so
in the run's header and summary); in CI (CI=true) a missing chromium is a failure,
since `.ci/run` installs it. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from browser_checks import ARTIFACTS, fits_the_screen
from playwright.async_api import Browser, Page, ViewportSize, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.config import Settings
from service.demo.seeding import seed_demo
from service.identity.regions import region_name
from service.policy.document import Policy
from service.policy.load import DEFAULT_POLICY_FILE, load_policy

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
    await expect(page.get_by_text("Credit grade", exact=True)).to_be_visible()
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


# What a family reads on a phone: lists as cards, names, codes and dates whole, titles
# and place names instead of codes, nothing that does not apply.

NARROW = (390, 360)
# Latin words, codes (a masked ID number's asterisks included) and ISO dates: each must
# sit on one line. CJK text may break between any two characters, as it does in print.
SPLIT_TOKENS = """(root) => {
  const found = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const match of node.data.matchAll(/\\d{4}-\\d{2}-\\d{2}|[0-9A-Za-z*]+/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
      if (lines.size > 1) found.push(match[0]);
    }
  }
  return found;
}"""
# Visible elements reaching past either edge of the screen (a visually hidden table
# header, clipped to nothing, is not seen).
OVERFLOWING = """() => {
  const hidden = (e) => { for (; e; e = e.parentElement) if (getComputedStyle(e).clipPath !== 'none') return true; return false; };
  return [...document.querySelectorAll('main *')]
    .filter((e) => { const r = e.getBoundingClientRect(); return r.width && (r.right > innerWidth + 0.5 || r.left < -0.5); })
    .filter((e) => !hidden(e))
    .map((e) => e.tagName + ' ' + e.textContent.slice(0, 40));
}"""


def shipped_policy_now() -> Policy:
    return load_policy(DEFAULT_POLICY_FILE)


async def first_uscc(sessions: async_sessionmaker[AsyncSession], where: str) -> str:
    async with sessions() as session:
        code = await session.scalar(
            sa.text(f"SELECT uscc FROM public_institutions WHERE {where} ORDER BY name LIMIT 1")
        )
    assert code, where
    return str(code)


async def lays_out_for_a_reader(page: Page) -> None:
    """Nothing wider than the screen, and no word, code or date split across lines."""
    assert await page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"), (
        await page.evaluate(OVERFLOWING)
    )
    assert await page.evaluate(OVERFLOWING) == []
    assert await page.evaluate(SPLIT_TOKENS, await page.query_selector("main")) == []


async def lines_of(page: Page, selector: str) -> list[int]:
    """How many lines each matching element's text takes."""
    counts: list[int] = await page.eval_on_selector_all(
        selector,
        "(els) => els.map((e) => new Set([...e.getClientRects()].map((r) => Math.round(r.top))).size)",
    )
    return counts


@pytest.mark.parametrize("width", NARROW)
async def test_a_list_on_a_phone_is_cards_with_names_codes_and_dates_whole(
    browser: Browser, site: str, width: int
) -> None:
    page = await browser.new_page(viewport={"width": width, "height": 800}, locale="zh-CN")
    await page.goto(site + "/lists/watch")
    rows = page.locator("#entries tbody tr")
    assert await rows.count() == 20
    await lays_out_for_a_reader(page)
    # Before: the subject column was 31 px wide and the page 7,012 px tall for 20 rows.
    height = await page.evaluate("document.scrollingElement.scrollHeight")
    assert height < 3000, height
    # A name reads along a line (before: one character per line, down a 31 px column).
    assert max(await lines_of(page, "#entries td.lead a")) <= 2
    assert set(await lines_of(page, "#entries td .code")) == {1}
    assert set(await lines_of(page, "#entries time")) == {1}
    # Each card labels its values (the table's header row is for assistive technology).
    first = rows.first
    assert await first.locator("td").nth(1).get_attribute("data-label") == "统一社会信用代码"
    await expect(page.get_by_role("columnheader", name="列入事由")).to_be_attached()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"watch-list-zh-{width}.png"), full_page=True)
    await page.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_reasons_and_regions_read_as_titles_and_place_names(
    browser: Browser, site: str, session_factory: async_sessionmaker[AsyncSession], lang: str
) -> None:
    policy = shipped_policy_now()
    page = await browser.new_page(viewport=PHONE)
    for list_type in ("watch", "black"):
        await page.goto(f"{site}/lists/{list_type}?lang={lang}")
        cells = await page.locator("#entries tbody tr").evaluate_all(
            "(rows) => rows.map((r) => [...r.cells].map((c) => c.innerText.trim()))"
        )
        assert cells
        async with session_factory() as session:
            shown = (
                await session.execute(
                    sa.text(
                        "SELECT region_code, reason_code FROM public_list_entries"
                        " WHERE list_type = :type AND ended_at IS NULL"
                        " ORDER BY published_at DESC, entry_id LIMIT 20"
                    ),
                    {"type": list_type},
                )
            ).all()
        for row, (region_code, reason_code) in zip(cells, shown, strict=True):
            titled = policy.list_reason(list_type, reason_code)
            assert titled is not None
            assert row[3] == titled.title(lang) != reason_code
            name = region_name(region_code)
            assert row[2] == (
                f"{name}（{region_code}）" if lang == "zh" else f"{name} ({region_code})"
            )
        await lays_out_for_a_reader(page)

    async with session_factory() as session:
        home = (
            await session.execute(
                sa.text(
                    "SELECT uscc, region_code, document->'lists' AS lists FROM public_institutions"
                    " WHERE jsonb_array_length(document->'lists') > 0 ORDER BY name LIMIT 1"
                )
            )
        ).one()
    await page.goto(f"{site}/institutions/{home.uscc}?lang={lang}")
    titles = []
    for entry in home.lists:
        titled = policy.list_reason(entry["list_type"], entry["reason_code"])
        assert titled is not None
        titles.append(titled.title(lang))
    assert await page.locator(".listed .reason").all_inner_texts() == titles
    name = region_name(home.region_code)
    expected = f"{name}（{home.region_code}）" if lang == "zh" else f"{name} ({home.region_code})"
    await expect(page.locator("#region")).to_have_text(expected)
    await lays_out_for_a_reader(page)
    await page.close()


@pytest.mark.parametrize("width", NARROW)
async def test_an_institution_on_a_phone_shows_what_applies_and_splits_no_word(
    browser: Browser, site: str, session_factory: async_sessionmaker[AsyncSession], width: int
) -> None:
    page = await browser.new_page(viewport={"width": width, "height": 800}, locale="en-GB")
    home_care = await first_uscc(session_factory, "document->>'kind' = 'home_care'")
    await page.goto(f"{site}/institutions/{home_care}?lang=en")
    await expect(page.locator("#kind")).to_have_text("Home-care provider")
    await expect(page.locator("#beds")).to_have_count(0)  # not "Beds 0"
    await expect(page.locator("dl.facts dt", has_text="Beds")).to_have_count(0)
    await lays_out_for_a_reader(page)

    residential = await first_uscc(
        session_factory,
        "document->>'kind' = 'residential' AND jsonb_array_length(document->'penalties') > 0",
    )
    await page.goto(f"{site}/institutions/{residential}?lang=en")
    await expect(page.locator("#kind")).to_have_text("Residential care home")
    await expect(page.locator("#beds")).to_have_text(re.compile(r"^[1-9]\d*$"))
    # Before: "Residential ca|re home", "52330102MJ4|7763W91", "2029-11-|29".
    await lays_out_for_a_reader(page)
    assert await lines_of(page, "#uscc .code") == [1]
    assert set(await lines_of(page, "main time")) == {1}
    assert await page.locator("#penalties tbody tr").count() >= 1
    await page.goto(f"{site}/institutions/{residential}?lang=zh")
    await lays_out_for_a_reader(page)
    await page.close()


@pytest.mark.parametrize(
    ("lang", "label"),
    [("zh", "起始日期（格式：年-月-日，如 2025-03-10）"),
     ("en", "Since (format: YYYY-MM-DD, e.g. 2025-03-10)")],
)  # fmt: skip
async def test_the_date_field_asks_for_the_format_its_label_names(
    browser: Browser, site: str, lang: str, label: str
) -> None:
    page = await browser.new_page(viewport=PHONE, locale="zh-CN" if lang == "zh" else "en-US")
    await page.goto(f"{site}/lists/black?lang={lang}")
    since = page.get_by_label(label)
    # A text field: chromium shows no "mm/dd/yyyy" of its own on a Chinese page.
    assert await since.get_attribute("type") == "text"
    assert await since.input_value() == ""
    await since.fill("03/10/2025")
    assert not await since.evaluate("(e) => e.checkValidity()")
    await since.fill("2025-03-10")
    assert await since.evaluate("(e) => e.checkValidity()")
    async with page.expect_response(re.compile(r"/changes\.csv\?since=2025-03-10$")) as sent:
        await page.keyboard.press("Enter")
    assert (await sent.value).status == 200
    await page.close()
