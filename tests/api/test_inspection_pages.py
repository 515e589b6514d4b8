"""The inspectors' pages over HTTP, as a browser posts them (issue 13): finding a subject
in one's region, logging an inspection as a draft and confirming it, a resubmitted form
creating nothing twice, and the region walls holding on every page and every write."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from audit_log import seal_now
from conftest import MovableClock
from factories import (
    complaint_body,
    inspection_body,
    institution_body,
    make_id_number,
    make_uscc,
    penalty_body,
    practitioner_body,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from staff_accounts import csrf_token, enrol, new_staff, sign_in

from service.config import Settings
from service.policy.load import shipped_policy

T0 = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)  # 10:00 in China, a Monday
KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')
VERSION = re.compile(r'name="version" value="(\d+)"')


def form_key(page: str) -> str:
    found = KEY.search(page)
    assert found, "the form has no idempotency key"
    return found.group(1)


@pytest.fixture
async def inspector_pages(
    live_server: str,
    clean_db: None,
    clock: MovableClock,
    session_factory: async_sessionmaker[AsyncSession],
    test_settings: Settings,
) -> AsyncIterator[httpx.AsyncClient]:
    """An inspector of 湖州市 (3305), signed in through the pages (no second factor)."""
    assert test_settings.secret_key is not None
    clock.set(T0)
    token = await new_staff(
        session_factory, test_settings.secret_key, login="wang.jg", role="inspector",
        region="3305", clock=clock,
    )  # fmt: skip
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        await enrol(client, token, with_second_factor=False)
        await sign_in(client, "wang.jg")
        yield client


async def register(
    client: httpx.AsyncClient, admin: dict[str, str], path: str, body: dict[str, Any]
) -> str:
    answer = await client.post(f"/api/v1/{path}", json=body, headers=admin)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def inspected(client: httpx.AsyncClient, admin: dict[str, str], home: str) -> Any:
    """A confirmed inspection of ``home`` finding one serious deficiency: its record."""
    answer = await client.post(
        "/api/v1/records", params={"confirm": "true"},
        json=inspection_body(home, deficiencies=[SERIOUS]), headers=admin,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    return answer.json()


def inspection_form(
    page: str, rows: list[dict[str, str]], action: str, **top: str
) -> dict[str, str]:
    data = {
        "csrf_token": csrf_token(page), "idempotency_key": form_key(page), "rows": str(len(rows)),
        "occurred_on": "2026-03-16", "details.inspection_type": "random",
        "details.inspectors": "王建国、李红", "details.summary": "消防与照护记录",
        "document_no": "", "legal_basis": "", "action": action, **top,
    }  # fmt: skip
    if found := VERSION.search(page):
        data["version"] = found.group(1)
    for index, row in enumerate(rows):
        for name, value in row.items():
            data[f"deficiencies[{index}].{name}"] = value
    return data


SERIOUS = {"item": "消防通道堆放杂物", "severity": "serious", "scope": "pattern",
           "rectification_deadline": "2026-03-30"}  # fmt: skip
GENERAL = {"item": "护理记录缺签", "severity": "general", "scope": "isolated",
           "rectification_deadline": ""}  # fmt: skip
MINOR = {"item": "药品柜未上锁", "severity": "minor", "scope": "isolated",
         "rectification_deadline": "2026-03-20"}  # fmt: skip


def deadline_of(page: str, row: int) -> str:
    """The rectification deadline a form's row shows."""
    field = re.search(rf'<input[^>]*id="deficiencies\[{row}\]\.rectification_deadline"[^>]*>', page)
    assert field
    value = re.search(r'value="([^"]*)"', field.group(0))
    return value.group(1) if value else ""


async def count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)


