"""The Docker host adapter against a real engine, with a locally built busybox image."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.infra.docker_engine import BUSYBOX_IMAGE, DockerEngine
from tools.adapters.docker_host import DockerHostAdapter
from tools.stack import config_hash, load_stack
from tools.targets import TargetKind, TargetSpec
from windflow.errors import InvalidInput, NotFound, OrchestratorError, TargetUnreachable

PROJECT = "com.docker.compose.project"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def compose(port: int, web_greeting: str = "v1", api_image: str = BUSYBOX_IMAGE) -> str:
    """db (healthy once a file exists) <- api (httpd) <- web (httpd on 127.0.0.1:port).

    ``init: true`` forwards SIGTERM (a PID 1 ignores it), so stops take no grace period.
    """
    return f"""
services:
  db:
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo db is starting; sleep 1; touch /tmp/ready; exec sleep 3600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 300ms
      timeout: 1s
      retries: 20
    stop_grace_period: 1s
    init: true
  api:
    image: {api_image}
    command: ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
    stop_grace_period: 1s
    init: true
    depends_on:
      db: {{condition: service_healthy}}
    environment:
      DB_HOST: db
  web:
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo {web_greeting} > /tmp/greeting; exec httpd -f -p 80 -h /var/www"]
    ports: ["127.0.0.1:{port}:80"]
    stop_grace_period: 1s
    init: true
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


def ids(engine: DockerEngine, stack: str) -> dict[str, str]:
    """Container id per service of the stack (every container, leftovers included)."""
    with contextlib.closing(engine.client()) as client:
        containers = client.containers.list(all=True, filters={"label": f"{PROJECT}={stack}"})
        return {c.labels["com.docker.compose.service"]: c.id for c in containers}


def names(engine: DockerEngine, stack: str) -> list[str]:
    with contextlib.closing(engine.client()) as client:
        found = client.containers.list(all=True, filters={"label": f"{PROJECT}={stack}"})
        return sorted(c.name for c in found)


def networks(engine: DockerEngine, stack: str) -> list[str]:
    with contextlib.closing(engine.client()) as client:
        return [n.name for n in client.networks.list(filters={"label": f"{PROJECT}={stack}"})]


async def fetch(port: int, path: str = "/index.html") -> str:
    for _ in range(50):
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"http://127.0.0.1:{port}{path}", timeout=1)).text
        except httpx.TransportError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"nothing answers on 127.0.0.1:{port}")


@pytest.fixture
async def adapter(docker_engine: DockerEngine) -> AsyncIterator[DockerHostAdapter]:
    adapter = DockerHostAdapter(target(docker_engine), health_timeout=30)
    yield adapter
    adapter.close()


@pytest.fixture
async def stack_name(adapter: DockerHostAdapter) -> AsyncIterator[str]:
    name = f"s{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        await adapter.remove(name, remove_volumes=True)


