"""Whatever a client sends, the answer is a 4xx problem that names the field, never a 500."""

from __future__ import annotations

import csv
import io
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
import pytest
from factories import institution_body, make_id_number, practitioner_body, wrong_check_character
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.facts.details import DETAILS_OF_KIND
from service.facts.kinds import RecordKind


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    assert problem["request_id"] == response.headers["x-request-id"]
    if field is not None:
        assert field in [error["field"] for error in problem["errors"]], problem


async def test_malformed_json_names_the_body(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/institutions",
        content=b'{"name": "unterminated',
        headers={**admin, "content-type": "application/json"},
    )
    assert_problem(response, 400, "body")


async def test_wrong_uscc_check_character_names_uscc(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = institution_body(1)
    body["uscc"] = wrong_check_character(body["uscc"])
    response = await client.post("/api/v1/institutions", json=body, headers=admin)
    assert_problem(response, 422, "uscc")
    assert "check character" in response.json()["detail"]


async def test_wrong_id_number_check_digit_names_id_number(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = practitioner_body(1, id_number=wrong_check_character(make_id_number(1)))
    response = await client.post("/api/v1/practitioners", json=body, headers=admin)
    assert_problem(response, 422, "id_number")


async def test_unknown_field_is_named(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.post(
        "/api/v1/institutions", json=institution_body(1, star_rating=5), headers=admin
    )
    assert_problem(response, 400, "star_rating")


async def test_wrong_type_is_named(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.post(
        "/api/v1/institutions", json=institution_body(1, beds="many"), headers=admin
    )
    assert_problem(response, 400, "beds")


async def test_missing_field_is_named(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    body = institution_body(1)
    del body["region_code"]
    response = await client.post("/api/v1/institutions", json=body, headers=admin)
    assert_problem(response, 400, "region_code")


async def test_unknown_kind_is_named(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.post(
        "/api/v1/institutions", json=institution_body(1, kind="hotel"), headers=admin
    )
    assert_problem(response, 400, "kind")


async def test_oversized_body_is_refused(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    body = institution_body(1, address="路" * 100_000)
    response = await client.post("/api/v1/institutions", json=body, headers=admin)
    assert_problem(response, 413, "body")


@pytest.mark.parametrize(
    ("params", "field"),
    [({"page": 0}, "page"), ({"page": "two"}, "page"), ({"page_size": 1000}, "page_size")],
)
async def test_bad_page_parameters_are_named(
    client: httpx.AsyncClient, admin: dict[str, str], params: dict[str, Any], field: str
) -> None:
    response = await client.get("/api/v1/institutions", params=params, headers=admin)
    assert_problem(response, 400, field)


async def test_bad_region_filter_is_named(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.get("/api/v1/institutions", params={"region": "3x"}, headers=admin)
    assert_problem(response, 422, "region")


async def test_bad_if_match_is_named(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    created = (
        await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    ).json()
    response = await client.patch(
        f"/api/v1/institutions/{created['id']}",
        json={"beds": 1},
        headers={**admin, "If-Match": "yesterday"},
    )
    assert_problem(response, 422, "If-Match")


async def test_unknown_ids_and_routes_are_404_problems(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    missing = await client.get(
        "/api/v1/institutions/00000000-0000-0000-0000-000000000000", headers=admin
    )
    assert_problem(missing, 404)
    # No institution has an id that is not a UUID: the same answer as an unknown one.
    assert_problem(await client.get("/api/v1/institutions/not-a-uuid", headers=admin), 404)
    assert_problem(await client.get("/api/v1/nothing-here"), 404)


async def test_wrong_method_is_a_problem(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.delete("/api/v1/institutions", headers=admin)
    assert_problem(response, 405)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
institution_fields = ["name", "uscc", "region_code", "kind", "beds", "address", "status", "extra"]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.dictionaries(st.sampled_from(institution_fields), json_values, max_size=8)
    | json_values,
    path=st.sampled_from(["/api/v1/institutions", "/api/v1/practitioners", "/api/v1/employments"]),
)
async def test_no_body_a_client_can_send_causes_a_server_error(
    client: httpx.AsyncClient, admin: dict[str, str], body: Any, path: str
) -> None:
    response = await client.post(
        path,
        content=json.dumps(body).encode(),
        headers={**admin, "content-type": "application/json"},
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_nul_characters_are_refused_by_name(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/institutions", json=institution_body(1, name="颐养\x00院"), headers=admin
    )
    assert_problem(response, 400, "name")
    search = await client.get("/api/v1/institutions", params={"q": "a\x00"}, headers=admin)
    assert_problem(search, 400, "q")


# A fresh USCC for every example: the answer then depends on the texts and beds alone.
fresh_numbers = itertools.count(500_000)


def expected_refusal(name: str, address: str, beds: int) -> tuple[int, str] | None:
    """The status and the field a body with these values is refused for, or None.

    The guard before every route names the first text holding a NUL (name comes before
    address in the body); decoding then names the first field out of its bounds; a name
    that is only whitespace passes decoding and is refused by the registry.
    """
    for field_name, text in (("name", name), ("address", address)):
        if "\x00" in text:
            return 400, field_name
    if not name:
        return 400, "name"
    if not 0 <= beds <= 100_000:
        return 400, "beds"
    if not name.strip():
        return 422, "name"
    return None


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.text(max_size=60) | st.text(" \t\u3000", min_size=1, max_size=4),
    address=st.text(max_size=60),
    beds=st.integers(-2, 100_002) | st.integers(),
)
async def test_any_text_in_a_valid_body_is_stored_as_sent_or_refused_by_name(
    client: httpx.AsyncClient, admin: dict[str, str], name: str, address: str, beds: int
) -> None:
    body = institution_body(next(fresh_numbers), name=name, address=address, beds=beds)
    response = await client.post("/api/v1/institutions", json=body, headers=admin)
    refusal = expected_refusal(name, address, beds)
    if refusal is not None:
        assert_problem(response, *refusal)
        return
    assert response.status_code == 201, response.text
    stored = response.json()
    assert (stored["name"], stored["address"], stored["beds"]) == (
        name.strip(),
        address.strip(),
        beds,
    )


record_kinds = st.sampled_from(
    ["inspection", "complaint", "abuse_finding", "penalty", "commendation", "visit"]
)
record_values = {
    "kind": record_kinds,
    "institution_id": st.uuids().map(str) | json_values,
    "occurred_on": st.dates().map(lambda d: d.isoformat()) | json_values,
    "document_no": json_values,
    "details": st.dictionaries(
        st.sampled_from(
            [
                "inspection_type",
                "channel",
                "outcome",
                "penalty_kinds",
                "fine_amount",
                "authority_uscc",
                "harm",
                "level",
                "title",
                "x",
            ]
        ),
        json_values,
        max_size=6,
    ),
    "deficiencies": st.lists(
        st.dictionaries(
            st.sampled_from(["item", "severity", "scope", "rectified_on"]), json_values
        ),
        max_size=3,
    ),
}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.fixed_dictionaries({}, optional=record_values) | json_values,
    path=st.sampled_from(
        [
            "/api/v1/records",
            "/api/v1/records/00000000-0000-0000-0000-000000000000/corrections",
            "/api/v1/records/00000000-0000-0000-0000-000000000000/revoke",
        ]
    ),
)
async def test_no_record_body_causes_a_server_error(
    client: httpx.AsyncClient, admin: dict[str, str], body: Any, path: str
) -> None:
    if path.endswith("/corrections"):
        body = {"reason": "x", "record": body}
    response = await client.post(
        path,
        content=json.dumps(body).encode(),
        headers={**admin, "content-type": "application/json", "Idempotency-Key": "fuzz"},
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")


@dataclass(frozen=True)
class Upload:
    """A file to import and the answer it must get."""

    content: bytes
    kind: str
    status: int
    errors: set[tuple[str, int | None]] = field(default_factory=set)  # (field, line)
    detail: str = ""  # what a refused file's problem says
    rows: int = 0  # for an imported file: its non-empty rows, each one rejected
    required: tuple[str, ...] = ()  # the fields each of those rows is missing


def required_fields(kind: str) -> tuple[str, ...]:
    return tuple(
        f.name for f in msgspec.structs.fields(DETAILS_OF_KIND[RecordKind(kind)]) if f.required
    )


kinds = st.sampled_from(["inspection", "penalty"])
# Cell text on one line; the csv module quotes commas and quotation marks.
cells = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x00"), max_size=12
)


@st.composite
def rows_without_details(draw: st.DrawFn) -> Upload:
    """Rows under a header of two envelope columns: every non-empty one lacks the kind's
    required details, so it is rejected with them named, and nothing is stored."""
    kind = draw(kinds)
    rows = draw(st.lists(st.lists(cells, max_size=3), max_size=6))
    text = io.StringIO()
    csv.writer(text).writerows([["institution_uscc", "occurred_on"], *rows])
    non_empty = {line for line, row in enumerate(rows, start=2) if any(c.strip() for c in row)}
    required = required_fields(kind)
    return Upload(text.getvalue().encode(), kind, 200, {(name, line) for name in required
                  for line in non_empty}, rows=len(non_empty), required=required)  # fmt: skip


@st.composite
def refused_files(draw: st.DrawFn) -> Upload:
    """Files refused as a whole, naming the body or the header's unknown columns."""
    kind = draw(kinds)
    noise = draw(st.binary(max_size=200))
    text = draw(st.text(max_size=100))
    case = draw(st.sampled_from(["not_text", "nul", "empty", "not_a_workbook", "unknown_columns"]))
    if case == "not_text":  # no UTF-8 or GB18030 text holds the byte 0xFF
        content = b"x" + noise + b"\xff" + draw(st.binary(max_size=50))
        return Upload(content, kind, 422, {("body", None)}, "neither UTF-8 nor GB18030")
    if case == "nul":
        return Upload(("a,b\n" + text + "\x00").encode(), kind, 422, {("body", None)}, "NUL")
    if case == "empty":
        blank = draw(st.lists(st.sampled_from(["", " ", ",", " , ,"]), max_size=4))
        return Upload("\n".join(blank).encode(), kind, 422, {("body", None)}, "empty")
    if case == "not_a_workbook":  # the zip signature of an XLSX file, then anything
        return Upload(b"PK\x03\x04" + noise, kind, 422, {("body", None)}, "not a readable XLSX")
    names = draw(st.lists(st.from_regex(r"x_[a-z0-9_]{1,10}", fullmatch=True), min_size=1,
                          max_size=4, unique=True))  # fmt: skip
    content = (",".join(["occurred_on", *names]) + "\n" + text.replace("\x00", "")).encode()
    return Upload(content, kind, 422, {(name, 1) for name in names}, "columns")


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(upload=rows_without_details() | refused_files())
async def test_an_uploaded_file_gets_the_answer_its_content_calls_for(
    client: httpx.AsyncClient, admin: dict[str, str], upload: Upload
) -> None:
    response = await client.post(
        "/api/v1/records/imports",
        content=upload.content,
        params={"kind": upload.kind},
        headers={**admin, "content-type": "text/csv"},
    )
    if upload.status != 200:
        assert_problem(response, upload.status)
        problem = response.json()
        assert {(e["field"], e.get("line")) for e in problem["errors"]} == upload.errors
        assert upload.detail in problem["errors"][0]["message"] + problem["detail"]
        return
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["rows_rejected"], report["records_stored"]) == (
        upload.rows,
        upload.rows,
        0,
    )
    missing = {(e["field"], e["line"]) for e in report["errors"] if e["message"] == "is required"}
    assert missing >= upload.errors
    assert {e["line"] for e in report["errors"]} == {line for _, line in upload.errors}
