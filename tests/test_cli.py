"""The ``windflow`` command line, run as a real process against a real SQLite file."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.harness import ApiHarness


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINDFLOW_")}
    env["WINDFLOW_DATA_DIR"] = str(data_dir)
    return env


def windflow(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_init_prints_a_working_token_once(tmp_path: Path) -> None:
    first = windflow(tmp_path, "init", "--email", "owner@example.com", "--org", "acme")
    assert first.returncode == 0, first.stderr
    token = re.search(r"API token \(shown once\): (wf_\S+)", first.stdout)
    assert token, first.stdout
    again = windflow(tmp_path, "init", "--if-empty")
    assert again.returncode == 0 and again.stdout == ""
    duplicate = windflow(tmp_path, "init", "--org", "acme")
    assert duplicate.returncode == 2 and "exists" in duplicate.stderr

    url = f"sqlite+aiosqlite:///{tmp_path / 'windflow.db'}"
    async with ApiHarness.start(url, tmp_path) as api:
        me = await api.client.get("/auth/me", headers={"Authorization": f"Bearer {token[1]}"})
        assert me.status_code == 200
        assert me.json()["email"] == "owner@example.com"


def test_user_and_target_commands(tmp_path: Path) -> None:
    assert windflow(tmp_path, "init", "--org", "acme").returncode == 0
    added = windflow(tmp_path, "user", "add", "op@example.com", "--role", "operator")
    assert added.returncode == 0, added.stderr
    listed = windflow(tmp_path, "user", "list")
    assert "op@example.com" in listed.stdout and "operator" in listed.stdout

    bad_json = windflow(tmp_path, "target", "add", "t1", "--kind", "docker", "--connection", "{")
    assert bad_json.returncode == 2 and "not valid JSON" in bad_json.stderr
    bad_kind = windflow(tmp_path, "target", "add", "t1", "--kind", "mainframe")
    assert bad_kind.returncode == 2 and "unknown target kind" in bad_kind.stderr
    ok = windflow(
        tmp_path,
        "target",
        "add",
        "local",
        "--kind",
        "docker",
        "--connection",
        '{"host": "unix:///nonexistent.sock"}',
    )
    assert ok.returncode == 0, ok.stderr
    assert "local" in windflow(tmp_path, "target", "list").stdout
    check = windflow(tmp_path, "target", "check", "local")
    assert check.returncode == 1 and "cannot reach" in check.stdout
    token = windflow(tmp_path, "token", "create", "op@example.com", "--role-cap", "owner")
    assert token.returncode == 2 and "above the user's role" in token.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_starts_and_becomes_ready(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"windflow serve did not become ready:\n{output}")
            time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/health").json()["status"] == "ok"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_production_refuses_default_secret(tmp_path: Path) -> None:
    env = _env(tmp_path) | {"WINDFLOW_ENVIRONMENT": "production"}
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "WINDFLOW_SECRET_KEY" in done.stderr