async def test_redeploy_recreates_only_what_changed_and_rolls_back(
    adapter: DockerHostAdapter, docker_engine: DockerEngine, stack_name: str
) -> None:
    port = free_port()
    v1 = load_stack(compose(port), name=stack_name)
    plan = await adapter.plan_deploy(v1)
    assert [(c.action, c.resource) for c in plan] == [
        ("create", f"network {stack_name}_default"),
        ("create", "db"),
        ("create", "api"),
        ("create", "web"),
    ]
    assert ids(docker_engine, stack_name) == {}, "planning touches nothing"

    outcome = await adapter.deploy(v1)
    assert sorted(outcome.created) == ["api", "db", "web"]
    status = await adapter.status(stack_name)
    assert status.healthy, status
    by_name = {s.name: s for s in status.services}
    assert by_name["db"].health == "healthy"
    assert by_name["web"].ports == [f"127.0.0.1:{port}->80/tcp"]
    assert await fetch(port) == "windflow test page\n"
    with contextlib.closing(docker_engine.client()) as client:
        for container in client.containers.list(filters={"label": f"{PROJECT}={stack_name}"}):
            service = container.labels["com.docker.compose.service"]
            assert container.name == f"{stack_name}-{service}-1"
            assert container.labels[PROJECT] == stack_name
            assert container.labels["com.docker.compose.container-number"] == "1"
            assert container.labels["com.docker.compose.oneoff"] == "False"
            assert container.labels["dev.windflow.managed"] == "true"
            assert container.labels["com.docker.compose.config-hash"] == config_hash(
                v1.services[service]
            )
        network = client.networks.get(f"{stack_name}_default")
        assert network.attrs["Labels"][PROJECT] == stack_name
        api = client.containers.get(f"{stack_name}-api-1")
        aliases = api.attrs["NetworkSettings"]["Networks"][f"{stack_name}_default"]["Aliases"]
        assert "api" in aliases
    first = ids(docker_engine, stack_name)

    v2 = load_stack(compose(port, web_greeting="v2"), name=stack_name)
    plan = await adapter.plan_deploy(v2)
    assert {c.resource: c.action for c in plan} == {"db": "noop", "api": "noop", "web": "recreate"}
    assert next(c for c in plan if c.resource == "web").detail == "changed: command"
    outcome = await adapter.deploy(v2)
    assert outcome.recreated == ["web"] and sorted(outcome.unchanged) == ["api", "db"]
    second = ids(docker_engine, stack_name)
    assert second["db"] == first["db"] and second["api"] == first["api"]
    assert second["web"] != first["web"]
    assert names(docker_engine, stack_name) == [f"{stack_name}-{s}-1" for s in ("api", "db", "web")]
    assert await fetch(port) == "windflow test page\n"
    assert {c.action for c in await adapter.plan_deploy(v2)} == {"noop"}

    # Rolling back is converging to the previous definition: again only web changes.
    outcome = await adapter.deploy(v1)
    assert outcome.recreated == ["web"]
    with contextlib.closing(docker_engine.client()) as client:
        web = client.containers.get(f"{stack_name}-web-1")
        assert "echo v1" in " ".join(web.attrs["Config"]["Cmd"])
        assert web.attrs["HostConfig"]["NanoCpus"] == 500_000_000
        assert web.attrs["HostConfig"]["Memory"] == 64 * 1024 * 1024
        assert web.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"

    # A service dropped from the stack is removed, the others stay untouched.
    without_web = load_stack(compose(port).split("  web:")[0], name=stack_name)
    plan = await adapter.plan_deploy(without_web)
    assert ("delete", "web") in {(c.action, c.resource) for c in plan}
    outcome = await adapter.deploy(without_web)
    assert outcome.removed == ["web"]
    assert ids(docker_engine, stack_name) == {"db": first["db"], "api": first["api"]}


def full_stack(data_dir: Path, port: int) -> str:
    return f"""
services:
  init:
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo migrated > /data/marker"]
    volumes: ["data:/data"]
  app:
    image: {BUSYBOX_IMAGE}
    entrypoint: ["sh", "-c"]
    command: ["cat /data/marker > /tmp/seen && exec httpd -f -p 8080 -h /data"]
    user: "65534"
    working_dir: /data
    read_only: true
    tmpfs: ["/tmp"]
    init: true
    cap_drop: [ALL]
    cap_add: [NET_BIND_SERVICE]
    environment: {{MODE: test}}
    labels: {{team: ops}}
    expose: ["9000"]
    ports: ["127.0.0.1:{port}:8080"]
    volumes:
      - data:/data:ro
      - {{type: bind, source: {data_dir}, target: /host, read_only: true}}
      - {data_dir}/created:/created
      - {{type: tmpfs, target: /scratch}}
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/marker"]
      interval: 300ms
      timeout: 2s
      retries: 10
      start_period: 1s
    restart: on-failure:3
    stop_grace_period: 1s
    deploy:
      resources:
        limits: {{cpus: "0.25", memory: 32M, pids: 64}}
        reservations: {{memory: 16M}}
    networks:
      back: {{aliases: [application]}}
    depends_on:
      init: {{condition: service_completed_successfully}}
  probe:
    image: {BUSYBOX_IMAGE}
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    networks: [back]
    depends_on:
      app: {{condition: service_healthy}}
volumes:
  data:
    labels: {{purpose: test}}
networks:
  back: {{}}
"""


