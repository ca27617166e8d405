"""The Docker host adapter against a real engine, with a locally built busybox image."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.infra.docker_engine import BUSYBOX_IMAGE, DockerEngine
from tools.adapters.docker_host import DockerHostAdapter
from tools.stack import load_stack
from tools.targets import TargetKind, TargetSpec
from windflow.errors import InvalidInput, OrchestratorError, TargetUnreachable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def compose(port: int, web_greeting: str = "v1", api_image: str = BUSYBOX_IMAGE) -> str:
    return f"""
services:
  db:
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 3600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 300ms
      timeout: 1s
      retries: 20
    stop_grace_period: 1s
  api:
    image: {api_image}
    command: ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
    stop_grace_period: 1s
    depends_on:
      db: {{condition: service_healthy}}
    environment:
      DB_HOST: db
  web:
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo {web_greeting} > /tmp/greeting; exec httpd -f -p 80 -h /var/www"]
    ports: ["127.0.0.1:{port}:80"]
    stop_grace_period: 1s
    depends_on: [api]
    restart: unless-stopped
    deploy:
      resources:
        limits: {{cpus: "0.5", memory: 64M}}
"""


def target(engine: DockerEngine) -> TargetSpec:
    return TargetSpec(
        id="t1",
        org_id="o1",
        name="docker-local",
        kind=TargetKind.DOCKER,
        environment="dev",
        connection={"host": engine.host},
    )


@pytest.fixture
async def adapter(docker_engine: DockerEngine) -> AsyncIterator[DockerHostAdapter]:
    yield DockerHostAdapter(target(docker_engine), health_timeout=30)


@pytest.fixture
def stack_name() -> str:
    return f"s{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
async def _cleanup(adapter: DockerHostAdapter, stack_name: str) -> AsyncIterator[None]:
    yield
    with contextlib.suppress(Exception):
        await adapter.remove(stack_name, remove_volumes=True)


async def fetch(port: int) -> str:
    for _ in range(50):
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"http://127.0.0.1:{port}/index.html", timeout=1)).text
        except httpx.TransportError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"nothing answers on 127.0.0.1:{port}")


def ids(engine: DockerEngine, stack: str) -> dict[str, str]:
    with contextlib.closing(engine.client()) as client:
        containers = client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={stack}"}
        )
        return {c.labels["com.docker.compose.service"]: c.id for c in containers}


async def test_deploy_redeploy_one_change_and_roll_back(
    adapter: DockerHostAdapter, docker_engine: DockerEngine, stack_name: str
) -> None:
    port = free_port()
    v1 = load_stack(compose(port), name=stack_name)
    plan = await adapter.plan_deploy(v1)
    assert {(c.action, c.resource) for c in plan if not c.resource.startswith("network")} == {
        ("create", "db"),
        ("create", "api"),
        ("create", "web"),
    }
    outcome = await adapter.deploy(v1)
    assert sorted(outcome.created) == ["api", "db", "web"]
    status = await adapter.status(stack_name)
    assert status.healthy, status
    by_name = {s.name: s for s in status.services}
    assert by_name["db"].health == "healthy" and by_name["web"].running == 1
    assert await fetch(port) == "windflow test page\n"
    first = ids(docker_engine, stack_name)

    v2 = load_stack(compose(port, web_greeting="v2"), name=stack_name)
    plan = {c.resource: c.action for c in await adapter.plan_deploy(v2)}
    assert plan == {"db": "noop", "api": "noop", "web": "recreate"}
    outcome = await adapter.deploy(v2)
    assert outcome.recreated == ["web"] and sorted(outcome.unchanged) == ["api", "db"]
    second = ids(docker_engine, stack_name)
    assert second["db"] == first["db"] and second["api"] == first["api"]
    assert second["web"] != first["web"]
    assert await fetch(port) == "windflow test page\n"

    # Rolling back is converging to the previous definition: again only web changes.
    outcome = await adapter.deploy(v1)
    assert outcome.recreated == ["web"]
    with contextlib.closing(docker_engine.client()) as client:
        web = client.containers.get(ids(docker_engine, stack_name)["web"])
        assert "echo v1" in " ".join(web.attrs["Config"]["Cmd"])
        assert web.attrs["HostConfig"]["NanoCpus"] == 500_000_000
        assert web.attrs["HostConfig"]["Memory"] == 64 * 1024 * 1024
        assert web.labels["com.docker.compose.config-hash"]

    # A service dropped from the stack is removed.
    without_web = load_stack(compose(port).split("  web:")[0], name=stack_name)
    outcome = await adapter.deploy(without_web)
    assert outcome.removed == ["web"]
    assert set(ids(docker_engine, stack_name)) == {"db", "api"}


async def test_failed_deploy_rolls_back_and_keeps_previous_version(
    adapter: DockerHostAdapter, docker_engine: DockerEngine, stack_name: str
) -> None:
    port = free_port()
    await adapter.deploy(load_stack(compose(port), name=stack_name))
    before = ids(docker_engine, stack_name)

    # The new web cannot start: its port is taken by another container.
    blocker_port = free_port()
    with contextlib.closing(docker_engine.client()) as client:
        blocker = client.containers.run(
            BUSYBOX_IMAGE,
            ["sleep", "3600"],
            detach=True,
            ports={"80/tcp": ("127.0.0.1", blocker_port)},
        )
    try:
        broken = load_stack(compose(blocker_port, web_greeting="v2"), name=stack_name)
        with pytest.raises(OrchestratorError, match="rolled back"):
            await adapter.deploy(broken)
    finally:
        blocker.remove(force=True)
    assert ids(docker_engine, stack_name) == before, "the previous containers are back"
    assert (await adapter.status(stack_name)).healthy
    assert await fetch(port) == "windflow test page\n"

    # A fresh stack whose second layer has an unknown image leaves nothing behind.
    fresh = f"{stack_name}x"
    try:
        with pytest.raises(OrchestratorError, match="could not be pulled"):
            await adapter.deploy(
                load_stack(compose(free_port(), api_image="windflow-test/missing:9"), name=fresh)
            )
        assert ids(docker_engine, fresh) == {}
    finally:
        await adapter.remove(fresh)


async def test_dependency_that_never_gets_healthy_fails_cleanly(
    adapter: DockerHostAdapter, docker_engine: DockerEngine, stack_name: str
) -> None:
    text = compose(free_port()).replace('"test", "-f", "/tmp/ready"', '"false"')
    with pytest.raises(OrchestratorError, match="unhealthy"):
        await adapter.deploy(load_stack(text, name=stack_name))
    assert ids(docker_engine, stack_name) == {}


async def test_reads_logs_events_stats_exec_and_scale(
    adapter: DockerHostAdapter, stack_name: str
) -> None:
    await adapter.deploy(load_stack(compose(free_port()), name=stack_name))
    events = await adapter.events(stack_name, since_seconds=120)
    assert {"create", "start"} <= {e.action for e in events}
    logs = await adapter.logs(stack_name, "web", tail=10, since_seconds=None)
    assert logs.resource == f"{stack_name}/web"
    stats = await adapter.stats(stack_name)
    assert {row["container"] for row in stats} == {
        f"{stack_name}-{s}-1" for s in ("db", "api", "web")
    }
    assert "DB_HOST=db" in await adapter.exec_diagnostic(stack_name, "api", ["env"])
    with pytest.raises(InvalidInput, match="not an allowed"):
        await adapter.exec_diagnostic(stack_name, "api", ["rm", "-rf", "/"])
    with pytest.raises(InvalidInput, match="shell syntax"):
        await adapter.exec_diagnostic(stack_name, "api", ["cat", "/etc/passwd;reboot"])
    scaled = await adapter.scale(stack_name, "api", 3)
    assert (scaled.replicas_before, scaled.replicas_after) == (1, 3)
    api = next(s for s in (await adapter.status(stack_name)).services if s.name == "api")
    assert api.running == 3
    await adapter.scale(stack_name, "api", 1)
    inventory = await adapter.inventory()
    assert sum(1 for w in inventory.workloads if w.stack == stack_name) == 3


async def test_unsupported_settings_and_unreachable_engine(
    adapter: DockerHostAdapter, stack_name: str
) -> None:
    with pytest.raises(InvalidInput, match="configs/secrets"):
        await adapter.plan_deploy(
            load_stack(
                f"services:\n  a:\n    image: {BUSYBOX_IMAGE}\n    secrets: [s]\n"
                "secrets:\n  s: {file: ./s.txt}\n",
                name=stack_name,
            )
        )
    dead = DockerHostAdapter(
        TargetSpec(
            id="x",
            org_id="o",
            name="gone",
            kind=TargetKind.DOCKER,
            environment="dev",
            connection={"host": "unix:///nonexistent/docker.sock"},
        )
    )
    with pytest.raises(TargetUnreachable, match="gone"):
        await dead.status("anything")
