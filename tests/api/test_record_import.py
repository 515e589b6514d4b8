"""Bulk import of an inspector's spreadsheet: bad rows named by line and column, never stored."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from factories import AUTHORITY_USCC, institution_body, make_id_number, make_uscc, practitioner_body
from openpyxl import Workbook

Headers = dict[str, str]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
async def homes(client: httpx.AsyncClient, admin: Headers) -> list[str]:
    """Three registered institutions in 330522; their USCCs."""
    codes = []
    for n in (1, 2, 3):
        response = await client.post(
            "/api/v1/institutions", json=institution_body(n), headers=admin
        )
        assert response.status_code == 201
        codes.append(make_uscc(n))
    return codes


async def upload(
    client: httpx.AsyncClient,
    headers: Headers,
    content: bytes,
    kind: str,
    media_type: str = "text/csv",
    **params: Any,
) -> httpx.Response:
    return await client.post(
        "/api/v1/records/imports",
        content=content,
        params={"kind": kind, **params},
        headers={**headers, "content-type": media_type},
    )


async def stored(
    client: httpx.AsyncClient, headers: Headers, **params: Any
) -> list[dict[str, Any]]:
    listed = await client.get(
        "/api/v1/records", params={"page_size": 200, **params}, headers=headers
    )
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


COMPLAINT_HEADER = ["institution_uscc", "occurred_on", "channel", "category", "outcome", "summary"]


async def test_good_rows_are_stored_and_each_bad_row_is_named_exactly(
    client: httpx.AsyncClient, inspector: Headers, homes: list[str]
) -> None:
    unregistered = make_uscc(77)
    content = csv_bytes(
        [
            COMPLAINT_HEADER,
            [homes[0], "2026-04-01", "hotline_12345", "care_quality", "substantiated", "第一行好"],
            [homes[1], "2026-04-31", "phone", "food", "unfounded", "日期不存在"],
            [homes[2], "2026-04-02", "fax", "fees", "maybe", "两处错误"],
            [unregistered, "2026-04-03", "letter", "safety", "substantiated", "未登记机构"],
            [homes[1], "2026-04-05", "online", "food", "unsubstantiated", "第五行好"],
            [homes[0][:-1] + "0", "2026-04-06", "visit", "other", "unfounded", "校验位错"],
            ["", "2026-04-07", "visit", "other", "unfounded", "缺机构"],
        ]
    )
    response = await upload(client, inspector, content, "complaint")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["rows_stored"], report["rows_rejected"]) == (7, 2, 5)
    assert report["records_stored"] == 2
    assert [(e["line"], e["field"]) for e in report["errors"]] == [
        (3, "occurred_on"),
        (4, "channel"),
        (4, "outcome"),
        (5, "institution_uscc"),
        (7, "institution_uscc"),
        (8, "institution_uscc"),
    ]
    assert "check character" in report["errors"][4]["message"]
    records = await stored(client, inspector)
    assert sorted(r["details"]["summary"] for r in records) == ["第一行好", "第五行好"]
    assert {r["status"] for r in records} == {"draft"}
    assert sorted(r["id"] for r in records) == sorted(report["record_ids"])


async def test_all_or_nothing_stores_nothing_when_one_row_is_bad(
    client: httpx.AsyncClient, inspector: Headers, homes: list[str]
) -> None:
    content = csv_bytes(
        [
            COMPLAINT_HEADER,
            [homes[0], "2026-04-01", "hotline_12345", "care_quality", "substantiated", "好"],
            [homes[1], "2026-04-02", "phone", "food", "pending", "坏"],
        ]
    )
    response = await upload(client, inspector, content, "complaint", mode="all_or_nothing")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["errors"] == [
        {"field": "outcome", "line": 3, "message": problem["errors"][0]["message"]}
    ]
    assert "nothing was stored" in problem["detail"]
    assert await stored(client, inspector) == []


async def test_all_or_nothing_with_good_rows_confirms_them_together(
    client: httpx.AsyncClient, inspector: Headers, homes: list[str]
) -> None:
    content = csv_bytes(
        [COMPLAINT_HEADER]
        + [[code, "2026-04-01", "letter", "fees", "substantiated", ""] for code in homes]
    )
    response = await upload(
        client, inspector, content, "complaint", mode="all_or_nothing", confirm="true"
    )
    assert response.status_code == 200, response.text
    assert response.json()["records_stored"] == 3
    assert {r["status"] for r in await stored(client, inspector)} == {"confirmed"}


async def test_an_xlsx_inspection_groups_deficiency_rows_by_ref(
    client: httpx.AsyncClient, inspector: Headers, homes: list[str]
) -> None:
    header = [
        "ref", "institution_uscc", "occurred_on", "inspection_type", "inspectors",
        "deficiency_item", "deficiency_severity", "deficiency_scope",
        "deficiency_rectification_deadline",
    ]  # fmt: skip
    content = xlsx_bytes(
        [
            header,
            ["A1", homes[0], "2026-05-06", "routine", "王建国；李红", "灭火器过期", "serious", "isolated", "2026-05-20"],
            ["A1", homes[0], "2026-05-06", "routine", "王建国；李红", "无晨检记录", "general", "pattern", None],
            ["B7", homes[1], "2026-05-07", "random", "王建国", "床位超员", "critical", "widespread", "2026-05-01"],
            ["B7", None, None, None, None, "食品留样缺失", "general", "isolated", None],
            ["C2", homes[2], "2026-05-08", "follow_up", "李红", None, None, None, None],
            ["D9", homes[2], "2026-05-09", "routine", "李红", "药品混放", "severe", "isolated", None],
        ]
    )  # fmt: skip
    response = await upload(client, inspector, content, "inspection", media_type=XLSX)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["records_stored"] == 2
    assert (report["rows_stored"], report["rows_rejected"]) == (3, 3)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [
        (4, "deficiency_rectification_deadline"),
        (5, "ref"),
        (7, "deficiency_severity"),
    ]
    assert "line 4" in report["errors"][1]["message"]
    records = {r["details"]["inspection_type"]: r for r in await stored(client, inspector)}
    assert set(records) == {"routine", "follow_up"}
    routine = records["routine"]
    assert routine["details"]["inspectors"] == ["王建国", "李红"]
    assert [d["item"] for d in routine["deficiencies"]] == ["灭火器过期", "无晨检记录"]
    assert routine["deficiencies"][0]["rectification_deadline"] == "2026-05-20"
    assert records["follow_up"]["deficiencies"] == []


async def test_rows_held_back_by_a_bad_sibling_are_reported_too(
    client: httpx.AsyncClient, inspector: Headers, homes: list[str]
) -> None:
    header = ["ref", "institution_uscc", "occurred_on", "inspection_type", "inspectors",
              "deficiency_item", "deficiency_severity", "deficiency_scope"]  # fmt: skip
    content = csv_bytes(
        [
            header,
            ["X", homes[0], "2026-05-06", "routine", "王建国", "好的一条", "minor", "isolated"],
            ["X", homes[0], "2026-05-06", "routine", "王建国", "坏的一条", "minor", "everywhere"],
        ]
    )
    report = (await upload(client, inspector, content, "inspection")).json()
    assert [(e["line"], e["field"]) for e in report["errors"]] == [
        (2, "ref"),
        (3, "deficiency_scope"),
    ]
    assert report["records_stored"] == 0
    assert await stored(client, inspector) == []


async def test_penalties_and_people_are_imported_by_code(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers, homes: list[str]
) -> None:
    person = await client.post("/api/v1/practitioners", json=practitioner_body(5), headers=admin)
    assert person.status_code == 201
    header = ["institution_uscc", "practitioner_id_number", "occurred_on", "document_no",
              "legal_basis", "violation_type", "violation_facts", "penalty_kinds", "content",
              "severity", "fine_amount", "authority_name", "authority_uscc"]  # fmt: skip
    content = csv_bytes(
        [
            header,
            ["", make_id_number(5), "2026-06-02", "长民罚〔2026〕9号", "第四十六条", "虐待老人",
             "殴打老人", "fine;confiscation", "罚款并没收", "serious", "20000", "长兴县民政局",
             AUTHORITY_USCC],
            [homes[0], "", "2026-06-03", "", "第四十六条", "消防", "通道堵塞", "fine", "罚款",
             "general", "", "长兴县民政局", AUTHORITY_USCC],
        ]
    )  # fmt: skip
    report = (await upload(client, inspector, content, "penalty")).json()
    assert [(e["line"], e["field"]) for e in report["errors"]] == [
        (3, "document_no"),
        (3, "fine_amount"),
    ]
    (penalty,) = await stored(client, inspector)
    assert penalty["practitioner_id"] == person.json()["id"]
    assert penalty["details"]["penalty_kinds"] == ["fine", "confiscation"]
    assert penalty["details"]["fine_amount"] == "20000"
    assert penalty["region_code"] == "330522"


async def test_a_gb18030_csv_from_chinese_excel_is_read(
    client: httpx.AsyncClient, inspector: Headers, homes: list[str]
) -> None:
    content = csv_bytes(
        [
            COMPLAINT_HEADER,
            [homes[0], "2026-04-01", "visit", "fees", "substantiated", "收费不透明"],
        ],
        encoding="gb18030",
    )
    report = (await upload(client, inspector, content, "complaint")).json()
    assert report["records_stored"] == 1
    (record,) = await stored(client, inspector)
    assert record["details"]["summary"] == "收费不透明"


async def test_an_unknown_column_refuses_the_file(
    client: httpx.AsyncClient, inspector: Headers, homes: list[str]
) -> None:
    content = csv_bytes(
        [
            [*COMPLAINT_HEADER, "outcom"],
            [homes[0], "2026-04-01", "visit", "fees", "unfounded", "", "x"],
        ]
    )
    response = await upload(client, inspector, content, "complaint")
    assert response.status_code == 422
    assert response.json()["errors"][0] == {
        "field": "outcom",
        "line": 1,
        "message": response.json()["errors"][0]["message"],
    }
    assert await stored(client, inspector) == []


@pytest.mark.parametrize(
    "content", [b"", b"PK\x03\x04not really a workbook", b"\xff\xfe\x00\x01binary"]
)
async def test_a_file_that_is_not_a_spreadsheet_is_named(
    client: httpx.AsyncClient, inspector: Headers, content: bytes
) -> None:
    response = await upload(client, inspector, content, "complaint")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


async def test_rows_outside_the_inspectors_region_are_refused(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers, homes: list[str]
) -> None:
    hangzhou = make_uscc(40, region="330102")
    body = institution_body(40, uscc=hangzhou, region_code="330102")
    assert (await client.post("/api/v1/institutions", json=body, headers=admin)).status_code == 201
    content = csv_bytes(
        [COMPLAINT_HEADER, [hangzhou, "2026-04-01", "visit", "fees", "unfounded", ""]]
    )
    report = (await upload(client, inspector, content, "complaint")).json()
    assert report["errors"][0]["field"] == "institution_uscc"
    assert "jurisdiction" in report["errors"][0]["message"]


async def test_an_import_retried_with_its_key_stores_once(
    client: httpx.AsyncClient, inspector: Headers, homes: list[str]
) -> None:
    content = csv_bytes(
        [COMPLAINT_HEADER, [homes[0], "2026-04-01", "visit", "fees", "unfounded", ""]]
    )
    headers = {**inspector, "Idempotency-Key": "sheet-2026-04"}
    first = await upload(client, headers, content, "complaint")
    again = await upload(client, headers, content, "complaint")
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(await stored(client, inspector)) == 1