async def test_compose_settings_reach_the_engine(
    adapter: DockerHostAdapter, docker_engine: DockerEngine, stack_name: str, tmp_path: Path
) -> None:
    port = free_port()
    stack = load_stack(full_stack(tmp_path, port), name=stack_name)
    outcome = await adapter.deploy(stack)
    assert sorted(outcome.created) == ["app", "init", "probe"]
    status = {s.name: s for s in (await adapter.status(stack_name)).services}
    assert (status["init"].state, status["init"].exit_code) == ("exited", 0)
    assert status["app"].health == "healthy"
    assert await fetch(port, "/marker") == "migrated\n"
    assert (tmp_path / "created").is_dir(), "short-syntax binds create the host folder"

    with contextlib.closing(docker_engine.client()) as client:
        app = client.containers.get(f"{stack_name}-app-1")
        config, host = app.attrs["Config"], app.attrs["HostConfig"]
        assert config["User"] == "65534" and config["WorkingDir"] == "/data"
        assert "MODE=test" in config["Env"] and config["Labels"]["team"] == "ops"
        assert config["Entrypoint"] == ["sh", "-c"]
        assert "9000/tcp" in config["ExposedPorts"]
        assert config["Healthcheck"]["Interval"] == 300_000_000
        assert config["Healthcheck"]["StartPeriod"] == 1_000_000_000
        assert config["Healthcheck"]["Retries"] == 10
        assert host["ReadonlyRootfs"] and host["Init"]
        assert host["CapDrop"] == ["ALL"] and host["CapAdd"] == ["NET_BIND_SERVICE"]
        assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
        assert host["NanoCpus"] == 250_000_000 and host["PidsLimit"] == 64
        assert host["Memory"] == 32 * 1024**2 and host["MemoryReservation"] == 16 * 1024**2
        assert host["Tmpfs"] == {"/tmp": ""}
        mounts = {m["Destination"]: m for m in app.attrs["Mounts"]}
        assert mounts["/data"]["Name"] == f"{stack_name}_data" and not mounts["/data"]["RW"]
        assert mounts["/host"]["Type"] == "bind" and not mounts["/host"]["RW"]
        assert mounts["/scratch"]["Type"] == "tmpfs"
        volume = client.volumes.get(f"{stack_name}_data")
        assert volume.attrs["Labels"] == {
            PROJECT: stack_name,
            "com.docker.compose.volume": "data",
            "dev.windflow.managed": "true",
            "purpose": "test",
        }
        # The alias resolves on the stack's own network.
        probe = client.containers.get(f"{stack_name}-probe-1")
        answer = probe.exec_run(["wget", "-q", "-O", "-", "http://application:8080/marker"])
        assert answer.output == b"migrated\n"

    # The completed job is not run again by a redeploy; nothing changes.
    plan = await adapter.plan_deploy(stack)
    assert {c.action for c in plan} == {"noop"}

    removed = await adapter.remove(stack_name)
    assert removed.removed == ["app", "init", "probe"]
    assert ids(docker_engine, stack_name) == {} and networks(docker_engine, stack_name) == []
    with contextlib.closing(docker_engine.client()) as client:
        assert client.volumes.get(f"{stack_name}_data"), "volumes stay unless asked"
        await adapter.remove(stack_name, remove_volumes=True)
        assert not client.volumes.list(filters={"label": f"{PROJECT}={stack_name}"})


async def test_failed_deploys_leave_the_previous_version_running(
    adapter: DockerHostAdapter, docker_engine: DockerEngine, stack_name: str
) -> None:
    port = free_port()
    await adapter.deploy(load_stack(compose(port), name=stack_name))
    before = ids(docker_engine, stack_name)

    blocked = free_port()
    with contextlib.closing(docker_engine.client()) as client:
        blocker = client.containers.run(
            BUSYBOX_IMAGE, ["sleep", "3600"], detach=True, ports={"80/tcp": ("127.0.0.1", blocked)}
        )
    fresh = f"{stack_name}x"
    try:
        # The new web cannot start: its port is taken. The old web comes back.
        broken = load_stack(compose(blocked, web_greeting="v2"), name=stack_name)
        with pytest.raises(OrchestratorError, match="failed at service web") as failure:
            await adapter.deploy(broken)
        assert "Rolled back: removed 1 new container(s), restored 1" in failure.value.message
        assert ids(docker_engine, stack_name) == before
        assert len(names(docker_engine, stack_name)) == 3, "no container left aside"
        assert (await adapter.status(stack_name)).healthy
        assert await fetch(port) == "windflow test page\n"

        # A fresh stack failing at its third service leaves nothing behind, network included.
        with pytest.raises(OrchestratorError, match="failed at service web"):
            await adapter.deploy(load_stack(compose(blocked), name=fresh))
        assert ids(docker_engine, fresh) == {} and networks(docker_engine, fresh) == []

        # An image that cannot be pulled is found before anything is created. Its registry
        # is a closed local port, so the engine contacts nothing outside the machine.
        image = "127.0.0.1:9/windflow-test/missing:9"
        missing = compose(free_port(), api_image=image)
        with pytest.raises(OrchestratorError, match=re.escape(f"{image} of service api")):
            await adapter.deploy(load_stack(missing, name=fresh))
        assert ids(docker_engine, fresh) == {} and networks(docker_engine, fresh) == []
    finally:
        blocker.remove(force=True)
        await adapter.remove(fresh)


