"""`windflow ask` in a real terminal (pexpect) against a live server and the real Docker
engine: the plan is shown, `y` at the prompt deploys, --json is parseable, exit codes."""

from __future__ import annotations

import contextlib
import json
import sys
import uuid
from pathlib import Path

import httpx
import pexpect
import pytest

from tests.adapters.test_docker_host import ids
from tests.assistant.test_scripted_deploy import TWO_SERVICES
from tests.channels.conftest import World
from tests.infra.docker_engine import DockerEngine
from tests.live_server import free_port

WINDFLOW = str(Path(sys.executable).with_name("windflow"))


def _spawn(*args: str, home: Path) -> pexpect.spawn:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "TERM": "xterm", "NO_COLOR": "1"}
    return pexpect.spawn(
        WINDFLOW, list(args), env=env, encoding="utf-8", timeout=30, dimensions=(50, 120)
    )


def _save_stack(world: World) -> str:
    stack = f"cli{uuid.uuid4().hex[:8]}"
    saved = httpx.post(
        f"{world.server.url}/stacks",
        headers={"Authorization": f"Bearer {world.token}"},
        json={"name": stack, "compose_source": TWO_SERVICES},
    )
    assert saved.status_code == 201, saved.text
    return stack


def _cleanup(engine: DockerEngine, stack: str) -> None:
    with contextlib.closing(engine.client()) as client:
        for container in client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={stack}"}
        ):
            container.remove(force=True)


@pytest.mark.docker
def test_ask_shows_the_plan_and_deploys_after_y(
    world: World, docker_engine: DockerEngine, tmp_path: Path
) -> None:
    stack = _save_stack(world)
    try:
        child = _spawn(
            "ask", "--server", world.server.url, "--token", world.token,
            f"Please deploy {stack} to docker-local", home=tmp_path,
        )  # fmt: skip
        child.expect("Approval needed: deploy_stack")
        child.expect("create")
        child.expect(r"Approve\? \S*\[y/n\]\S* \S*\(n\)\S*: ")
        assert ids(docker_engine, stack) == {}  # nothing runs before the decision
        child.sendline("y")
        child.expect(rf"Deployed stack.{{0,20}}{stack}.{{0,20}}to.{{0,20}}docker-local")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0, child.before
        assert set(ids(docker_engine, stack)) == {"db", "api"}
        with contextlib.closing(docker_engine.client()) as client:
            running = client.containers.list(
                filters={"label": f"com.docker.compose.project={stack}"}
            )
            assert {c.status for c in running} == {"running"} and len(running) == 2
    finally:
        _cleanup(docker_engine, stack)


@pytest.mark.docker
def test_ask_json_with_yes_deploys_and_prints_parseable_lines(
    world: World, docker_engine: DockerEngine, tmp_path: Path
) -> None:
    stack = _save_stack(world)
    try:
        child = _spawn(
            "ask", "--json", "--yes", "--server", world.server.url, "--token", world.token,
            f"deploy {stack} to docker-local", home=tmp_path,
        )  # fmt: skip
        output = child.read()
        child.close()
        assert child.exitstatus == 0, output
        lines = [json.loads(line) for line in output.splitlines() if line.strip()]
        types = [line["type"] for line in lines]
        assert types[0] == "run_started" and "approval_required" in types
        assert types.index("approval_decided") > types.index("approval_required")
        result = lines[-1]
        assert result["type"] == "result" and result["outcome"] == "succeeded"
        assert result["exit_code"] == 0 and stack in result["answer"]
        assert set(ids(docker_engine, stack)) == {"db", "api"}
    finally:
        _cleanup(docker_engine, stack)


def test_an_invalid_token_exits_3_with_a_clear_message(world: World, tmp_path: Path) -> None:
    child = _spawn(
        "ask", "--server", world.server.url, "--token", "wf_not_a_real_token", "hello",
        home=tmp_path,
    )  # fmt: skip
    output = child.read()
    child.close()
    assert child.exitstatus == 3, output
    assert "refused the credentials" in output and "windflow token create" in output


def test_an_unreachable_server_exits_4(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    child = _spawn("ask", "--server", url, "--token", "whatever", "hello", home=tmp_path)
    output = child.read()
    child.close()
    assert child.exitstatus == 4, output
    assert f"cannot reach the WindFlow server at {url}" in output


def test_an_empty_question_exits_2(tmp_path: Path) -> None:
    child = _spawn("ask", "--server", "http://127.0.0.1:9", "--token", "x", "  ", home=tmp_path)
    output = child.read()
    child.close()
    assert child.exitstatus == 2, output


def test_show_completion_prints_a_completion_script(tmp_path: Path) -> None:
    child = _spawn("--show-completion", "bash", home=tmp_path)
    output = child.read()
    child.close()
    assert child.exitstatus == 0, output
    assert "_WINDFLOW_COMPLETE" in output and "complete " in output


def test_chat_keeps_one_conversation_across_messages(world: World, tmp_path: Path) -> None:
    child = _spawn("chat", "--server", world.server.url, "--token", world.token, home=tmp_path)
    child.expect("you")
    child.sendline("what is running on docker-local?")
    child.expect("No language model is configured")  # the rules planner answered
    child.expect("you")
    child.sendline("show the status of docker-local")
    child.expect("No language model is configured")
    child.expect("you")
    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    headers = {"Authorization": f"Bearer {world.token}"}
    conversations = httpx.get(f"{world.server.url}/conversations", headers=headers).json()
    latest = conversations["items"][0]["id"]
    messages = httpx.get(
        f"{world.server.url}/conversations/{latest}/messages", headers=headers
    ).json()["items"]
    asked = [m["content"] for m in messages if m["role"] == "user"]
    assert asked == ["what is running on docker-local?", "show the status of docker-local"]


def test_embedded_runs_the_app_in_process_on_the_local_database(
    world: World, tmp_path: Path
) -> None:
    settings = world.server.settings
    child = pexpect.spawn(
        WINDFLOW,
        ["ask", "--embedded", "--json", "--token", world.token, "what is running on docker-local?"],
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "WINDFLOW_ENVIRONMENT": "test",
            "WINDFLOW_SECRET_KEY": settings.secret_key.get_secret_value(),
            "WINDFLOW_DATA_DIR": str(settings.data_dir),
            "WINDFLOW_DATABASE_URL": settings.resolved_database_url,
            "WINDFLOW_KNOWLEDGE_ENABLED": "false",
        },
        encoding="utf-8",
        timeout=30,
    )
    output = child.read()
    child.close()
    assert child.exitstatus == 0, output
    result = json.loads(output.splitlines()[-1])
    assert result["outcome"] == "succeeded" and "docker-local" in result["answer"]
