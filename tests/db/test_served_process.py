"""`credit-service serve` as a real process: its logs, its probes, its schema."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import CLI, MakeToken, bearer
from factories import make_id_number, practitioner_body, wrong_check_character


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(base_url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server never became ready")


@pytest.fixture
def served(cli_env: dict[str, str], tmp_path: Path, clean_db: None) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [CLI, "serve", "--port", str(port)], env=cli_env, stdout=log_file, stderr=log_file
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(base_url, process)
            yield base_url, log_path
        finally:
            process.terminate()
            process.wait(timeout=30)


async def test_logs_of_a_run_that_stores_practitioners_hold_no_id_number(
    served: tuple[str, Path], make_token: MakeToken
) -> None:
    base_url, log_path = served
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
    await asyncio.sleep(0.3)
    log_text = log_path.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    posts = [r for r in requests if r["method"] == "POST" and r["path"] == "/api/v1/practitioners"]
    assert [r["status"] for r in posts] == [201] * 5 + [409, 422]
    assert all(line.get("request_id") for line in requests)
    for number in [*numbers, wrong_check_character(make_id_number(9))]:
        assert number not in log_text
        assert number.lower() not in log_text
    assert "张晓明" not in log_text


def test_health_ready_and_openapi_are_served(served: tuple[str, Path]) -> None:
    base_url, _ = served
    assert httpx.get(f"{base_url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{base_url}/ready").json()
    assert ready["status"] == "ready"
    schema = httpx.get(f"{base_url}/schema/openapi.json").json()
    assert "/api/v1/institutions" in schema["paths"]
    assert "/api/v1/practitioners/{practitioner_id}" in schema["paths"]
    docs = httpx.get(f"{base_url}/schema")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]