async def test_dependency_failures_name_the_service_and_its_last_probe(
    adapter: DockerHostAdapter, docker_engine: DockerEngine, stack_name: str
) -> None:
    sick = (
        compose(free_port())
        .replace('["CMD", "test", "-f", "/tmp/ready"]', '["CMD-SHELL", "echo warming-up; exit 1"]')
        .replace("retries: 20", "retries: 2")
    )
    with pytest.raises(OrchestratorError) as failure:
        await adapter.deploy(load_stack(sick, name=stack_name))
    message = failure.value.message
    assert "service db became unhealthy, so api was not started" in message
    assert "exit 1: warming-up" in message
    assert ids(docker_engine, stack_name) == {} and networks(docker_engine, stack_name) == []

    job = f"""
services:
  migrate:
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo migration failed; exit 3"]
  app:
    image: {BUSYBOX_IMAGE}
    command: ["sleep", "3600"]
    depends_on:
      migrate: {{condition: service_completed_successfully}}
"""
    with pytest.raises(OrchestratorError, match="exit code 3; last log lines: migration failed"):
        await adapter.deploy(load_stack(job, name=stack_name))
    assert ids(docker_engine, stack_name) == {}


async def test_reads_status_logs_events_stats_and_diagnostics(
    adapter: DockerHostAdapter, stack_name: str
) -> None:
    await adapter.deploy(load_stack(compose(free_port()), name=stack_name))

    logs = await adapter.logs(stack_name, "db", tail=10, since_seconds=None)
    assert logs.resource == f"{stack_name}/db" and "db is starting" in logs.lines
    assert len((await adapter.logs(stack_name, "db", tail=1, since_seconds=600)).lines) == 1
    with pytest.raises(NotFound, match="services found: api, db, web"):
        await adapter.logs(stack_name, "nope", tail=10, since_seconds=None)

    events = await adapter.events(stack_name, since_seconds=120)
    assert {"create", "start"} <= {e.action for e in events}
    assert f"{stack_name}-db-1" in {e.resource for e in events}
    assert any(e.action.startswith("health_status") for e in events)

    stats = {row.container: row for row in await adapter.stats(stack_name)}
    assert set(stats) == {f"{stack_name}-{s}-1" for s in ("db", "api", "web")}
    assert stats[f"{stack_name}-web-1"].memory_limit_bytes == 64 * 1024 * 1024
    assert all(row.memory_bytes > 0 for row in stats.values())

    env = await adapter.exec_diagnostic(stack_name, "api", ["env"])
    assert "DB_HOST=db" in env.output and env.exit_code == 0
    greeting = await adapter.exec_diagnostic(stack_name, "web", ["cat", "/tmp/greeting"])
    assert greeting.output == "v1\n"
    page = await adapter.exec_diagnostic(
        stack_name, "web", ["wget", "-q", "-O", "-", "http://127.0.0.1:80/index.html"]
    )
    assert page.output == "windflow test page\n" and page.exit_code == 0
    missing = await adapter.exec_diagnostic(stack_name, "web", ["ls", "/nonexistent"])
    assert missing.exit_code != 0 and "No such file" in missing.output
    refused = {
        ("rm", "-rf", "/"): "not an allowed diagnostic command",
        ("env", "sh"): "takes no arguments",
        ("hostname", "evil"): "takes no arguments",
        ("tail", "-f", "/var/log/x"): "never ends",
        ("cat", "/dev/zero"): "never end",
        ("head", "/proc/1/root/dev/urandom"): "never end",
        ("wget", "-q", "-O", "-", "http://10.0.0.1/"): "loopback",
        ("wget", "http://127.0.0.1/"): "needs -O -",
        ("wget", "-O", "/tmp/x", "http://127.0.0.1/"): "not allowed",
        ("cat", "/etc/passwd;reboot"): "shell syntax",
    }
    for command, reason in refused.items():
        with pytest.raises(InvalidInput, match=reason):
            await adapter.exec_diagnostic(stack_name, "web", list(command))

    inventory = await adapter.inventory()
    ours = [w for w in inventory.workloads if w.stack == stack_name]
    assert sorted(w.name for w in ours) == [f"{stack_name}-{s}-1" for s in ("api", "db", "web")]
    assert all(w.state == "running" and w.image == BUSYBOX_IMAGE for w in ours)


