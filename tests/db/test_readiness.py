"""`/ready` tells the truth about the database."""

from __future__ import annotations

import secrets
from dataclasses import replace

import httpx
from conftest import create_database, drop_database
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.config import Settings


async def test_ready_is_503_until_the_database_is_migrated(
    server_url: str, test_settings: Settings
) -> None:
    name = f"credit_unmigrated_{secrets.token_hex(3)}"
    url = await create_database(server_url, name)
    try:
        app = create_app(replace(test_settings, database_url=url))
        async with AsyncTestClient(app) as client:
            response = await client.get("/ready")
            assert response.status_code == 503
            assert "migration None" in response.json()["detail"]
            assert (await client.get("/health")).status_code == 200
    finally:
        await drop_database(server_url, name)


async def test_ready_is_503_when_the_database_is_unreachable(test_settings: Settings) -> None:
    url = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    app = create_app(replace(test_settings, database_url=url))
    async with AsyncTestClient(app) as client:
        response: httpx.Response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["detail"] == "the database is not reachable"