async def test_an_inspector_finds_subjects_in_their_region_by_name_typos_and_codes(
    inspector_pages: httpx.AsyncClient, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await register(client, admin, "institutions", institution_body(1, name="长兴县夕阳红颐养院"))
    await register(client, admin, "institutions", institution_body(
        2, name="杭州市夕阳红颐养院", uscc=make_uscc(2, "330102"), region_code="330102",
    ))  # fmt: skip
    person = practitioner_body(3, name="张晓明", id_number=make_id_number(3))
    await register(client, admin, "practitioners", person)

    typo = await inspector_pages.get("/staff/subjects", params={"q": "夕阳虹颐养院"})
    assert typo.status_code == 200
    assert "长兴县夕阳红颐养院" in typo.text
    assert "杭州市夕阳红颐养院" not in typo.text  # outside 3305: never shown

    by_code = await inspector_pages.get("/staff/subjects", params={"q": make_uscc(1).lower()})
    assert "长兴县夕阳红颐养院" in by_code.text
    outside = await inspector_pages.get("/staff/subjects", params={"q": make_uscc(2, "330102")})
    assert "杭州市" not in outside.text
    assert "没有找到" in outside.text

    by_number = await inspector_pages.get("/staff/subjects", params={"q": make_id_number(3)})
    assert "张晓明" in by_number.text
    number = make_id_number(3)
    assert f"{number[:6]}********{number[-4:]}" in by_number.text  # the result shows it masked

    long_term = await inspector_pages.get("/staff/subjects", params={"q": "养" * 5000})
    assert long_term.status_code == 200


async def test_an_inspection_is_drafted_row_by_row_and_confirmed_once(
    inspector_pages: httpx.AsyncClient,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    engine: AsyncEngine,
) -> None:
    pages = inspector_pages
    institution_id = await register(client, admin, "institutions", institution_body(1))
    subject = await pages.get(f"/staff/institutions/{institution_id}")
    assert subject.status_code == 200
    assert "100 分，A 级" in subject.text, subject.text

    new = await pages.get(f"/staff/institutions/{institution_id}/inspections/new")
    assert new.status_code == 200
    assert "测试 wang.jg" in new.text  # the inspector's own name, filled in
    # The first row, then "add a deficiency": a draft is saved, and the form comes back
    # with one more row.
    data = inspection_form(new.text, [SERIOUS], "add")
    created = await pages.post(f"/staff/institutions/{institution_id}/inspections", data=data)
    assert created.status_code == 303, created.text
    again = await pages.post(f"/staff/institutions/{institution_id}/inspections", data=data)
    assert again.status_code == 303
    assert again.headers["location"] == created.headers["location"]
    assert again.headers.get("idempotent-replayed") == "true"
    assert await count(engine, "records") == 1  # the double click made one draft

    draft = await pages.get(created.headers["location"])
    assert draft.status_code == 200
    assert draft.text.count("<legend>") == 2  # the saved row and a blank one
    record_id = re.search(r"/staff/records/([0-9a-f-]{36})/edit", created.headers["location"])
    assert record_id
    edit = f"/staff/records/{record_id.group(1)}/edit"

    # A wrong date is shown at its field, with the API's message, and nothing is saved.
    bad = dict(GENERAL, rectification_deadline="2026-03-01")
    refused = await pages.post(edit, data=inspection_form(draft.text, [SERIOUS, bad], "add"))
    assert refused.status_code == 422
    assert 'id="deficiencies[1].rectification_deadline-error"' in refused.text
    assert "不能早于检查日期" in refused.text  # the API's rule, said in Chinese
    english = await pages.post(
        edit + "?lang=en", data=inspection_form(draft.text, [SERIOUS, bad], "add")
    )
    assert (
        "Deficiency 2 · Rectify by (YYYY-MM-DD): must not be before the inspection date"
        in english.text
    )
    assert (
        'aria-describedby="deficiencies[1].rectification_deadline-hint deficiencies[1].rectification_deadline-error"'
        in refused.text
    )
    far = await pages.post(
        edit,
        data=inspection_form(
            refused.text, [SERIOUS, dict(GENERAL, rectification_deadline="9999-12-31")], "save"
        ),
    )
    assert far.status_code == 422
    assert "日期须在 1900-01-01 至 2199-12-31 之间" in far.text
    nul = await pages.post(
        edit, data=inspection_form(far.text, [SERIOUS], "save", **{"details.summary": "a\x00b"})
    )
    assert nul.status_code == 422
    assert "不能包含 NUL 字符" in nul.text

    saved = await pages.post(edit, data=inspection_form(nul.text, [SERIOUS, GENERAL], "add"))
    assert saved.status_code == 303, saved.text
    third = await pages.get(saved.headers["location"])
    # The general deficiency left without a deadline got the policy's, from the inspection date.
    found_on = re.search(r'name="occurred_on"[^>]*value="([0-9-]{10})"', third.text)
    assert found_on
    days = shipped_policy().inspection.rectification_days.general
    default = date.fromisoformat(found_on.group(1)) + timedelta(days=days)
    assert deadline_of(third.text, 1) == default.isoformat()
    assert deadline_of(third.text, 0) == SERIOUS["rectification_deadline"]  # as given
    review = await pages.post(
        edit, data=inspection_form(third.text, [SERIOUS, GENERAL, MINOR], "review")
    )
    assert review.status_code == 303, review.text
    assert review.headers["location"].startswith(f"/staff/records/{record_id.group(1)}/confirm")

    # What follows, before anything is confirmed: the engine's points for each deficiency.
    confirm = await pages.get(review.headers["location"])
    assert confirm.status_code == 200
    assert "100 分 A 级 → 60 分 C 级" in confirm.text  # 35 + 4 + 1 points
    subject = await pages.get(f"/staff/institutions/{institution_id}")
    assert "100 分，A 级" in subject.text  # the preview changed nothing

    data = {"csrf_token": csrf_token(confirm.text), "idempotency_key": form_key(confirm.text)}
    done = await pages.post(f"/staff/records/{record_id.group(1)}/confirm", data=data)
    assert done.status_code == 303, done.text
    replayed = await pages.post(f"/staff/records/{record_id.group(1)}/confirm", data=data)
    assert replayed.status_code == 303
    assert replayed.headers["location"] == done.headers["location"]
    await seal_now(engine)
    async with engine.connect() as connection:
        confirmations = await connection.scalar(
            sa.text("SELECT count(*) FROM audit_log WHERE action = 'record.confirm'")
        )
    assert confirmations == 1

    after = await pages.get(done.headers["location"])
    assert "记录已确认" in after.text
    assert "C 级" in after.text
    assert "消防通道堆放杂物" in after.text


async def test_the_region_walls_hold_on_every_page_and_every_write(
    inspector_pages: httpx.AsyncClient,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    engine: AsyncEngine,
) -> None:
    pages = inspector_pages
    home = await register(client, admin, "institutions", institution_body(1))
    elsewhere = await register(client, admin, "institutions", institution_body(
        2, name="杭州市西湖颐养院", uscc=make_uscc(2, "330102"), region_code="330102",
    ))  # fmt: skip
    # A worker registered in 杭州 (3301), employed here: the second subject of our home.
    worker = await register(client, admin, "practitioners", practitioner_body(
        3, name="陈外援", id_number=make_id_number(3), region_code="330102",
    ))  # fmt: skip
    link = {"institution_id": home, "practitioner_id": worker, "role": "caregiver",
            "start_date": "2024-03-01"}  # fmt: skip
    assert (await client.post("/api/v1/employments", json=link, headers=admin)).status_code == 201
    draft = await client.post(
        "/api/v1/records", json=inspection_body(elsewhere, deficiencies=[SERIOUS]), headers=admin
    )
    assert draft.status_code == 201, draft.text
    draft_id = draft.json()["id"]
    confirmed = await client.post(
        "/api/v1/records", params={"confirm": "true"},
        json=inspection_body(elsewhere, deficiencies=[SERIOUS]),
        headers=admin,
    )  # fmt: skip
    record = confirmed.json()
    open_deficiency = record["deficiencies"][0]["id"]

    # Reading: the other region's institution, its forms, its records; and the worker
    # registered there, reached from our own institution's page.
    ours = await pages.get(f"/staff/institutions/{home}")
    assert ours.status_code == 200
    assert f"/staff/practitioners/{worker}" in ours.text
    for path in (
        f"/staff/institutions/{elsewhere}",
        f"/staff/institutions/{elsewhere}/inspections/new",
        f"/staff/practitioners/{worker}",
        f"/staff/records/{draft_id}/edit",
        f"/staff/records/{draft_id}/confirm",
    ):
        answer = await pages.get(path)
        assert answer.status_code == 403, path
        assert "杭州市西湖颐养院" not in answer.text
        assert "陈外援" not in answer.text

    # Writing: each refused, nothing created or changed.
    form = await pages.get(f"/staff/institutions/{home}/inspections/new")
    before = await count(engine, "records")
    await seal_now(engine)
    audit_before = await count(engine, "audit_log")
    writes = {
        f"/staff/institutions/{elsewhere}/inspections": inspection_form(form.text, [SERIOUS], "save"),
        f"/staff/records/{draft_id}/edit": inspection_form(form.text, [SERIOUS], "save", version="1"),
        f"/staff/records/{draft_id}/confirm": {"csrf_token": csrf_token(form.text), "idempotency_key": "k-confirm"},
        f"/staff/records/{record['id']}/deficiencies/{open_deficiency}/rectification": {
            "csrf_token": csrf_token(form.text), "idempotency_key": "k-rectify",
            "rectified_on": "2026-03-16", "note": "",
        },
    }  # fmt: skip
    for path, data in writes.items():
        answer = await pages.post(path, data=data)
        assert answer.status_code == 403, (path, answer.text)
    assert await count(engine, "records") == before
    await seal_now(engine)
    assert await count(engine, "audit_log") == audit_before
    await seal_now(engine)
    async with engine.connect() as connection:
        rectified = await connection.scalar(
            sa.text("SELECT rectified_on FROM deficiencies WHERE id = :id"), {"id": open_deficiency}
        )
    assert rectified is None


async def test_a_penalty_and_a_complaint_about_a_worker_are_recorded_with_the_same_forms(
    inspector_pages: httpx.AsyncClient,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    engine: AsyncEngine,
) -> None:
    pages = inspector_pages
    home = await register(client, admin, "institutions", institution_body(1))
    worker = await register(client, admin, "practitioners", practitioner_body(3))
    link = {"institution_id": home, "practitioner_id": worker, "role": "caregiver",
            "start_date": "2024-03-01"}  # fmt: skip
    assert (await client.post("/api/v1/employments", json=link, headers=admin)).status_code == 201

    form = await pages.get(f"/staff/institutions/{home}/records/new", params={"kind": "penalty"})
    assert form.status_code == 200
    penalty = {
        "csrf_token": csrf_token(form.text), "idempotency_key": form_key(form.text),
        "action": "review", "occurred_on": "2026-03-16", "document_no": "长民罚〔2026〕3号",
        "legal_basis": "《养老机构管理办法》第四十六条",
        "details.violation_type": "未按规定开展消防安全检查",
        "details.violation_facts": "消防通道长期堆放杂物",
        "details.penalty_kinds": ["warning", "fine"], "details.content": "警告并罚款",
        "details.severity": "general", "details.fine_amount": "",
        "details.authority_name": "长兴县民政局", "details.authority_uscc": "not-a-code",
    }  # fmt: skip
    # No penalty kind ticked: the browser sends no such field at all.
    unticked = {name: value for name, value in penalty.items() if name != "details.penalty_kinds"}
    none_ticked = await pages.post(
        f"/staff/institutions/{home}/records", params={"kind": "penalty"}, data=unticked
    )
    assert none_ticked.status_code == 422
    assert 'id="details.penalty_kinds-error"' in none_ticked.text
    # The type checks find every field at once; the record's own rules follow in the service.
    refused = await pages.post(
        f"/staff/institutions/{home}/records", params={"kind": "penalty"}, data=penalty
    )
    assert refused.status_code == 422
    assert 'id="details.authority_uscc-error"' in refused.text
    assert 'id="details.fine_amount-error"' in refused.text  # a fine needs its amount
    assert 'value="fine" checked' in refused.text  # what was ticked stays ticked
    assert await count(engine, "records") == 0

    penalty |= {"details.fine_amount": "5000", "details.authority_uscc": make_uscc(9, prefix="11")}
    saved = await pages.post(
        f"/staff/institutions/{home}/records", params={"kind": "penalty"}, data=penalty
    )
    assert saved.status_code == 303, saved.text
    confirm = await pages.get(saved.headers["location"])
    assert "100 分 A 级 → 85 分 B 级" in confirm.text  # PENALTY_GENERAL: 15 points
    assert "行政处罚（一般违法）" in confirm.text  # the rule by its Chinese title
    assert "Administrative penalty" not in confirm.text
    assert "警告、罚款" in confirm.text
    data = {"csrf_token": csrf_token(confirm.text), "idempotency_key": form_key(confirm.text)}
    done = await pages.post(saved.headers["location"].split("?")[0], data=data)
    assert done.status_code == 303

    form = await pages.get(f"/staff/institutions/{home}/records/new", params={"kind": "complaint"})
    assert f'<option value="{worker}">张晓明</option>' in form.text
    complaint = {
        "csrf_token": csrf_token(form.text), "idempotency_key": form_key(form.text),
        "action": "save", "occurred_on": "2026-03-16", "practitioner_id": worker,
        "details.channel": "hotline_12345", "details.category": "care_quality",
        "details.outcome": "substantiated", "details.summary": "夜间呼叫无人应答",
    }  # fmt: skip
    saved = await pages.post(
        f"/staff/institutions/{home}/records", params={"kind": "complaint"}, data=complaint
    )
    assert saved.status_code == 303, saved.text
    draft = await pages.get(saved.headers["location"])
    assert "草稿已保存" in draft.text
    assert f'<option value="{worker}" selected>' in draft.text
    person = await pages.get(f"/staff/practitioners/{worker}")
    assert "投诉" in person.text  # the draft shows on the worker's page too


async def test_every_page_renders_in_both_languages(
    inspector_pages: httpx.AsyncClient, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    home = await register(client, admin, "institutions", institution_body(1))
    worker = await register(client, admin, "practitioners", practitioner_body(3))
    await inspected(client, admin, home)
    paths = [
        f"/staff/institutions/{home}",
        f"/staff/practitioners/{worker}",
        f"/staff/institutions/{home}/inspections/new",
        "/staff/subjects?q=颐养院",
    ]
    paths += [
        f"/staff/institutions/{home}/records/new?kind={kind}"
        for kind in ("complaint", "abuse_finding", "penalty", "commendation")
    ]
    paths += [
        f"/staff/practitioners/{worker}/records/new?kind={kind}"
        for kind in ("abuse_finding", "penalty", "commendation")
    ]
    for lang in ("zh", "en"):
        for path in paths:
            answer = await inspector_pages.get(
                path + ("&" if "?" in path else "?") + f"lang={lang}"
            )
            assert answer.status_code == 200, (path, lang)
    unknown = await inspector_pages.get(f"/staff/institutions/{home}/records/new?kind=nonsense")
    assert unknown.status_code == 422


async def test_a_confirmed_record_is_corrected_as_a_draft_and_revoked_with_a_reason(
    inspector_pages: httpx.AsyncClient,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    engine: AsyncEngine,
) -> None:
    pages = inspector_pages
    home = await register(client, admin, "institutions", institution_body(1))
    original = (await inspected(client, admin, home))["id"]

    form = await pages.get(f"/staff/records/{original}/correct")
    assert form.status_code == 200
    assert "消防通道堆放杂物" in form.text  # the record as it stands
    data = inspection_form(form.text, [dict(SERIOUS, severity="general")], "review")
    refused = await pages.post(f"/staff/records/{original}/correct", data=data)
    assert refused.status_code == 422
    assert 'id="correction_reason-error"' in refused.text
    data = inspection_form(
        refused.text, [dict(SERIOUS, severity="general")], "review",
        correction_reason="严重程度录入有误",
    )  # fmt: skip
    corrected = await pages.post(f"/staff/records/{original}/correct", data=data)
    assert corrected.status_code == 303, corrected.text
    confirm = await pages.get(corrected.headers["location"])
    assert "65 分 C 级 → 92 分 A 级" in confirm.text  # 35 points become 8
    done = await pages.post(
        corrected.headers["location"].split("?")[0],
        data={"csrf_token": csrf_token(confirm.text), "idempotency_key": form_key(confirm.text)},
    )
    assert done.status_code == 303
    subject = await pages.get(done.headers["location"])
    assert "92 分，A 级" in subject.text
    assert "更正原因：严重程度录入有误" in subject.text

    complaint = await client.post(
        "/api/v1/records", params={"confirm": "true"},
        json=complaint_body(home, occurred_on="2026-03-12"), headers=admin,
    )  # fmt: skip
    complaint_id = complaint.json()["id"]
    page = await pages.get(f"/staff/institutions/{home}")
    revoke = f"/staff/records/{complaint_id}/revoke"
    empty = await pages.post(
        revoke, data={"csrf_token": csrf_token(page.text), "idempotency_key": "r-1", "reason": ""}
    )
    assert empty.status_code == 422
    assert f'id="revoke-{complaint_id}-error"' in empty.text
    revoked = await pages.post(
        revoke,
        data={"csrf_token": csrf_token(page.text), "idempotency_key": "r-2",
              "reason": "投诉人撤回，经核实不属实", "document_no": ""},
    )  # fmt: skip
    assert revoked.status_code == 303, revoked.text
    assert "记录已撤销" in (await pages.get(revoked.headers["location"])).text
    async with engine.connect() as connection:
        status = await connection.scalar(
            sa.text("SELECT status FROM records WHERE id = :id"), {"id": complaint_id}
        )
    assert status == "revoked"

    # A penalty is revoked by a reviewer only: the service's refusal, at the field.
    penalty = await client.post(
        "/api/v1/records", params={"confirm": "true"},
        json=penalty_body(home, occurred_on="2026-03-12"), headers=admin,
    )  # fmt: skip
    penalty_id = penalty.json()["id"]
    refused = await pages.post(
        f"/staff/records/{penalty_id}/revoke",
        data={"csrf_token": csrf_token(page.text), "idempotency_key": "r-3", "reason": "错误"},
    )
    assert refused.status_code == 422
    assert "may not do this" in refused.text


def complaints_csv(*rows: list[str]) -> bytes:
    header = ["institution_uscc", "occurred_on", "channel", "category", "outcome", "summary"]
    return ("\n".join(",".join(row) for row in [header, *rows]) + "\n").encode()


async def test_an_upload_shows_each_bad_row_once_and_its_report_downloads(
    inspector_pages: httpx.AsyncClient,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    engine: AsyncEngine,
) -> None:
    pages = inspector_pages
    await register(client, admin, "institutions", institution_body(1))
    await register(client, admin, "institutions", institution_body(
        2, name="杭州市西湖颐养院", uscc=make_uscc(2, "330102"), region_code="330102",
    ))  # fmt: skip
    content = complaints_csv(
        [make_uscc(1), "2026-03-02", "hotline_12345", "care_quality", "substantiated", "好的一行"],
        [make_uscc(1), "2026-02-31", "phone", "food", "unfounded", "日期不存在"],
        [make_uscc(2, "330102"), "2026-03-03", "phone", "food", "unfounded", "辖区外"],
    )
    form = await pages.get("/staff/imports")
    assert form.status_code == 200
    data = {"csrf_token": csrf_token(form.text), "idempotency_key": form_key(form.text),
            "kind": "complaint", "mode": "best_effort", "confirm": "true"}  # fmt: skip
    files = {"file": ("投诉.csv", content, "text/csv")}
    uploaded = await pages.post("/staff/imports", data=data, files=files)
    assert uploaded.status_code == 303, uploaded.text
    # A second click: the browser's body differs by its boundary, the form's key does not.
    again = await pages.post("/staff/imports", data=data, files=files)
    assert again.status_code == 303
    assert again.headers["location"] == uploaded.headers["location"]
    assert await count(engine, "records") == 1

    report = await pages.get(uploaded.headers["location"])
    assert report.status_code == 200
    assert "2 行有问题" in report.text
    assert re.search(r'<td class="num">3</td><td><code>occurred_on</code></td>', report.text)
    assert re.search(r'<td class="num">4</td><td><code>institution_uscc</code></td>', report.text)
    csv_report = await pages.get(uploaded.headers["location"].split("?")[0] + "/errors.csv")
    assert csv_report.status_code == 200
    assert csv_report.headers["content-type"].startswith("text/csv")
    lines = csv_report.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "line,column,message"
    assert [line.split(",")[:2] for line in lines[1:]] == [
        ["3", "occurred_on"],
        ["4", "institution_uscc"],
    ]

    # All or nothing: the same rows store nothing, and say so.
    form = await pages.get("/staff/imports")
    data |= {"idempotency_key": form_key(form.text), "mode": "all_or_nothing"}
    refused = await pages.post("/staff/imports", data=data, files=files)
    assert refused.status_code == 303
    assert "未保存任何数据" in (await pages.get(refused.headers["location"])).text
    assert await count(engine, "records") == 1

    # A file that is not a spreadsheet: refused at the file field.
    data |= {"idempotency_key": form_key(form.text) + "-x"}
    broken = await pages.post(
        "/staff/imports",
        data=data,
        files={"file": ("x.xlsx", b"PK\x03\x04garbage", "application/octet-stream")},
    )
    assert broken.status_code == 422
    assert 'id="file-error"' in broken.text

    # Someone else's report is not there for them.
    assert (await client.get(uploaded.headers["location"])).status_code in (303, 404)
    missing = await pages.get("/staff/imports/no-such-key")
    assert missing.status_code == 404


async def test_hostile_forms_are_answered_never_with_a_server_error(
    inspector_pages: httpx.AsyncClient, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    pages = inspector_pages
    home = await register(client, admin, "institutions", institution_body(1))
    new = await pages.get(f"/staff/institutions/{home}/inspections/new")
    token = csrf_token(new.text)
    path = f"/staff/institutions/{home}/inspections"
    answers = [
        # multipart where a plain form is expected, with a file nobody asked for
        await pages.post(path, data=inspection_form(new.text, [SERIOUS], "save"),
                         files={"file": ("a.txt", b"x" * 1000, "text/plain")}),
        # a row count far beyond any form, and a key no header could carry
        await pages.post(path, data=inspection_form(new.text, [], "save") | {"rows": "99999999999999"}),
        await pages.post(path, data=inspection_form(new.text, [], "save", idempotency_key="é" * 300)),
        # dates in year 9999, and huge text
        await pages.post(path, data=inspection_form(new.text, [], "save", occurred_on="9999-12-31")),
        await pages.post(path, data=inspection_form(new.text, [dict(SERIOUS, item="隐" * 100_000)], "save")),
        await pages.post("/staff/records/not-a-uuid/confirm", data={"csrf_token": token}),
        await pages.post(f"/staff/records/{uuid.uuid4()}/confirm", data={"csrf_token": token}),
        await pages.post("/staff/imports", data={"csrf_token": token, "kind": "complaint\x00"}),
        await pages.get("/staff/subjects", params={"q": "\x00"}),
    ]  # fmt: skip
    assert [answer.status_code for answer in answers if answer.status_code >= 500] == []
    assert answers[3].status_code == 422
    assert "日期须在 1900-01-01 至 2199-12-31 之间" in answers[3].text


async def test_a_rectification_is_recorded_once_and_lifts_the_score(
    inspector_pages: httpx.AsyncClient,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    engine: AsyncEngine,
) -> None:
    pages = inspector_pages
    home = await register(client, admin, "institutions", institution_body(1))
    record = await inspected(client, admin, home)
    deficiency = record["deficiencies"][0]["id"]
    page = await pages.get(f"/staff/institutions/{home}")
    assert "65 分，C 级" in page.text
    path = f"/staff/records/{record['id']}/deficiencies/{deficiency}/rectification"
    key = re.findall(r'action="' + re.escape(path) + r'[^"]*" class="rectify">\s*<input[^>]*>\s*'
                     r'<input type="hidden" name="idempotency_key" value="([^"]+)"', page.text)  # fmt: skip
    assert key, "the deficiency has no rectification form"
    early = await pages.post(path, data={"csrf_token": csrf_token(page.text),
                                         "idempotency_key": key[0], "rectified_on": "2026-03-01"})  # fmt: skip
    assert early.status_code == 422
    assert f'id="rectify-{deficiency}-error"' in early.text
    data = {"csrf_token": csrf_token(page.text), "idempotency_key": key[0],
            "rectified_on": "2026-03-12", "note": "已清理"}  # fmt: skip
    done = await pages.post(path, data=data)
    assert done.status_code == 303, done.text
    again = await pages.post(path, data=data)
    assert again.status_code == 303
    assert again.headers.get("idempotent-replayed") == "true"
    after = await pages.get(done.headers["location"])
    assert "整改已记录" in after.text
    assert "82.5 分，B 级" in after.text  # rectified in time: half of 35 points
    await seal_now(engine)
    async with engine.connect() as connection:
        rectified = await connection.scalar(
            sa.text("SELECT count(*) FROM audit_log WHERE action = 'record.rectify'")
        )
    assert rectified == 1
