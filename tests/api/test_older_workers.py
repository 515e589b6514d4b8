"""Real ID numbers of older care workers are accepted everywhere a number comes in.

GB 11643's address code is where the person was registered when the number was
issued (1984 on), so a worker born in 1962 holds a code that did not exist at birth,
and counties created since python-stdnum's data (临平区, 钱塘区) are real too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from conftest import MovableClock
from factories import institution_body, make_id_number, make_uscc, practitioner_body

from service.identity.codes import id_number_with_check_digit

Headers = dict[str, str]

# Workers born 1950-1990 across Zhejiang's counties, as their cards read.
OLDER_WORKERS = [
    ("330522", "19620315"),  # 长兴县 (coded 1983), born before its code existed
    ("330102", "19580101"),  # 上城区
    ("330502", "19700101"),  # 吴兴区
    ("330106", "19650704"),  # 西湖区
    ("330783", "19500101"),  # 东阳市
    ("331102", "19660520"),  # 莲都区
    ("330103", "19731230"),  # 下城区, merged away in 2021: old cards keep it
    ("330113", "19750101"),  # 临平区, created 2021
    ("330114", "19900101"),  # 钱塘区, created 2021
]
NUMBERS = [
    make_id_number(20 + index, region=region, birth=birth)
    for index, (region, birth) in enumerate(OLDER_WORKERS)
]
# Each refused for a reason a clerk can act on.
REFUSED = {
    "wrong check digit": NUMBERS[0][:-1] + ("0" if NUMBERS[0][-1] != "0" else "1"),
    "impossible date": id_number_with_check_digit("33052219620230002"),
    "born in the future": id_number_with_check_digit("33052221000101002"),
    "born before 1900": id_number_with_check_digit("33052218991231002"),
    "unknown province": id_number_with_check_digit("99052219620315002"),
    "unknown county": id_number_with_check_digit("33999919620315002"),
}


def error_fields(response: httpx.Response) -> list[str]:
    return [error["field"] for error in response.json().get("errors", [])]


@pytest.mark.parametrize("number", NUMBERS, ids=[f"{r}-{b}" for r, b in OLDER_WORKERS])
async def test_older_workers_are_registered(
    client: httpx.AsyncClient, admin: Headers, number: str
) -> None:
    response = await client.post(
        "/api/v1/practitioners", json=practitioner_body(1, id_number=number), headers=admin
    )
    assert response.status_code == 201, response.text
    assert response.json()["id_number_masked"] == number[:6] + "*" * 8 + number[-4:]
    found = await client.get("/api/v1/practitioners", params={"q": number}, headers=admin)
    assert [p["id"] for p in found.json()["items"]] == [response.json()["id"]]


@pytest.mark.parametrize("number", list(REFUSED.values()), ids=list(REFUSED))
async def test_numbers_that_cannot_exist_are_refused_naming_id_number(
    client: httpx.AsyncClient, admin: Headers, number: str
) -> None:
    response = await client.post(
        "/api/v1/practitioners", json=practitioner_body(1, id_number=number), headers=admin
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert error_fields(response) == ["id_number"]


async def test_a_birth_date_is_checked_against_the_servers_clock(
    client: httpx.AsyncClient, admin: Headers, clock: MovableClock
) -> None:
    number = id_number_with_check_digit("33052220260601002")
    body = practitioner_body(1, id_number=number)
    clock.set(datetime(2026, 5, 31, 12, tzinfo=UTC))
    refused = await client.post("/api/v1/practitioners", json=body, headers=admin)
    assert refused.status_code == 422
    assert error_fields(refused) == ["id_number"]
    clock.set(datetime(2026, 6, 1, 12, tzinfo=UTC))
    accepted = await client.post("/api/v1/practitioners", json=body, headers=admin)
    assert accepted.status_code == 201, accepted.text


async def test_a_spreadsheet_naming_older_workers_is_imported(
    client: httpx.AsyncClient, admin: Headers, inspector: Headers
) -> None:
    home = await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    assert home.status_code == 201, home.text
    for n, number in enumerate(NUMBERS):
        body = practitioner_body(n, id_number=number)
        created = await client.post("/api/v1/practitioners", json=body, headers=admin)
        assert created.status_code == 201, created.text
    rows = ["institution_uscc,practitioner_id_number,occurred_on,category,harm,description"]
    rows += [
        f"{make_uscc(1)},{number},2026-05-01,neglect,potential,未按时翻身" for number in NUMBERS
    ]
    rows.append(f"{make_uscc(1)},{REFUSED['unknown county']},2026-05-01,neglect,potential,无此县")
    response = await client.post(
        "/api/v1/records/imports",
        content="\n".join(rows).encode(),
        params={"kind": "abuse_finding"},
        headers={**inspector, "content-type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    assert report["records_stored"] == len(NUMBERS), report
    assert [(e["line"], e["field"]) for e in report["errors"]] == [
        (len(NUMBERS) + 2, "practitioner_id_number")
    ]
    assert "address code" in report["errors"][0]["message"]


async def test_eligibility_by_id_number_answers_for_every_county(
    client: httpx.AsyncClient, admin: Headers, make_token: Any
) -> None:
    subsidy = {"Authorization": f"Bearer {await make_token('subsidy_client')}"}
    registered = NUMBERS[-1]  # 钱塘区: stdnum's validator raised KeyError for it
    created = await client.post(
        "/api/v1/practitioners", json=practitioner_body(1, id_number=registered), headers=admin
    )
    assert created.status_code == 201, created.text
    for number in NUMBERS:
        one = await client.get(
            f"/api/v1/eligibility/caregiver_post_allowance/{number}", headers=subsidy
        )
        assert one.status_code == 200, one.text
        assert one.json()["status"] == ("ok" if number == registered else "not_found")
    bulk = await client.post(
        "/api/v1/eligibility",
        json={
            "program": "caregiver_post_allowance",
            "subjects": [{"id_number": n} for n in [*NUMBERS, REFUSED["unknown province"]]],
        },
        headers=subsidy,
    )
    assert bulk.status_code == 200, bulk.text
    statuses = [answer["status"] for answer in bulk.json()["answers"]]
    assert statuses == ["not_found"] * (len(NUMBERS) - 1) + ["ok", "invalid"]