async def test_scale_restart_and_scale_to_zero_and_back(
    adapter: DockerHostAdapter, docker_engine: DockerEngine, stack_name: str
) -> None:
    text = f"""
services:
  worker:
    image: {BUSYBOX_IMAGE}
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    init: true
  web:
    image: {BUSYBOX_IMAGE}
    command: ["httpd", "-f", "-p", "80"]
    ports: ["127.0.0.1:{free_port()}:80"]
    stop_grace_period: 1s
    init: true
"""
    stack = load_stack(text, name=stack_name)
    await adapter.deploy(stack)
    original = ids(docker_engine, stack_name)["worker"]

    async def worker() -> tuple[int, int, str]:
        status = await adapter.status(stack_name)
        found = next(s for s in status.services if s.name == "worker")
        return found.desired, found.running, found.state

    scaled = await adapter.scale(stack_name, "worker", 3)
    assert (scaled.replicas_before, scaled.replicas_after) == (1, 3)
    assert await worker() == (3, 3, "running")
    assert [c for c in names(docker_engine, stack_name) if "worker" in c] == [
        f"{stack_name}-worker-{n}" for n in (1, 2, 3)
    ]
    plan = {c.resource: c for c in await adapter.plan_deploy(stack)}
    assert (plan["worker"].action, plan["worker"].detail) == ("scale", "3 -> 1 replicas")

    assert (await adapter.scale(stack_name, "worker", 1)).replicas_after == 1
    assert ids(docker_engine, stack_name)["worker"] == original

    await adapter.scale(stack_name, "worker", 0)
    assert await worker() == (0, 0, "exited")
    scaled = await adapter.scale(stack_name, "worker", 2)
    assert (scaled.replicas_before, scaled.replicas_after) == (0, 2)
    assert await worker() == (2, 2, "running")

    with contextlib.closing(docker_engine.client()) as client:
        started = client.containers.get(f"{stack_name}-web-1").attrs["State"]["StartedAt"]
        await adapter.restart(stack_name, "web")
        restarted = client.containers.get(f"{stack_name}-web-1").attrs["State"]["StartedAt"]
    assert restarted != started
    with pytest.raises(InvalidInput, match="fixed host port"):
        await adapter.scale(stack_name, "web", 2)
    with pytest.raises(NotFound):
        await adapter.scale(stack_name, "nope", 2)

    outcome = await adapter.deploy(stack)
    assert outcome.scaled == ["worker"] and outcome.unchanged == ["web"]
    assert len([c for c in names(docker_engine, stack_name) if "worker" in c]) == 1


def sharing_stack(version: str) -> str:
    # init: true forwards SIGTERM (PID 1 ignores it), so stops do not wait out the grace.
    return f"""
services:
  main:
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo {version} > /shared/v; exec httpd -f -p 8080 -h /shared"]
    volumes: ["/shared"]
    stop_grace_period: 1s
    init: true
  sidecar:
    image: {BUSYBOX_IMAGE}
    command: ["sleep", "3600"]
    network_mode: service:main
    volumes_from: ["main:ro"]
    stop_grace_period: 1s
    init: true
  flaky:
    image: {BUSYBOX_IMAGE}
    command: ["sleep", "3600"]
    healthcheck: {{test: ["CMD-SHELL", "exit 1"], interval: 200ms, retries: 1}}
    stop_grace_period: 1s
    init: true
  watcher:
    image: {BUSYBOX_IMAGE}
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    init: true
    depends_on:
      main: {{condition: service_started, restart: true}}
      flaky: {{condition: service_healthy, required: false}}
"""


