"""What every answer carries and never carries: request ids, masked paths, /metrics, headers.

- A client's X-Request-ID is kept only in a shape that cannot hold an ID number.
- Wherever a path is echoed (a problem's ``instance``, its detail, the HTML 404 page)
  an ID-number-shaped segment is masked as the public masks ID numbers.
- /metrics follows one rule whatever Authorization says: open, unless METRICS_TOKEN
  is set, and then only with that token.
- Every answer says ``nosniff``; HTML pages carry a strict CSP, frame protection and a
  Referrer-Policy, and still load their stylesheet.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from conftest import MakeToken, bearer, serve
from factories import institution_body, make_id_number

from service.app import create_app
from service.config import Settings
from service.secret import Secret

Headers = dict[str, str]
# One whose check character is X, to try its lower case too.
NUMBER = next(
    number
    for n in range(100)
    if (number := make_id_number(n, region="330522", birth="19650708")).endswith("X")
)
MASKED = NUMBER[:6] + "********" + NUMBER[-4:]


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The access log's lines as structlog hands them to logging (event dicts)."""
    return [
        record.msg
        for record in caplog.records
        if record.name == "service.access" and isinstance(record.msg, dict)
    ]


@pytest.mark.parametrize("shape", [NUMBER, NUMBER.lower(), f"req-{NUMBER}", "110105-19491231-002X"])
async def test_a_request_id_shaped_like_an_id_number_is_replaced(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, shape: str
) -> None:
    response = await client.get("/api/v1/institutions", headers={"X-Request-ID": shape})
    assert response.status_code == 401
    given = response.headers["x-request-id"]
    assert given != shape
    assert response.json()["request_id"] == given
    for _ in range(100):  # the access line is written just after the answer is sent
        if any(line["request_id"] == given for line in access_lines(caplog)):
            break
        await asyncio.sleep(0.01)
    assert any(line["request_id"] == given for line in access_lines(caplog))
    assert shape.lower() not in caplog.text.lower()


@pytest.mark.parametrize(
    "token",
    [
        "0f8e2c1a-9b7d-4e3f-8a21-6c5d4b3a2918",  # a UUID
        "9f86d081884c7d659a2feaa0c55ad015",  # a hex trace id
        "01JDX4Q8ZK5M3N7P9R2T6V8W0Y",  # a ULID
        "gateway.7f3a-20261130",
    ],
)
async def test_a_plain_request_id_crosses_services_unchanged(
    client: httpx.AsyncClient, token: str
) -> None:
    response = await client.get("/health", headers={"X-Request-ID": token})
    assert response.headers["x-request-id"] == token


async def test_a_problem_never_repeats_an_id_number_from_its_path(
    client: httpx.AsyncClient, admin: Headers, make_token: MakeToken,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    subsidy = bearer(await make_token("subsidy_client"))
    answers = [
        await client.get(f"/api/v1/practitioners/{NUMBER}", headers=admin),  # not a UUID
        await client.get(f"/api/v1/no-such-route/{NUMBER}"),  # unrouted
        await client.get(f"/api/v1/eligibility/{NUMBER}/{NUMBER}", headers=subsidy),  # detail
    ]
    for response in answers:
        assert 400 <= response.status_code < 500, response.text
        assert NUMBER not in response.text
        assert NUMBER.lower() not in response.text.lower()
    assert [r.json()["instance"] for r in answers[:2]] == [
        f"/api/v1/practitioners/{MASKED}",
        f"/api/v1/no-such-route/{MASKED}",
    ]
    assert MASKED in answers[2].json()["detail"]
    assert NUMBER.lower() not in caplog.text.lower()


async def test_the_html_not_found_page_masks_an_id_number_in_its_path(
    client: httpx.AsyncClient,
) -> None:
    for lang in ("zh", "en"):
        page = await client.get(f"/institutions/{NUMBER}", params={"lang": lang})
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert NUMBER not in page.text
        assert MASKED in page.text


# /metrics: one rule, whatever Authorization says


async def test_open_metrics_ignore_whatever_authorization_is_sent(
    client: httpx.AsyncClient,
) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-real-token"}, {"Authorization": "x"}):
        response = await client.get("/metrics", headers=headers)
        assert response.status_code == 200, (headers, response.text)
        assert "credit_service" in response.text


@pytest.fixture
async def metrics_server(test_settings: Settings) -> AsyncIterator[str]:
    app = create_app(replace(test_settings, metrics_token=Secret("scrape-" + "s" * 32)))
    async for url in serve(app):
        yield url


async def test_a_metrics_token_is_needed_once_one_is_configured(
    metrics_server: str, clean_db: None, make_token: MakeToken
) -> None:
    admin = bearer(await make_token("admin"))
    async with httpx.AsyncClient(base_url=metrics_server) as http:
        for headers in ({}, {"Authorization": "Bearer not-a-real-token"}, admin):
            refused = await http.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert refused.headers["content-type"].startswith("application/problem+json")
        allowed = await http.get("/metrics", headers=bearer("scrape-" + "s" * 32))
    assert allowed.status_code == 200
    assert "credit_service" in allowed.text


# Headers that protect a browser


async def test_pages_carry_a_strict_policy_and_every_answer_says_nosniff(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    created = await client.post("/api/v1/institutions", json=institution_body(1), headers=admin)
    assert created.status_code == 201
    uscc = created.json()["uscc"]
    pages = [
        await client.get("/"),
        await client.get("/", params={"q": "颐养", "lang": "en"}),
        await client.get(f"/institutions/{uscc}"),
        await client.get("/lists/black"),
        await client.get("/institutions/not-a-code"),  # the HTML 404
    ]
    for page in pages:
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "script-src" not in policy  # no script may run at all
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "<style" not in page.text
        assert "style=" not in page.text
        assert '<link rel="stylesheet" href="/static/public/site.css">' in page.text
    stylesheet = await client.get("/static/public/site.css")
    assert stylesheet.status_code == 200
    assert stylesheet.headers["content-type"].startswith("text/css")
    assert "--accent" in stylesheet.text

    others = [
        stylesheet,
        await client.get(f"/api/v1/public/institutions/{uscc}"),
        await client.get("/api/v1/public/lists/black/snapshot.csv"),
        await client.get(f"/api/v1/institutions/{created.json()['id']}", headers=admin),
        await client.get("/api/v1/institutions"),  # 401
        await client.get("/no/such/route"),  # unrouted 404
        await client.get("/health"),
    ]
    for answer in others:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
        assert "content-security-policy" not in answer.headers
