"""What `make run` does on a new machine: no DATABASE_URL, an embedded cluster under DATA_DIR."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from conftest import CLI
from processes import free_port, wait_until_ready


def test_embedded_default_migrates_seeds_serves_and_stops(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    env.update(DATA_DIR=str(tmp_path / "var"), LOG_FORMAT="json")
    for step in (["db", "upgrade"], ["seed-demo", "--if-empty", "--seed", "3"]):
        done = subprocess.run(
            [CLI, *step], env=env, capture_output=True, text=True, timeout=180, check=False
        )
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "var" / "secret_key").exists()

    port = free_port()
    server = subprocess.Popen(
        [CLI, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", server)
    finally:
        server.terminate()
        server.wait(timeout=60)
    pid_file = tmp_path / "var" / "postgres" / "postmaster.pid"
    deadline = time.monotonic() + 20
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pid_file.exists(), "the embedded PostgreSQL kept running after the service stopped"
