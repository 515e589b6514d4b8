"""While the database is down every route answers 503 with Retry-After, never 500; after
it comes back the same server answers normally again.

The test runs its own embedded PostgreSQL cluster, so it can stop and start it without
touching the server the rest of the suite uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TEST_SECRET_KEY, bearer, serve
from factories import make_uscc

from service.actor import Role
from service.app import create_app
from service.auth.service import create_user
from service.config import Settings
from service.db.embedded import EmbeddedPostgres
from service.db.engine import make_engine, make_session_factory
from service.db.migrate import upgrade
from service.policy.store import ensure_shipped
from service.secret import Secret
from service.wiring import system_context

ZERO_ID = "00000000-0000-0000-0000-000000000000"
# A value for each path parameter the API has, by its name.
PATH_VALUES = {
    "program": "operating_subsidy",
    "code": make_uscc(1),
    "uscc": make_uscc(1),
    "list_type": "black",
    "version": "2026.1",
}


class Cluster:
    def __init__(self, root: Path) -> None:
        self.embedded = EmbeddedPostgres(root)
        self.url = ""

    def start(self) -> str:
        self.url = self.embedded.start()
        return self.url

    def stop(self) -> None:
        self.embedded.stop()


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    cluster = Cluster(tmp_path)
    cluster.start()
    yield cluster
    cluster.stop()


def requests_for_every_operation(schema: dict[str, Any]) -> list[tuple[str, str]]:
    requests = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            filled = path
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    name = parameter["name"]
                    value = PATH_VALUES.get(name, ZERO_ID)
                    filled = filled.replace("{" + name + "}", value)
            requests.append((method.upper(), filled))
    return requests


async def test_every_route_answers_503_while_the_database_is_down_then_recovers(
    cluster: Cluster, tmp_path: Path
) -> None:
    engine = make_engine(cluster.url, pool_size=2)
    await upgrade(engine)
    async with make_session_factory(engine)() as session, session.begin():
        await ensure_shipped(session, system_context())
        _, token = await create_user(
            session, system_context(), name="管理员", role=Role.ADMIN, region_code=None
        )
    await engine.dispose()
    settings = Settings(
        environment="test",
        database_url=cluster.url,
        data_dir=tmp_path / "data",
        secret_key=Secret.configured(TEST_SECRET_KEY),
        log_format="json",
        public_rate_limit=1_000_000,
    )
    async for base_url in serve(create_app(settings)):
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            admin = bearer(token)
            assert (await client.get("/ready")).status_code == 200
            schema = (await client.get("/schema/openapi.json")).json()
            before = await client.get("/api/v1/institutions", headers=admin)
            assert before.status_code == 200, before.text

            cluster.stop()
            answers: dict[str, int] = {}
            for method, path in requests_for_every_operation(schema):
                response = await client.request(
                    method,
                    path,
                    headers={**admin, "content-type": "application/json"},
                    content=b"{}" if method in ("POST", "PUT", "PATCH") else None,
                )
                answers[f"{method} {path}"] = response.status_code
                assert response.status_code != 500, (method, path, response.text)
                if response.status_code == 503:
                    assert response.headers["content-type"].startswith("application/problem+json")
                    assert int(response.headers["retry-after"]) > 0
                    assert response.json()["status"] == 503
            unavailable = [route for route, status in answers.items() if status == 503]
            # Everything that needs the database says so; a few answer without it
            # (/health, the schema, a body refused before anything is looked up).
            assert len(unavailable) >= 0.8 * len(answers), answers
            assert answers["GET /ready"] == 503
            # The pages too: the public ones, and a workbench page behind a session cookie.
            pages = {
                path: (await client.get(path, headers={"cookie": "staff_session=" + "x" * 43}))
                for path in ("/", "/lists/black", "/staff/sign-in", "/staff/", "/staff/queue")
            }
            statuses = {path: page.status_code for path, page in pages.items()}
            # The search page without a term reads nothing; everything else says 503.
            assert statuses == {"/": 200} | dict.fromkeys(list(pages)[1:], 503), statuses

            cluster.start()
            after = await client.get("/api/v1/institutions", headers=admin)
            assert after.status_code == 200, after.text
            assert (await client.get("/ready")).status_code == 200
