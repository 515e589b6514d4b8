"""The request path's settings and its public cache, keyed by the raw path.

- REQUEST_ID=off: no id is made and none is sent; on: a caller's valid X-Request-ID is
  echoed, anything else replaced by a fresh id (itself valid, and distinct).
- ACCESS_LOG=off writes no access line; sample:F about that fraction of them.
- A cached public answer is found by the raw path: a hit normalises nothing, the
  lower-case and upper-case forms of a USCC answer the same, and a change empties both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from conftest import serve
from factories import institution_body, make_uscc, penalty_body

import service.public.routes as public_routes
import service.web.request_id as request_id
from service.app import create_app
from service.config import Settings, SettingsError
from service.identity.codes import normalize_uscc
from service.web.request_id import ACCESS_LOGGER, new_request_id, safe_request_id

Headers = dict[str, str]
API = "/api/v1/public"


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == ACCESS_LOGGER]


async def served(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for url in serve(create_app(settings)):
        async with httpx.AsyncClient(base_url=url) as http:
            yield http


@pytest.fixture
async def quiet(test_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A server with request ids and the access log off."""
    async for http in served(replace(test_settings, request_id=False, access_log_sample=0.0)):
        yield http


@pytest.fixture
async def sampled(test_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A server logging about a quarter of its requests."""
    async for http in served(replace(test_settings, access_log_sample=0.25)):
        yield http


def test_the_settings_read_from_the_environment() -> None:
    assert Settings.from_env({}).request_id is True
    assert Settings.from_env({}).access_log_sample == 1.0
    assert Settings.from_env({"REQUEST_ID": "off"}).request_id is False
    assert Settings.from_env({"ACCESS_LOG": "off"}).access_log_sample == 0.0
    assert Settings.from_env({"ACCESS_LOG": "on"}).access_log_sample == 1.0
    assert Settings.from_env({"ACCESS_LOG": "sample:0.01"}).access_log_sample == 0.01
    for wrong in ("sample:2", "sample:x", "sometimes"):
        with pytest.raises(SettingsError, match="ACCESS_LOG"):
            Settings.from_env({"ACCESS_LOG": wrong})
    with pytest.raises(SettingsError, match="REQUEST_ID"):
        Settings.from_env({"REQUEST_ID": "maybe"})


async def test_with_request_ids_and_the_access_log_off_nothing_is_sent_or_logged(
    quiet: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for path in ("/health", "/hello", "/api/v1/institutions", "/no-such-route"):
        response = await quiet.get(path, headers={"X-Request-ID": "gateway.7f3a-20261130"})
        assert "x-request-id" not in response.headers, path
    await asyncio.sleep(0.05)
    assert access_records(caplog) == []


async def test_a_sampled_access_log_writes_about_its_fraction(
    sampled: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(400):
        response = await sampled.get("/hello")
        assert response.headers["x-request-id"]  # ids still on every answer
    await asyncio.sleep(0.05)
    # 100 expected; the binomial's standard deviation is about 8.7.
    assert 55 <= len(access_records(caplog)) <= 145


async def test_a_dropped_access_line_is_never_built(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the access logger's level, the event is not even handed to structlog."""
    handed: list[dict[str, Any]] = []

    class Recorder:
        def info(self, event: str, **fields: Any) -> None:
            handed.append(fields)

    monkeypatch.setattr(request_id, "log", Recorder())
    await client.get("/hello")
    assert len(handed) == 1
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.WARNING)
    try:
        await client.get("/hello")
        await client.get("/api/v1/institutions")
    finally:
        logging.getLogger(ACCESS_LOGGER).setLevel(logging.NOTSET)
    assert len(handed) == 1


async def test_a_valid_incoming_request_id_is_echoed_and_an_invalid_one_replaced(
    client: httpx.AsyncClient,
) -> None:
    kept = await client.get("/hello", headers={"X-Request-ID": "trace-0123abcd"})
    assert kept.headers["x-request-id"] == "trace-0123abcd"
    made: set[str] = set()
    for given in ("bad id with spaces", "x" * 80, "110105194912310026", None):
        headers = {"X-Request-ID": given} if given is not None else {}
        response = await client.get("/hello", headers=headers)
        new = response.headers["x-request-id"]
        assert new != given
        assert safe_request_id(new)  # another service may send it back: it is kept
        made.add(new)
    assert len(made) == 4
    assert len({new_request_id() for _ in range(1000)}) == 1000


async def test_the_public_cache_is_keyed_by_the_raw_path_and_never_stale(
    client: httpx.AsyncClient, admin: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = make_uscc(10)  # 5233052200000000AR: letters, so it has a lower-case form
    assert code != code.lower()
    response = await client.post(
        "/api/v1/institutions", json=institution_body(10, name="长兴县颐养院"), headers=admin
    )
    assert response.status_code == 201, response.text
    home = response.json()["id"]
    upper, lower = API + f"/institutions/{code}", API + f"/institutions/{code.lower()}"

    first = {url: await client.get(url) for url in (upper, lower)}
    assert {url: answer.headers["x-cache"] for url, answer in first.items()} == {
        upper: "miss", lower: "miss",
    }  # fmt: skip
    assert first[upper].json() == first[lower].json()
    assert first[upper].json()["uscc"] == code

    normalised: list[str] = []

    def counting(value: str) -> str:
        normalised.append(value)
        return normalize_uscc(value)

    monkeypatch.setattr(public_routes, "normalize_uscc", counting)
    hits = {url: await client.get(url) for url in (upper, lower)}
    assert {answer.headers["x-cache"] for answer in hits.values()} == {"hit"}
    assert hits[lower].content == first[lower].content
    assert normalised == []  # a hit normalises nothing
    page = await client.get(f"/institutions/{code.lower()}")
    assert page.status_code == 200

    penalty = await client.post(
        "/api/v1/records", json=penalty_body(home), params={"confirm": True}, headers=admin
    )
    assert penalty.status_code == 201, penalty.text

    async def penalties(url: str) -> list[Any]:
        answer = await client.get(url)
        assert answer.status_code == 200
        found: list[Any] = answer.json()["penalties"]
        return found

    for _ in range(200):  # the notification arrives within milliseconds
        if await penalties(upper) and await penalties(lower):
            break
        await asyncio.sleep(0.01)
    assert len(await penalties(upper)) == len(await penalties(lower)) == 1
    assert normalised  # the misses after the change normalised again
