"""The registry API as an inspector and an admin use it, over real HTTP."""

from __future__ import annotations

import asyncio

import httpx
from conftest import MakeToken, bearer
from factories import institution_body, make_id_number, make_uscc, practitioner_body


async def test_admin_registers_reads_and_finds_an_institution(
    client: httpx.AsyncClient, make_token: MakeToken
) -> None:
    admin = bearer(await make_token("admin"))
    created = await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    assert created.status_code == 201
    body = created.json()
    assert body["uscc"] == make_uscc(1)
    assert body["version"] == 1
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"/api/v1/institutions/{body['id']}"

    read = await client.get(f"/api/v1/institutions/{body['id']}", headers=admin)
    assert read.status_code == 200
    assert read.json()["name"] == "莲都区第1颐养院"

    found = await client.get("/api/v1/institutions", params={"q": "第1颐养"}, headers=admin)
    assert [item["id"] for item in found.json()["items"]] == [body["id"]]
    by_code = await client.get("/api/v1/institutions", params={"q": make_uscc(1)}, headers=admin)
    assert by_code.json()["total"] == 1


async def test_uscc_from_a_letter_coded_authority_is_accepted(
    client: httpx.AsyncClient, make_token: MakeToken
) -> None:
    admin = bearer(await make_token("admin"))
    code = make_uscc(3, prefix="Y1")
    response = await client.post(
        "/api/v1/institutions", json=institution_body(3, uscc=code), headers=admin
    )
    assert response.status_code == 201
    assert response.json()["uscc"] == code


async def test_duplicate_uscc_gets_409_naming_the_code(
    client: httpx.AsyncClient, make_token: MakeToken
) -> None:
    admin = bearer(await make_token("admin"))
    assert (
        await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    ).status_code == 201
    again = await client.post(
        "/api/v1/institutions", json=institution_body(1, name="另一家"), headers=admin
    )
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert make_uscc(1) in again.json()["detail"]
    assert again.json()["errors"][0]["field"] == "uscc"


