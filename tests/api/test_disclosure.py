"""The dual-disclosure export of penalties, read back with standard readers."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import MakeToken, bearer
from factories import (
    AUTHORITY_USCC,
    institution_body,
    make_id_number,
    make_uscc,
    penalty_body,
    penalty_details,
    practitioner_body,
)
from openpyxl import load_workbook

Headers = dict[str, str]
URL = "/api/v1/disclosures/penalties"

# The standard field set a portal expects, in order (README, "Dual-disclosure export").
DOCUMENTED_COLUMNS = [
    "record_id", "disclosure_status", "changed_at", "withdrawal_reason", "subject_name",
    "subject_kind", "uscc", "id_number_masked", "decision_no", "violation_type",
    "violation_facts", "legal_basis", "penalty_kinds", "content", "fine_amount",
    "confiscated_amount", "licence_affected", "decision_date", "valid_until",
    "publication_end_date", "authority_name", "authority_uscc", "data_source",
    "data_source_uscc", "region_code",
]  # fmt: skip


@pytest.fixture
async def reviewer(make_token: MakeToken) -> Headers:
    return bearer(await make_token("reviewer", "33"))


async def confirmed(
    client: httpx.AsyncClient, headers: Headers, body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/records", json=body, params={"confirm": True}, headers=headers
    )
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


@pytest.fixture
async def home(client: httpx.AsyncClient, admin: Headers) -> str:
    response = await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    return str(response.json()["id"])


async def export(client: httpx.AsyncClient, headers: Headers, **params: Any) -> dict[str, Any]:
    response = await client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_published_penalties_carry_the_standard_fields(
    client: httpx.AsyncClient, admin: Headers, home: str
) -> None:
    penalty = await confirmed(client, admin, penalty_body(home))
    feed = await export(client, admin)
    assert feed["columns"] == DOCUMENTED_COLUMNS
    (row,) = feed["items"]
    assert row["record_id"] == penalty["id"]
    assert row["disclosure_status"] == "published"
    assert row["subject_kind"] == "legal_person"
    assert row["subject_name"] == "莲都区第1颐养院"
    assert row["uscc"] == make_uscc(1)
    assert row["decision_no"] == "长民罚〔2026〕3号"
    assert row["penalty_kinds"] == "fine"
    assert row["fine_amount"] == "5000.00"
    assert row["decision_date"] == "2026-06-01"
    assert row["publication_end_date"] == "2029-06-01"  # 3 years for a general violation
    assert row["authority_uscc"] == AUTHORITY_USCC
    assert row["data_source"] == "长兴县民政局"  # the deciding authority unless named


async def test_a_warning_a_draft_and_an_expired_minor_penalty_are_not_published(
    client: httpx.AsyncClient, admin: Headers, home: str
) -> None:
    warning = penalty_details(penalty_kinds=["warning"], fine_amount=None, content="警告")
    await confirmed(client, admin, penalty_body(home, details=warning))
    draft = await client.post("/api/v1/records", json=penalty_body(home), headers=admin)
    assert draft.status_code == 201
    minor = penalty_details(severity="minor")  # decided 2026-06-01: published until 2026-09-01
    old = await confirmed(client, admin, penalty_body(home, details=minor))
    assert old["details"]["publication_end_date"] == "2026-09-01"
    warned_and_fined = penalty_details(penalty_kinds=["warning", "fine"])
    shown = await confirmed(client, admin, penalty_body(home, details=warned_and_fined))
    assert [row["record_id"] for row in (await export(client, admin))["items"]] == [shown["id"]]


async def test_a_revoked_penalty_is_withdrawn_and_a_correction_replaces_its_original(
    client: httpx.AsyncClient, admin: Headers, reviewer: Headers, home: str
) -> None:
    before = datetime.now(UTC).isoformat()
    revoked = await confirmed(client, admin, penalty_body(home))
    corrected = await confirmed(client, admin, penalty_body(home, document_no="长民罚〔2026〕4号"))
    fix = penalty_body(
        home, document_no="长民罚〔2026〕4号", details=penalty_details(fine_amount="3000")
    )
    correction = await client.post(
        f"/api/v1/records/{corrected['id']}/corrections",
        json={"reason": "罚款金额更正", "record": fix},
        params={"confirm": True},
        headers=admin,
    )
    assert correction.status_code == 201
    response = await client.post(
        f"/api/v1/records/{revoked['id']}/revoke",
        json={"reason": "复议撤销"},
        headers=reviewer,
    )
    assert response.status_code == 200

    snapshot = (await export(client, admin))["items"]
    assert [(row["record_id"], row["fine_amount"]) for row in snapshot] == [
        (correction.json()["id"], "3000")
    ]
    changes = (await export(client, admin, since=before))["items"]
    state = {
        row["record_id"]: (row["disclosure_status"], row["withdrawal_reason"]) for row in changes
    }
    assert state == {
        revoked["id"]: ("withdrawn", "revoked"),
        corrected["id"]: ("withdrawn", "corrected"),
        correction.json()["id"]: ("published", None),
    }
    assert [row["changed_at"] for row in changes] == sorted(row["changed_at"] for row in changes)
    later = (await export(client, admin, since=datetime.now(UTC).isoformat()))["items"]
    assert later == []


async def test_a_penalised_person_appears_only_masked(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    person = await client.post("/api/v1/practitioners", json=practitioner_body(3), headers=admin)
    await confirmed(client, admin, penalty_body(practitioner_id=person.json()["id"]))
    response = await client.get(URL, params={"format": "csv"}, headers=admin)
    text = response.content.decode("utf-8-sig")
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["subject_kind"] == "natural_person"
    assert row["subject_name"] == "张*明"
    number = make_id_number(3)
    assert row["id_number_masked"] == number[:6] + "********" + number[-4:]
    assert number not in text
    assert "张晓明" not in text


async def test_csv_and_xlsx_open_with_standard_readers(
    client: httpx.AsyncClient, admin: Headers, home: str
) -> None:
    penalty = await confirmed(client, admin, penalty_body(home))
    as_csv = await client.get(URL, params={"format": "csv"}, headers=admin)
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.headers["content-disposition"].startswith("attachment; filename=")
    reader = csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig")))
    assert reader.fieldnames == DOCUMENTED_COLUMNS
    (row,) = list(reader)
    assert (row["record_id"], row["fine_amount"]) == (penalty["id"], "5000.00")

    as_xlsx = await client.get(URL, params={"format": "xlsx"}, headers=admin)
    assert as_xlsx.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = load_workbook(io.BytesIO(as_xlsx.content), read_only=True).worksheets[0]
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert list(header) == DOCUMENTED_COLUMNS
    (values,) = rows
    cell = dict(zip(DOCUMENTED_COLUMNS, values, strict=True))
    assert cell["record_id"] == penalty["id"]
    assert cell["subject_name"] == "莲都区第1颐养院"
    assert cell["decision_no"] == "长民罚〔2026〕3号"


async def test_text_that_looks_like_a_formula_stays_text(
    client: httpx.AsyncClient, admin: Headers, home: str
) -> None:
    details = penalty_details(violation_facts='=HYPERLINK("http://evil.example","点击")')
    await confirmed(client, admin, penalty_body(home, details=details))
    as_xlsx = await client.get(URL, params={"format": "xlsx"}, headers=admin)
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).worksheets[0]
    column = DOCUMENTED_COLUMNS.index("violation_facts") + 1
    cell = sheet.cell(row=2, column=column)
    assert cell.data_type == "s"
    assert cell.value == details["violation_facts"]
    as_csv = await client.get(URL, params={"format": "csv"}, headers=admin)
    row = next(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert row["violation_facts"].startswith("'=")


@pytest.mark.parametrize(
    ("params", "field"), [({"since": "last week"}, "since"), ({"format": "pdf"}, "format")]
)
async def test_bad_parameters_are_named(
    client: httpx.AsyncClient, admin: Headers, params: dict[str, str], field: str
) -> None:
    response = await client.get(URL, params=params, headers=admin)
    assert 400 <= response.status_code < 500
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_the_export_needs_staff_and_respects_jurisdiction(
    client: httpx.AsyncClient, admin: Headers, make_token: MakeToken, home: str
) -> None:
    await confirmed(client, admin, penalty_body(home))
    assert (await client.get(URL)).status_code == 401
    subsidy = bearer(await make_token("subsidy_client"))
    assert (await client.get(URL, headers=subsidy)).status_code == 403
    elsewhere = bearer(await make_token("inspector", "3301"))
    assert (await export(client, elsewhere))["items"] == []
    here = bearer(await make_token("inspector", "330522"))
    assert len((await export(client, here))["items"]) == 1


def test_the_readme_documents_every_column() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Dual-disclosure export", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)
    assert documented == DOCUMENTED_COLUMNS
