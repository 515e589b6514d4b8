"""The public rate limit of `credit-service serve` as a real process: one count for all workers.

Each uvicorn worker is its own process. The limit is counted in PostgreSQL, so two
workers together admit PUBLIC_RATE_LIMIT requests a minute from one address, not
twice that. X-Forwarded-For names the client only when the peer is a configured
proxy (TRUSTED_PROXIES); from anyone else, loopback included, it changes nothing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from processes import served

LIMIT = 10
PUBLIC = "/api/v1/public/lists/black"


async def answers(base_url: str, count: int, forwarded_for: list[str]) -> list[httpx.Response]:
    """``count`` public requests, each on a new connection so the workers share them."""

    async def one(n: int) -> httpx.Response:
        headers = (
            {"X-Forwarded-For": forwarded_for[n % len(forwarded_for)]} if forwarded_for else {}
        )
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            return await http.get(PUBLIC, headers=headers)

    results: list[httpx.Response] = []
    for start in range(0, count, 8):  # eight at a time, spread over the workers
        results += await asyncio.gather(*(one(n) for n in range(start, min(start + 8, count))))
    return results


async def test_two_workers_admit_the_limit_once_whatever_x_forwarded_for_says(
    cli_env: dict[str, str], tmp_path: Path, clean_db: None
) -> None:
    env = cli_env | {"PUBLIC_RATE_LIMIT": str(LIMIT)}
    with served(env, tmp_path / "server.log", workers=2) as base_url:
        plain = await answers(base_url, 40, [])
        # Then the same client on loopback, making up a new address for every request.
        made_up = await answers(base_url, 20, [f"203.0.113.{n}" for n in range(1, 21)])
        async with httpx.AsyncClient(base_url=base_url) as http:
            hello = await http.get("/hello")  # not a public route: never limited
    statuses = [response.status_code for response in plain]
    assert statuses.count(200) == LIMIT, statuses
    assert statuses.count(429) == 40 - LIMIT
    assert [response.status_code for response in made_up] == [429] * 20
    refused = made_up[0]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert hello.status_code == 200


async def test_a_configured_proxy_names_the_client_it_forwards_for(
    cli_env: dict[str, str], tmp_path: Path, clean_db: None
) -> None:
    env = cli_env | {"PUBLIC_RATE_LIMIT": "3", "TRUSTED_PROXIES": "127.0.0.0/8, ::1"}
    with served(env, tmp_path / "server.log", workers=2) as base_url:
        first = await answers(base_url, 5, ["198.51.100.7"])
        # Our proxy appends the peer it saw: the client is the right-most untrusted entry.
        second = await answers(base_url, 3, ["198.51.100.7, 198.51.100.8"])
    assert sorted(r.status_code for r in first) == [200, 200, 200, 429, 429]
    assert [r.status_code for r in second] == [200, 200, 200]