async def test_concurrent_registrations_of_one_code_create_exactly_one(
    client: httpx.AsyncClient, make_token: MakeToken
) -> None:
    admin = bearer(await make_token("admin"))
    responses = await asyncio.gather(
        *[
            client.post("/api/v1/institutions", json=institution_body(9), headers=admin)
            for _ in range(8)
        ]
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    listed = await client.get("/api/v1/institutions", params={"q": make_uscc(9)}, headers=admin)
    assert listed.json()["total"] == 1


async def test_update_needs_the_current_etag(
    client: httpx.AsyncClient, make_token: MakeToken
) -> None:
    admin = bearer(await make_token("admin"))
    created = (
        await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    ).json()
    url = f"/api/v1/institutions/{created['id']}"

    missing = await client.patch(url, json={"beds": 130}, headers=admin)
    assert missing.status_code == 428

    updated = await client.patch(url, json={"beds": 130}, headers={**admin, "If-Match": '"1"'})
    assert updated.status_code == 200
    assert updated.json()["beds"] == 130
    assert updated.headers["etag"] == '"2"'

    stale = await client.patch(url, json={"beds": 10}, headers={**admin, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert "version 2" in stale.json()["detail"]
    assert (await client.get(url, headers=admin)).json()["beds"] == 130


async def test_inspector_acts_only_inside_their_region(
    client: httpx.AsyncClient, make_token: MakeToken
) -> None:
    admin = bearer(await make_token("admin"))
    inspector = bearer(await make_token("inspector", region="3305"))
    inside = await client.post("/api/v1/institutions", json=institution_body(1), headers=inspector)
    assert inside.status_code == 201

    outside_body = institution_body(2, region_code="330102", uscc=make_uscc(2, region="330102"))
    outside = await client.post("/api/v1/institutions", json=outside_body, headers=inspector)
    assert outside.status_code == 403
    assert "330102" in outside.json()["detail"]

    elsewhere = (await client.post("/api/v1/institutions", json=outside_body, headers=admin)).json()
    assert (
        await client.get(f"/api/v1/institutions/{elsewhere['id']}", headers=inspector)
    ).status_code == 403
    assert (
        await client.get("/api/v1/institutions", params={"region": "33"}, headers=inspector)
    ).status_code == 403

    own = await client.get("/api/v1/institutions", headers=inspector)
    assert [item["region_code"] for item in own.json()["items"]] == ["330522"]
    everything = await client.get("/api/v1/institutions", params={"region": "33"}, headers=admin)
    assert everything.json()["total"] == 2


async def test_roles_without_registry_rights_are_refused(
    client: httpx.AsyncClient, make_token: MakeToken
) -> None:
    reviewer = bearer(await make_token("reviewer", region="33"))
    subsidy = bearer(await make_token("subsidy_client"))
    assert (
        await client.post("/api/v1/institutions", json=institution_body(1), headers=reviewer)
    ).status_code == 403
    assert (await client.get("/api/v1/institutions", headers=subsidy)).status_code == 403
    anonymous = await client.get("/api/v1/institutions")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    forged = await client.get("/api/v1/institutions", headers=bearer("cs_not-a-real-token"))
    assert forged.status_code == 401


async def test_listing_pages_through_results(
    client: httpx.AsyncClient, make_token: MakeToken
) -> None:
    admin = bearer(await make_token("admin"))
    for n in range(1, 6):
        await client.post("/api/v1/institutions", json=institution_body(n), headers=admin)
    first = (
        await client.get("/api/v1/institutions", params={"page_size": 2}, headers=admin)
    ).json()
    third = (
        await client.get("/api/v1/institutions", params={"page_size": 2, "page": 3}, headers=admin)
    ).json()
    assert first["total"] == 5
    assert len(first["items"]) == 2
    assert len(third["items"]) == 1
    names = {i["name"] for i in first["items"]} | {i["name"] for i in third["items"]}
    assert len(names) == 3


async def test_practitioner_id_number_is_never_returned_in_clear(
    client: httpx.AsyncClient, make_token: MakeToken
) -> None:
    inspector = bearer(await make_token("inspector", region="330522"))
    number = make_id_number(7)
    created = await client.post(
        "/api/v1/practitioners", json=practitioner_body(7), headers=inspector
    )
    assert created.status_code == 201
    assert number not in created.text
    assert created.json()["id_number_masked"] == number[:6] + "********" + number[-4:]

    found = await client.get("/api/v1/practitioners", params={"q": number}, headers=inspector)
    assert found.json()["total"] == 1
    assert number not in found.text

    duplicate = await client.post(
        "/api/v1/practitioners", json=practitioner_body(7, name="李四"), headers=inspector
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["errors"][0]["field"] == "id_number"
    assert number not in duplicate.text


async def test_practitioner_is_stored_protected(
    client: httpx.AsyncClient, make_token: MakeToken, engine: object
) -> None:
    from sqlalchemy.ext.asyncio import AsyncEngine

    assert isinstance(engine, AsyncEngine)
    admin = bearer(await make_token("admin"))
    number = make_id_number(8)
    await client.post("/api/v1/practitioners", json=practitioner_body(8), headers=admin)
    async with engine.connect() as connection:
        rows = (await connection.exec_driver_sql("SELECT * FROM practitioners")).all()
    assert len(rows) == 1
    assert all(number not in str(value) for value in rows[0])


async def test_employment_links_tie_practitioners_to_institutions(
    client: httpx.AsyncClient, make_token: MakeToken
) -> None:
    admin = bearer(await make_token("admin"))
    home = (
        await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    ).json()
    worker = (
        await client.post("/api/v1/practitioners", json=practitioner_body(1), headers=admin)
    ).json()
    link = {
        "institution_id": home["id"],
        "practitioner_id": worker["id"],
        "role": "caregiver",
        "start_date": "2024-03-01",
    }
    created = await client.post("/api/v1/employments", json=link, headers=admin)
    assert created.status_code == 201
    assert (await client.post("/api/v1/employments", json=link, headers=admin)).status_code == 409

    current = await client.get(
        f"/api/v1/institutions/{home['id']}/employments", params={"current": True}, headers=admin
    )
    assert [e["practitioner_id"] for e in current.json()] == [worker["id"]]

    ended = await client.patch(
        f"/api/v1/employments/{created.json()['id']}",
        json={"end_date": "2025-12-31"},
        headers={**admin, "If-Match": created.headers["etag"]},
    )
    assert ended.status_code == 200
    assert ended.json()["end_date"] == "2025-12-31"
    history = await client.get(f"/api/v1/practitioners/{worker['id']}/employments", headers=admin)
    assert history.json()[0]["end_date"] == "2025-12-31"
    now = await client.get(
        f"/api/v1/practitioners/{worker['id']}/employments", params={"current": True}, headers=admin
    )
    assert now.json() == []

    backwards = await client.post(
        "/api/v1/employments", json={**link, "end_date": "2020-01-01"}, headers=admin
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "end_date"
