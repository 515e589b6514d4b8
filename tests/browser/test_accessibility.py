"""Issue 13's accessibility bar, checked in a real browser (Debian's chromium) on every kind
of public and workbench page, in Chinese and in English:

- contrast AA: every visible element that holds text (and every field's typed text) has a
  WCAG 2.x contrast ratio of at least 4.5:1 against its effective background (3:1 for
  large text), the background found by compositing the ancestors' background colours
  over the white page;
- visible focus: tabbing through a page reaches every link, button and field that is
  visible and not disabled, and each one shows an outline or a box shadow when focused
  that it did not show before, in a colour of at least 3:1 against what lies behind it;
- labelled fields and linked errors: every field has a label (label[for], aria-label or
  aria-labelledby), and on pages with errors (the sign-in form sent empty, an inspection
  with a deadline before its date, a penalty form sent empty) every error message is
  referenced by its field's aria-describedby, and every field marked invalid points at
  its message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from conftest import MakeToken, MovableClock
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from workbench_pages import (
    World,
    build_world,
    in_english,
    linked_paths,
    public_paths,
    sign_in_admin,
    signed_out_paths,
    staff_paths,
)

from service.config import Settings

# Shared by the scripts below: colours parsed, composited, compared as WCAG 2.x does.
COLOURS = """
const parse = (text) => {
  const found = /rgba?\\(([^)]+)\\)/.exec(text || '');
  if (!found) return null;
  const parts = found[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
  return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
};
const over = (top, bottom) => {
  const alpha = top[3] + bottom[3] * (1 - top[3]);
  const mix = (i) => (top[i] * top[3] + bottom[i] * bottom[3] * (1 - top[3])) / alpha;
  return [mix(0), mix(1), mix(2), alpha];
};
const backgroundOf = (element) => {
  const layers = [];
  for (let at = element; at; at = at.parentElement) {
    const colour = parse(getComputedStyle(at).backgroundColor);
    if (colour && colour[3] > 0) {
      layers.push(colour);
      if (colour[3] >= 1) break;
    }
  }
  return layers.reverse().reduce((below, layer) => over(layer, below), [255, 255, 255, 1]);
};
const luminance = (c) => {
  const [r, g, b] = c.slice(0, 3).map((v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const ratio = (a, b) => {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (light + 0.05) / (dark + 0.05);
};
const hex = (c) => '#' + c.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
const named = (element) => {
  const path = [];
  for (let at = element; at && at !== document.body && path.length < 3; at = at.parentElement) {
    let name = at.tagName.toLowerCase();
    if (at.id) name += '#' + at.id;
    else if (at.classList.length) name += '.' + [...at.classList].join('.');
    path.unshift(name);
  }
  return path.join(' > ');
};
const seen = (element) => {
  if (!element.checkVisibility({ opacityProperty: true, visibilityProperty: true })) return false;
  const box = element.getBoundingClientRect();
  return box.width > 1 && box.height > 1 && box.right > 0 && box.bottom > 0;
};
"""

# Every element seen on the page that holds text of its own, or a field's typed text,
# whose colour falls short of its threshold against its background.
LOW_CONTRAST = (
    "() => {"
    + COLOURS
    + """
  const fields = 'input:not([type=hidden]):not([type=checkbox]):not([type=radio]), select, textarea';
  const holders = [...document.body.querySelectorAll('*')].filter((element) =>
    element.matches(fields) ||
    [...element.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim()));
  const failures = [];
  for (const element of holders) {
    if (!seen(element)) continue;
    const style = getComputedStyle(element);
    const background = backgroundOf(element);
    const colour = over(parse(style.color), background);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && parseInt(style.fontWeight, 10) >= 700);
    const needed = large ? 3 : 4.5;
    const got = ratio(colour, background);
    if (got < needed) {
      const text = (element.value || element.textContent).trim().slice(0, 40);
      failures.push(`${named(element)} "${text}": ${hex(colour)} on ${hex(background)} ` +
                    `${got.toFixed(2)}:1 < ${needed}:1`);
    }
  }
  return failures;
}"""
)

# Mark every control a keyboard user should reach (seen, not disabled, not taken out of
# the tab order), and note how each looks unfocused; returns how many there are.
MARK_CONTROLS = (
    "() => {"
    + COLOURS
    + """
  if (document.activeElement) document.activeElement.blur();
  const focusable = 'a[href], button, input:not([type=hidden]), select, textarea, summary, ' +
                    '[tabindex]:not([tabindex="-1"])';
  const controls = [...document.querySelectorAll(focusable)].filter((element) =>
    !element.disabled && element.tabIndex >= 0 && !element.closest('[inert]') &&
    (seen(element) || element.matches('a.skip')));
  window.__controls = controls.map((element) => {
    const style = getComputedStyle(element);
    return { element, name: named(element) + ' "' + (element.textContent || element.name || '').trim().slice(0, 30) + '"',
             outline: [style.outlineStyle, style.outlineWidth, style.outlineColor].join(' '),
             shadow: style.boxShadow, reached: false };
  });
  return controls.length;
}"""
)

# The focused element, after a Tab: whether it is one of the marked controls, and a
# complaint if it shows no focus indicator that stands out from its background.
FOCUSED = (
    "() => {"
    + COLOURS
    + """
  const element = document.activeElement;
  const control = (window.__controls || []).find((c) => c.element === element);
  if (!control) return { known: false, done: false, complaint: null };
  const again = control.reached;
  control.reached = true;
  const style = getComputedStyle(element);
  const behind = backgroundOf(element.parentElement || element);
  const outline = [style.outlineStyle, style.outlineWidth, style.outlineColor].join(' ');
  const outlined = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 &&
                   outline !== control.outline;
  const shadowed = style.boxShadow !== 'none' && style.boxShadow !== control.shadow;
  const colours = [];
  if (outlined) colours.push(parse(style.outlineColor));
  if (shadowed) for (const found of style.boxShadow.matchAll(/rgba?\\([^)]+\\)/g)) colours.push(parse(found[0]));
  const best = Math.max(0, ...colours.filter(Boolean).map((c) => ratio(over(c, behind), behind)));
  const complaint = best >= 3 ? null :
    `${control.name}: focused, outline ${outline} (was ${control.outline}), ` +
    `box-shadow ${style.boxShadow} (was ${control.shadow}) on ${hex(behind)}` +
    (colours.length ? `: ${best.toFixed(2)}:1 < 3:1` : ': no new outline of 2px or more, no new box shadow');
  return { known: true, done: again, complaint };
}"""
)

# A group of radio buttons is one stop for Tab (the arrow keys move within it): it counts
# as reached when one of its buttons is.
UNREACHED = """() => {
  const controls = window.__controls || [];
  const group = (c) =>
    c.element.type === 'radio' ? [...document.forms].indexOf(c.element.form) + '/' + c.element.name : null;
  const reachedGroups = new Set(controls.filter((c) => c.reached && group(c)).map(group));
  return controls.filter((c) => !c.reached && !reachedGroups.has(group(c))).map((c) => c.name);
}"""

# Fields without a label, and error messages no field's aria-describedby points at, and
# fields marked invalid that point at no error message.
UNLABELLED_AND_UNLINKED = """() => {
  const fields = [...document.querySelectorAll(
    'input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea')];
  const problems = [];
  const named = (field) => field.id || field.name || field.outerHTML.slice(0, 60);
  for (const field of fields) {
    if (field.closest('[hidden]')) continue;  // never shown (a login name for password managers)
    const byLabel = [...(field.labels || [])].some((label) => label.textContent.trim());
    const byAria = (field.getAttribute('aria-label') || '').trim() !== '';
    const byIds = (field.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
      .some((id) => document.getElementById(id)?.textContent.trim());
    if (!byLabel && !byAria && !byIds) problems.push(`field ${named(field)} has no label`);
  }
  const describedBy = new Set([...document.querySelectorAll('[aria-describedby]')]
    .filter((element) => element.matches('input, select, textarea, fieldset'))
    .flatMap((element) => element.getAttribute('aria-describedby').split(/\\s+/)));
  for (const error of document.querySelectorAll('.error, [id$="-error"]')) {
    if (!error.id || !describedBy.has(error.id))
      problems.push(`error "${error.textContent.trim()}" (${error.id || 'no id'}) is no field's description`);
  }
  for (const field of document.querySelectorAll('[aria-invalid="true"]')) {
    const ids = (field.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean);
    if (!ids.some((id) => document.getElementById(id)?.matches('.error, [id$="-error"]')))
      problems.push(`field ${named(field)} is invalid but describes no error`);
  }
  return problems;
}"""


Look = Callable[[Page], Awaitable[list[str]]]


async def every_page(
    browser: Browser,
    live_server: str,
    world: World,
    clock: MovableClock,
    look: Look,
    *,
    both_languages: bool,
) -> list[str]:
    """What `look` finds on each kind of page (in Chinese, and in English when asked): the
    public pages and the workbench's signed out in one tab, the code step on the way in,
    then an admin's pages in another."""
    found: list[str] = []

    async def looked(page: Page, url: str) -> None:
        for address in [url, in_english(url)] if both_languages else [url]:
            await open_page(page, address)
            found.extend(f"{address}: {failure}" for failure in await look(page))

    signed_out = await browser.new_page(locale="zh-CN")
    for path in public_paths(world) + signed_out_paths(world):
        await looked(signed_out, live_server + path)
    await signed_out.close()

    page = await browser.new_page(locale="zh-CN")

    async def code_step(url: str) -> None:
        found.extend(f"{url}: {failure}" for failure in await look(page))

    await sign_in_admin(page, live_server, world, clock, on_the_way=code_step)
    staff = [f"{live_server}/staff{path}" for path in staff_paths(world)]
    for url in staff + [
        live_server + path for path in await linked_paths(page, live_server, world)
    ]:
        await looked(page, url)
    await page.close()
    return found


async def open_page(page: Page, url: str) -> None:
    response = await page.goto(url)
    assert response is not None
    assert response.ok, f"{url}: {response.status}"


async def contrast_failures(page: Page) -> list[str]:
    return cast(list[str], await page.evaluate(LOW_CONTRAST))


async def focus_failures(page: Page) -> list[str]:
    """Tab through the page from its start: what shows no focus, what is never reached."""
    count = cast(int, await page.evaluate(MARK_CONTROLS))
    complaints: list[str] = []
    for _ in range(count + 10):
        await page.keyboard.press("Tab")
        focused = cast(dict[str, Any], await page.evaluate(FOCUSED))
        if focused["done"]:
            break
        if focused["complaint"] is not None:
            complaints.append(focused["complaint"])
    unreached = cast(list[str], await page.evaluate(UNREACHED))
    return complaints + [f"{name}: never reached by Tab" for name in unreached]


async def label_failures(page: Page) -> list[str]:
    return cast(list[str], await page.evaluate(UNLABELLED_AND_UNLINKED))


async def contrast_and_label_failures(page: Page) -> list[str]:
    return await contrast_failures(page) + await label_failures(page)


async def test_every_page_has_aa_contrast_and_labelled_fields_in_both_languages(
    browser: Browser,
    live_server: str,
    clean_db: None,
    clock: MovableClock,
    make_token: MakeToken,
    session_factory: async_sessionmaker[AsyncSession],
    test_settings: Settings,
) -> None:
    world = await build_world(live_server, clock, make_token, session_factory, test_settings)
    failures = await every_page(
        browser, live_server, world, clock, contrast_and_label_failures, both_languages=True
    )
    assert failures == [], "\n".join(failures)


async def test_every_page_shows_focus_and_lets_the_keyboard_reach_every_control(
    browser: Browser,
    live_server: str,
    clean_db: None,
    clock: MovableClock,
    make_token: MakeToken,
    session_factory: async_sessionmaker[AsyncSession],
    test_settings: Settings,
) -> None:
    """In Chinese only: the English pages have the same controls and the same styles."""
    world = await build_world(live_server, clock, make_token, session_factory, test_settings)
    failures = await every_page(
        browser, live_server, world, clock, focus_failures, both_languages=False
    )
    assert failures == [], "\n".join(failures)


async def test_every_error_is_linked_to_its_field(
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
    failures: list[str] = []

    for lang in ("zh", "en"):  # the sign-in form, sent empty
        await open_page(page, f"{live_server}/staff/sign-in?lang={lang}")
        await page.locator("form.stacked button[type=submit]").click()
        await expect(page.locator(".error").first).to_be_visible()
        failures += [f"sign-in ({lang}): {failure}" for failure in await label_failures(page)]
        failures += [f"sign-in ({lang}): {failure}" for failure in await contrast_failures(page)]

    await sign_in_admin(page, live_server, world, clock)
    home = f"{live_server}/staff/institutions/{world.home_id}"
    # An inspection with a deficiency due before the inspection's own date.
    await open_page(page, f"{home}/inspections/new")
    await page.get_by_label("检查类型").select_option("random")
    await page.get_by_label("检查情况摘要").fill("双随机抽查：消防")
    await page.get_by_role("button", name="添加一个问题").click()
    await page.locator('[id="deficiencies[0].item"]').fill("消防通道堆放杂物")
    await page.locator('[id="deficiencies[0].severity"]').select_option("serious")
    await page.locator('[id="deficiencies[0].scope"]').select_option("pattern")
    await page.locator('[id="deficiencies[0].rectification_deadline"]').fill("2026-03-01")
    await page.get_by_role("button", name="检查后果并确认").click()
    await expect(
        page.locator('[id="deficiencies[0].rectification_deadline-error"]')
    ).to_be_visible()
    failures += [f"inspection: {failure}" for failure in await label_failures(page)]
    failures += [f"inspection: {failure}" for failure in await contrast_failures(page)]
    failures += [f"inspection: {failure}" for failure in await focus_failures(page)]
    # A penalty sent with nothing filled in.
    await open_page(page, f"{home}/records/new?kind=penalty&lang=en")
    await page.locator("button[value=review]").click()
    await expect(page.locator(".error").first).to_be_visible()
    failures += [f"penalty: {failure}" for failure in await label_failures(page)]
    failures += [f"penalty: {failure}" for failure in await contrast_failures(page)]
    assert failures == [], "\n".join(failures)
    await page.close()
