"""`credit-service serve` as a real process: its logs, its probes, its schema, its servers."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import CLI, MakeToken, bearer
from factories import (
    institution_body,
    make_id_number,
    make_uscc,
    practitioner_body,
    wrong_check_character,
)
from processes import free_port, served, wait_until_ready
from simulated import eventually


@pytest.fixture
def server(cli_env: dict[str, str], tmp_path: Path, clean_db: None) -> Iterator[tuple[str, Path]]:
    log_path = tmp_path / "server.log"
    with served(cli_env, log_path) as base_url:
        yield base_url, log_path


async def test_logs_of_a_run_that_stores_practitioners_hold_no_id_number(
    server: tuple[str, Path], make_token: MakeToken
) -> None:
    base_url, log_path = server
    admin = bearer(await make_token("admin"))
    numbers = [make_id_number(n) for n in range(1, 6)]
    async with httpx.AsyncClient(base_url=base_url) as client:
        for n in range(1, 6):
            created = await client.post(
                "/api/v1/practitioners", json=practitioner_body(n), headers=admin
            )
            assert created.status_code == 201
        duplicate = await client.post(
            "/api/v1/practitioners", json=practitioner_body(1), headers=admin
        )
        assert duplicate.status_code == 409
        bad = practitioner_body(9, id_number=wrong_check_character(make_id_number(9)))
        assert (
            await client.post("/api/v1/practitioners", json=bad, headers=admin)
        ).status_code == 422
        found = await client.get("/api/v1/practitioners", params={"q": numbers[2]}, headers=admin)
        assert found.json()["total"] == 1
        await client.get(f"/api/v1/practitioners/{numbers[3]}", headers=admin)
    sent = 9  # the requests above; each is logged once its answer has gone out

    def logged_requests() -> list[dict[str, Any]]:
        lines = log_path.read_text(encoding="utf-8").splitlines()
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        return [entry for entry in entries if entry.get("event") == "request"]

    async def all_logged() -> bool:
        return len(logged_requests()) >= sent

    await eventually(all_logged, within=30, what="the request log lines")
    log_text = log_path.read_text(encoding="utf-8")
    requests = logged_requests()
    assert len(requests) == sent
    posts = [r for r in requests if r["method"] == "POST" and r["path"] == "/api/v1/practitioners"]
    assert [r["status"] for r in posts] == [201] * 5 + [409, 422]
    assert all(line.get("request_id") for line in requests)
    for number in [*numbers, wrong_check_character(make_id_number(9))]:
        assert number not in log_text
        assert number.lower() not in log_text
    assert "张晓明" not in log_text


def test_health_ready_and_openapi_are_served(server: tuple[str, Path]) -> None:
    base_url, _ = server
    assert httpx.get(f"{base_url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{base_url}/ready").json()
    assert ready["status"] == "ready"
    schema = httpx.get(f"{base_url}/schema/openapi.json").json()
    assert "/api/v1/institutions" in schema["paths"]
    assert "/api/v1/practitioners/{practitioner_id}" in schema["paths"]
    docs = httpx.get(f"{base_url}/schema")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]


@pytest.fixture(params=["granian", "uvicorn"])
def either_server(
    request: pytest.FixtureRequest, cli_env: dict[str, str], tmp_path: Path, clean_db: None
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """`credit-service serve --server S` with the same flags, ready: its base URL, its
    process, its log."""
    log_path = tmp_path / "server.log"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
             "--server", request.param],
            env=cli_env, stdout=log_file, stderr=log_file,
        )  # fmt: skip
        try:
            wait_until_ready(base_url, process)
            yield base_url, process, log_path
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)


async def test_either_server_serves_the_app_and_stops_cleanly_on_sigterm(
    either_server: tuple[str, subprocess.Popen[bytes], Path], make_token: MakeToken
) -> None:
    """granian is the default and uvicorn the alternative, with the same flags: each runs
    the app's lifespan, answers, and on SIGTERM lets its worker finish the lifespan
    (listener, audit sealer, pool closed) before the command exits 0."""
    base_url, process, log_path = either_server
    admin = bearer(await make_token("admin"))
    async with httpx.AsyncClient(base_url=base_url) as client:
        created = await client.post("/api/v1/institutions", json=institution_body(7), headers=admin)
        assert created.status_code == 201, created.text
        found = await client.get(f"/api/v1/public/institutions/{make_uscc(7)}")
    assert found.status_code == 200, found.text
    assert found.json()["name"] == institution_body(7)["name"]

    process.terminate()
    returncode = await asyncio.to_thread(process.wait, 60)
    log_text = log_path.read_text(encoding="utf-8")
    assert returncode == 0, log_text
    events = [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]
    assert [e["event"] for e in events if e["event"].startswith("worker_")] == [
        "worker_started",
        "worker_stopped",
    ], log_text
    assert not [e for e in events if e["level"] in ("error", "critical")], log_text
