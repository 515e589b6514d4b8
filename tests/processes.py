"""Real processes the tests start: `credit-service` commands and served instances."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from conftest import CLI


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


def _wait_for_workers(log_path: Path, process: subprocess.Popen[bytes], workers: int) -> None:
    """Until every worker has logged that it started (the app's line, whichever the server)."""
    deadline = time.monotonic() + 90
    while log_path.read_text().count('"event": "worker_started"') < workers:
        assert process.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, "the workers never started"
        time.sleep(0.1)


@contextmanager
def served(
    env: dict[str, str], log_path: Path, *, workers: int = 1, server: str | None = None
) -> Iterator[str]:
    """`credit-service serve` on a free port (``--server`` if given, else the default), its
    output in ``log_path`` (LOG_FORMAT=json), until it is ready (every worker started); its
    base URL. Stopped with SIGTERM when the block ends."""
    port = free_port()
    choice = ["--server", server] if server else []
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [CLI, "serve", "--port", str(port), "--workers", str(workers), *choice],
            env=env, stdout=log_file, stderr=log_file,
        )  # fmt: skip
        base_url = f"http://127.0.0.1:{port}"
        try:
            if workers > 1:
                _wait_for_workers(log_path, process, workers)
            else:
                wait_until_ready(base_url, process)
            yield base_url
        finally:
            process.terminate()
            process.wait(timeout=30)


async def run_cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run `credit-service ARGS` without blocking the event loop: exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        CLI, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def cli_output(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run `credit-service ARGS`: exit code, and everything it printed."""
    code, out, err = await run_cli(env, *args)
    return code, out + err
