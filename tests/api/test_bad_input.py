"""Whatever a client sends, the answer is a 4xx problem that names the field, never a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from factories import institution_body, make_id_number, practitioner_body, wrong_check_character
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


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
    not_a_uuid = await client.get("/api/v1/institutions/not-a-uuid", headers=admin)
    assert 400 <= not_a_uuid.status_code < 500
    assert not_a_uuid.headers["content-type"].startswith("application/problem+json")
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


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(max_size=60), address=st.text(max_size=60), beds=st.integers())
async def test_any_text_in_a_valid_body_is_stored_or_refused_never_a_crash(
    client: httpx.AsyncClient, admin: dict[str, str], name: str, address: str, beds: int
) -> None:
    body = institution_body(
        abs(hash((name, address, beds))) % 10**6, name=name, address=address, beds=beds
    )
    response = await client.post("/api/v1/institutions", json=body, headers=admin)
    assert response.status_code in (201, 400, 409, 422), response.text


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


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    content=st.binary(max_size=400)
    | st.text(max_size=300).map(lambda text: ("institution_uscc,occurred_on\n" + text).encode()),
    kind=st.sampled_from(["inspection", "penalty"]),
)
async def test_no_uploaded_file_causes_a_server_error(
    client: httpx.AsyncClient, admin: dict[str, str], content: bytes, kind: str
) -> None:
    response = await client.post(
        "/api/v1/records/imports",
        content=content,
        params={"kind": kind},
        headers={**admin, "content-type": "text/csv"},
    )
    assert response.status_code < 500, response.text
