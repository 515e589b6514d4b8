"""The requests that once answered 500: each is now a 4xx problem naming what is wrong.

NUL characters in parameters, JSON nested 100,000 deep, dates at the calendar's edges,
and concurrent corrections of one record. The whole schema is also fuzzed by
schemathesis (tests/api/test_schema_conformance.py); these pin the cases a person found.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from factories import institution_body, penalty_body, penalty_details
from test_bad_input import assert_problem

from service.limits import EARLIEST_DATE, LATEST_DATE

ZERO_ID = "00000000-0000-0000-0000-000000000000"
USCC = "91110000600037341L"


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/public/institutions?q=a%00b", "q"),
        ("/?q=%00", "q"),
        ("/api/v1/policies/%00", "version"),
        ("/api/v1/eligibility/operating_subsidy/%00", "code"),
        ("/api/v1/public/institutions/%00", "uscc"),
        ("/api/v1/public/lists/black?region=%00", "region"),
    ],
)
async def test_a_nul_in_a_parameter_is_refused_by_name_without_login(
    client: httpx.AsyncClient, url: str, field: str
) -> None:
    assert_problem(await client.get(url), 400, field)


async def test_a_nul_in_a_body_string_is_refused_by_its_path(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"program": "operating_subsidy", "subjects": [{"uscc": USCC}, {"uscc": "a\u0000b"}]}
    response = await client.post("/api/v1/eligibility", json=body, headers=admin)
    assert_problem(response, 400, "subjects[1].uscc")


def _json_write_routes(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (method, path) whose operation takes a JSON body, path parameters filled in."""
    routes = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                filled = path
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "path":
                        filled = filled.replace("{" + parameter["name"] + "}", ZERO_ID)
                routes.append((method.upper(), filled))
    return routes


async def test_json_nested_30000_deep_is_refused_on_every_json_route(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    routes = _json_write_routes(schema)
    assert len(routes) >= 20, routes
    # 60 KB: under the test server's body limit (64 KB), thirty times the decoder's stack.
    deep = b"[" * 30_000 + b"]" * 30_000
    for method, path in routes:
        for headers in ({}, admin):
            response = await client.request(
                method, path, content=deep, headers={**headers, "content-type": "application/json"}
            )
            assert_problem(response, 400, "body")


async def test_json_within_the_depth_limit_is_still_read(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    nested_but_legal = {"program": "operating_subsidy", "subjects": [{"uscc": USCC}]}
    response = await client.post("/api/v1/eligibility", json=nested_but_legal, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["answers"][0]["status"] == "not_found"


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/public/lists/black/changes.csv?since=0001-01-01", "since"),
        ("/api/v1/public/lists/black/changes.csv?since=9999-12-31", "since"),
        (f"/api/v1/institutions/{ZERO_ID}/credit?as_of=9999-12-31", "as_of"),
        (f"/api/v1/practitioners/{ZERO_ID}/credit?as_of=0001-01-01", "as_of"),
        (f"/api/v1/eligibility/operating_subsidy/{USCC}?as_of=9999-12-31", "as_of"),
        ("/api/v1/disclosures/penalties?since=0001-01-01", "since"),
        ("/api/v1/disclosures/penalties?since=9999-12-31T23:59:59-14:00", "since"),
        ("/api/v1/disclosures/penalties?since=0001-01-01T00:00:00%2B14:00", "since"),
    ],
)
async def test_dates_outside_the_accepted_range_are_refused_by_name(
    client: httpx.AsyncClient, admin: dict[str, str], url: str, field: str
) -> None:
    response = await client.get(url, headers=admin)
    assert response.status_code in (400, 422), response.text
    assert_problem(response, response.status_code, field)
    assert LATEST_DATE.isoformat() in response.json()["detail"]


async def test_the_edges_of_the_accepted_range_are_answered(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for day in (EARLIEST_DATE, LATEST_DATE):
        response = await client.get(
            "/api/v1/public/lists/black/changes.csv", params={"since": day.isoformat()}
        )
        assert response.status_code == 200, response.text
        answer = await client.get(
            "/api/v1/disclosures/penalties", params={"since": day.isoformat()}, headers=admin
        )
        assert answer.status_code == 200, answer.text


async def test_a_penalty_published_until_9999_is_refused_by_name(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    home = (
        await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    ).json()
    body = penalty_body(home["id"], details=penalty_details(publication_end_date="9999-12-31"))
    response = await client.post("/api/v1/records", json=body, headers=admin)
    assert_problem(response, 400, "details.publication_end_date")
    body = penalty_body(home["id"], occurred_on="0001-01-01")
    response = await client.post("/api/v1/records", json=body, headers=admin)
    assert_problem(response, 400, "occurred_on")


@pytest.mark.parametrize("racers", [2, 3, 5])
async def test_concurrent_corrections_of_one_record_one_wins_the_others_conflict(
    client: httpx.AsyncClient, admin: dict[str, str], racers: int
) -> None:
    home = (
        await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    ).json()
    original = (
        await client.post(
            "/api/v1/records",
            params={"confirm": "true"},
            json=penalty_body(home["id"]),
            headers=admin,
        )
    ).json()

    async def correct(n: int) -> httpx.Response:
        details = penalty_details(fine_amount=f"{5000 + n}.00")
        return await client.post(
            f"/api/v1/records/{original['id']}/corrections",
            params={"confirm": "true"},
            json={
                "reason": f"罚款金额更正 {n}",
                "record": penalty_body(home["id"], details=details),
            },
            headers=admin,
        )

    answers = await asyncio.gather(*(correct(n) for n in range(racers)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * (racers - 1), [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert_problem(answer, 409)
    history = (await client.get(f"/api/v1/institutions/{home['id']}/records", headers=admin)).json()
    (chain,) = history["chains"]
    assert sorted(record["status"] for record in chain["records"]) == ["confirmed", "superseded"]
