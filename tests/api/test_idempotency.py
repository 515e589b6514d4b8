"""Idempotency-Key: a retried POST returns the first answer and creates nothing more."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from conftest import MakeToken, bearer
from factories import complaint_body, institution_body

Headers = dict[str, str]


@pytest.fixture
async def institution(client: httpx.AsyncClient, admin: Headers) -> str:
    response = await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    return str(response.json()["id"])


async def count_records(client: httpx.AsyncClient, headers: Headers) -> int:
    listed = await client.get("/api/v1/records", headers=headers)
    return int(listed.json()["total"])


async def test_a_retry_with_the_same_key_returns_the_first_answer(
    client: httpx.AsyncClient, admin: Headers, institution: str
) -> None:
    headers = {**admin, "Idempotency-Key": "inspection-2026-0042"}
    first = await client.post("/api/v1/records", json=complaint_body(institution), headers=headers)
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    retry = await client.post("/api/v1/records", json=complaint_body(institution), headers=headers)
    assert retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert retry.headers["location"] == first.headers["location"]
    assert retry.headers["etag"] == first.headers["etag"]
    assert await count_records(client, admin) == 1


async def test_the_same_key_with_another_body_is_refused(
    client: httpx.AsyncClient, admin: Headers, institution: str
) -> None:
    headers = {**admin, "Idempotency-Key": "k-1"}
    first = await client.post("/api/v1/records", json=complaint_body(institution), headers=headers)
    assert first.status_code == 201
    other = complaint_body(institution, occurred_on="2026-01-02")
    refused = await client.post("/api/v1/records", json=other, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "Idempotency-Key"
    assert "different request" in refused.json()["detail"]
    assert await count_records(client, admin) == 1


async def test_key_order_and_spacing_do_not_make_a_different_body(
    client: httpx.AsyncClient, admin: Headers, institution: str
) -> None:
    headers = {**admin, "Idempotency-Key": "k-2", "content-type": "application/json"}
    body = complaint_body(institution)
    compact = httpx.Response(200, json=body).content
    spaced = b'{\n  "kind": "complaint",' + compact[1:].replace(b'"kind":"complaint",', b"")
    first = await client.post("/api/v1/records", content=compact, headers=headers)
    again = await client.post("/api/v1/records", content=spaced, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]


async def test_concurrent_duplicates_create_exactly_one_record(
    client: httpx.AsyncClient, admin: Headers, institution: str
) -> None:
    headers = {**admin, "Idempotency-Key": "burst-7"}
    responses = await asyncio.gather(
        *[
            client.post(
                "/api/v1/records",
                json=complaint_body(institution),
                params={"confirm": True},
                headers=headers,
            )
            for _ in range(12)
        ]
    )
    assert [r.status_code for r in responses] == [201] * 12
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(1 for r in responses if "idempotent-replayed" not in r.headers) == 1
    assert await count_records(client, admin) == 1


async def test_keys_belong_to_one_caller(
    client: httpx.AsyncClient, admin: Headers, institution: str, make_token: MakeToken
) -> None:
    other = bearer(await make_token("admin", name="另一位管理员"))
    body = complaint_body(institution)
    mine = await client.post(
        "/api/v1/records", json=body, headers={**admin, "Idempotency-Key": "same"}
    )
    theirs = await client.post(
        "/api/v1/records", json=body, headers={**other, "Idempotency-Key": "same"}
    )
    assert mine.json()["id"] != theirs.json()["id"]
    assert await count_records(client, admin) == 2


async def test_a_refused_request_leaves_its_key_free(
    client: httpx.AsyncClient, admin: Headers, institution: str
) -> None:
    headers = {**admin, "Idempotency-Key": "try-again"}
    bad = complaint_body(institution, occurred_on="2099-01-01")
    assert (await client.post("/api/v1/records", json=bad, headers=headers)).status_code == 422
    fixed = await client.post("/api/v1/records", json=complaint_body(institution), headers=headers)
    assert fixed.status_code == 201
    assert "idempotent-replayed" not in fixed.headers


async def test_registering_an_institution_twice_with_a_key_is_one_registration(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    headers = {**admin, "Idempotency-Key": "register-88"}
    first = await client.post("/api/v1/institutions", json=institution_body(88), headers=headers)
    retry = await client.post("/api/v1/institutions", json=institution_body(88), headers=headers)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json()["id"] == first.json()["id"]
    without_key = await client.post(
        "/api/v1/institutions", json=institution_body(88), headers=admin
    )
    assert without_key.status_code == 409


@pytest.mark.parametrize("key", ["", "x" * 256, "密钥"])
async def test_a_malformed_key_is_named(
    client: httpx.AsyncClient, admin: Headers, institution: str, key: str
) -> None:
    response = await client.post(
        "/api/v1/records",
        json=complaint_body(institution),
        # As bytes: a header that is not ASCII can only be sent that way.
        headers={
            **{k.encode(): v.encode() for k, v in admin.items()},
            b"Idempotency-Key": key.encode(),
        },
    )
    assert response.status_code == 400, response.text
    assert "Idempotency-Key" in [error["field"] for error in response.json()["errors"]]
    assert await count_records(client, admin) == 0