async def test_shared_namespaces_and_dependency_flags(
    adapter: DockerHostAdapter, docker_engine: DockerEngine, stack_name: str
) -> None:
    outcome = await adapter.deploy(load_stack(sharing_stack("v1"), name=stack_name))
    assert any("optional dependency flaky" in w for w in outcome.warnings), outcome.warnings
    assert "watcher" in outcome.created, "an optional dependency does not block"
    with contextlib.closing(docker_engine.client()) as client:
        sidecar = client.containers.get(f"{stack_name}-sidecar-1")
        main = client.containers.get(f"{stack_name}-main-1")
        assert sidecar.attrs["HostConfig"]["NetworkMode"] == f"container:{main.id}"
        assert sidecar.attrs["HostConfig"]["VolumesFrom"] == [f"{stack_name}-main-1:ro"]
        answer = sidecar.exec_run(["wget", "-q", "-O", "-", "http://127.0.0.1:8080/v"])
        assert answer.output == b"v1\n"
        watcher_started = client.containers.get(f"{stack_name}-watcher-1").attrs["State"]

    v2 = load_stack(sharing_stack("v2"), name=stack_name)
    plan = {c.resource: (c.action, c.detail) for c in await adapter.plan_deploy(v2)}
    assert plan["main"] == ("recreate", "changed: command")
    assert plan["sidecar"] == ("recreate", "shares the namespace of main")
    assert plan["watcher"] == ("restart", "restart: main changes")
    assert plan["flaky"][0] == "noop"
    before = ids(docker_engine, stack_name)
    outcome = await adapter.deploy(v2)
    assert sorted(outcome.recreated) == ["main", "sidecar"] and outcome.restarted == ["watcher"]
    after = ids(docker_engine, stack_name)
    assert after["watcher"] == before["watcher"] and after["flaky"] == before["flaky"]
    with contextlib.closing(docker_engine.client()) as client:
        sidecar = client.containers.get(f"{stack_name}-sidecar-1")
        answer = sidecar.exec_run(["wget", "-q", "-O", "-", "http://127.0.0.1:8080/v"])
        assert answer.output == b"v2\n"
        watcher = client.containers.get(f"{stack_name}-watcher-1").attrs["State"]
        assert watcher["StartedAt"] != watcher_started["StartedAt"]


async def test_unsupported_settings_are_reported_not_dropped(
    adapter: DockerHostAdapter, docker_engine: DockerEngine, stack_name: str
) -> None:
    text = f"""
services:
  a:
    image: {BUSYBOX_IMAGE}
    build: .
    secrets: [s]
    links: [b]
    volumes: ["./data:/data"]
    deploy:
      update_config: {{parallelism: 1}}
      placement: {{constraints: ["node.role == manager"]}}
  b:
    image: {BUSYBOX_IMAGE}
secrets:
  s: {{file: ./s.txt}}
"""
    with pytest.raises(InvalidInput) as refusal:
        await adapter.plan_deploy(load_stack(text, name=stack_name))
    problems = refusal.value.details["problems"]
    for expected in (
        "a: build: is not supported",
        "a: configs/secrets need a Swarm or Kubernetes target",
        "a: 'links' is not supported",
        "a: bind mount './data' must be an absolute path",
        "a: deploy.update_config is not supported",
        "a: deploy.placement is not supported",
    ):
        assert any(p.startswith(expected) for p in problems), (expected, problems)
    with pytest.raises(InvalidInput):
        await adapter.deploy(load_stack(text, name=stack_name))
    assert ids(docker_engine, stack_name) == {}


async def test_unreachable_engine_is_reported_with_a_way_out(adapter: DockerHostAdapter) -> None:
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
    with pytest.raises(TargetUnreachable) as failure:
        await dead.status("anything")
    assert "target gone" in failure.value.message
    assert "/nonexistent/docker.sock does not exist" in failure.value.message
    assert failure.value.hint and "dockerd" in failure.value.hint
    with pytest.raises(TargetUnreachable):
        await dead.deploy(load_stack(compose(free_port()), name="anything"))
    assert not (await dead.check()).reachable
    healthy = await adapter.check()
    assert healthy.reachable and healthy.version
