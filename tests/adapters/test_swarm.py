"""The Swarm adapter against a real single-node swarm, with the locally built busybox image."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import docker
import httpx
import pytest
from docker.errors import DockerException

from tests.infra.availability import unavailable
from tests.infra.docker_engine import BUSYBOX_IMAGE, DockerEngine, missing_prerequisite
from tools.adapters.protocol import StackAdapter
from tools.adapters.swarm import SwarmAdapter
from tools.stack import load_stack
from tools.targets import TargetKind, TargetSpec
from windflow.errors import InvalidInput, OrchestratorError, TargetUnreachable, WindFlowError

NAMESPACE = "com.docker.stack.namespace"
TOKEN = "s3cret-token"
T = TypeVar("T")


def free_port() -> int:
    """A free port whose successor is free too (compose() publishes both)."""
    while True:
        with socket.socket() as sock, socket.socket() as successor:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
            with contextlib.suppress(OSError):
                successor.bind(("127.0.0.1", port + 1))
                return port


SERVE_AND_TICK = "httpd -p 8080 -h /var/www; while true; do echo tick; sleep 0.3; done"


def compose(
    port: int,
    *,
    greeting: str = "v1",
    web: str = '["httpd", "-f", "-p", "8080", "-h", "/var/www"]',
    worker: str = SERVE_AND_TICK,
    app_conf: str = 'content: "hello v1"',
    extra: str = "",
) -> str:
    """web: 2 healthy replicas behind DNS round robin; worker: published ports, log lines.

    This kernel has no IPVS, so Swarm's virtual IPs and the ingress routing mesh do not
    forward traffic here: web uses dnsrr and worker publishes in host mode to test
    reachability; the ingress port (``port + 1``) is checked in the service spec.
    """
    return f"""
services:
  web:
    image: {BUSYBOX_IMAGE}
    command: {web}
    environment: {{GREETING: {greeting}}}
    configs: [{{source: app, target: /etc/app.conf}}]
    secrets: [token]
    networks: {{back: {{aliases: [www]}}}}
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/index.html"]
      interval: 500ms
      timeout: 2s
      retries: 5
    stop_grace_period: 1s
    labels: {{role: frontend}}
    deploy:
      replicas: 2
      endpoint_mode: dnsrr
      labels: {{team: web}}
      update_config: {{parallelism: 2, order: start-first, monitor: 1s}}
      rollback_config: {{parallelism: 2, order: stop-first}}
      restart_policy: {{condition: any, delay: 1s}}
      resources:
        limits: {{cpus: "0.5", memory: 64M}}
        reservations: {{memory: 8M}}
      placement: {{constraints: ["node.role == manager"]}}
  worker:
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "{worker}"]
    depends_on: [web]
    networks: [back]
    ports:
      - {{target: 8080, published: {port}, mode: host}}
      - "{port + 1}:8081"
    stop_signal: SIGKILL
    deploy:
      update_config: {{monitor: 1s}}
      restart_policy: {{condition: any, delay: 1s}}
{extra}
networks:
  back: {{}}
configs:
  app: {{{app_conf}}}
secrets:
  token: {{environment: WF_TOKEN}}
"""


SLEEPER = f"""  extra:
    image: {BUSYBOX_IMAGE}
    command: ["sleep", "3600"]
    stop_signal: SIGKILL
"""


def target(host: str) -> TargetSpec:
    return TargetSpec(
        id="t-swarm",
        org_id="o1",
        name="swarm-local",
        kind=TargetKind.SWARM,
        environment="dev",
        connection={"host": host},
    )


@pytest.fixture
def stack_name() -> str:
    return f"w{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def adapter(
    swarm_engine: DockerEngine, stack_name: str, tmp_path: Path
) -> AsyncIterator[SwarmAdapter]:
    swarm = SwarmAdapter(
        target(swarm_engine.host),
        base_dir=tmp_path,
        variables={"WF_TOKEN": TOKEN},
        converge_timeout=60,
        poll_interval=0.25,
    )
    try:
        yield swarm
    finally:
        with contextlib.suppress(WindFlowError):
            await swarm.remove(stack_name)


@pytest.fixture
def engine(swarm_engine: DockerEngine) -> Iterator[docker.DockerClient]:
    with contextlib.closing(swarm_engine.client()) as client:
        yield client


def leftovers(client: docker.DockerClient, stack: str) -> dict[str, list[str]]:
    label = {"label": f"{NAMESPACE}={stack}"}
    return {
        "services": sorted(s.name for s in client.services.list(filters=label)),
        "networks": sorted(n.name for n in client.networks.list(filters=label)),
        "configs": sorted(c.name for c in client.configs.list(filters=label)),
        "secrets": sorted(s.name for s in client.secrets.list(filters=label)),
    }


def nothing_left(client: docker.DockerClient, stack: str) -> bool:
    return not any(leftovers(client, stack).values())


def spec_of(client: docker.DockerClient, stack: str, service: str) -> dict[str, Any]:
    found = client.services.get(f"{stack}_{service}")
    return {"version": found.version, **found.attrs["Spec"]}


def task_containers(client: docker.DockerClient, stack: str, service: str) -> list[Any]:
    label = f"com.docker.swarm.service.name={stack}_{service}"
    return list(client.containers.list(filters={"label": label, "status": "running"}))


async def eventually(probe: Callable[[], Awaitable[T]], *, within: float = 20.0) -> T:
    """Poll until the probe returns something truthy: swarm converges in seconds, not at once."""
    deadline = time.monotonic() + within
    while True:
        with contextlib.suppress(httpx.TransportError, DockerException):
            result = await probe()
            if result:
                return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {probe}")
        await asyncio.sleep(0.25)


async def test_deploy_runs_replicas_with_config_secret_network_and_ports(
    adapter: SwarmAdapter, engine: docker.DockerClient, stack_name: str, tmp_path: Path
) -> None:
    (tmp_path / "app.conf").write_text("hello from a file\n")
    port = free_port()
    stack = load_stack(compose(port, app_conf="file: ./app.conf"), name=stack_name)

    plan = {(c.action, c.resource.split(" ")[0]) for c in await adapter.plan_deploy(stack)}
    assert plan == {
        ("create", "network"),
        ("create", "config"),
        ("create", "secret"),
        ("create", "web"),
        ("create", "worker"),
    }
    assert nothing_left(engine, stack_name), "planning touches nothing"

    outcome = await adapter.deploy(stack)
    assert sorted(outcome.created) == ["web", "worker"]
    status = {s.name: s for s in (await adapter.wait_converged(stack_name, timeout=30)).services}
    assert (status["web"].state, status["web"].running, status["web"].desired) == ("running", 2, 2)
    assert status["web"].health == "healthy"
    assert status["worker"].running == 1
    assert set(status["worker"].ports) == {f"{port}->8080/tcp (host)", f"{port + 1}->8081/tcp"}

    network = engine.networks.get(f"{stack_name}_back")
    assert network.attrs["Driver"] == "overlay" and network.attrs["Attachable"]
    assert network.attrs["Labels"][NAMESPACE] == stack_name
    assert len(engine.configs.list(filters={"label": f"{NAMESPACE}={stack_name}"})) == 1

    web = spec_of(engine, stack_name, "web")
    assert web["Labels"]["team"] == "web" and web["Labels"]["dev.windflow.config-hash"]
    assert web["Labels"]["com.docker.stack.image"] == BUSYBOX_IMAGE
    task = web["TaskTemplate"]
    assert task["ContainerSpec"]["Labels"] == {
        "role": "frontend",
        NAMESPACE: stack_name,
        "dev.windflow.managed": "true",
    }
    assert task["Resources"]["Limits"] == {"NanoCPUs": 500_000_000, "MemoryBytes": 64 * 1024**2}
    assert task["Placement"]["Constraints"] == ["node.role == manager"]
    assert task["RestartPolicy"]["Delay"] == 1_000_000_000
    assert web["UpdateConfig"]["Order"] == "start-first"
    assert web["EndpointSpec"] == {"Mode": "dnsrr"}
    ingress = spec_of(engine, stack_name, "worker")["EndpointSpec"]["Ports"][1]
    assert (ingress["PublishMode"], ingress["PublishedPort"]) == ("ingress", port + 1)
    assert web["RollbackConfig"]["Parallelism"] == 2

    containers = task_containers(engine, stack_name, "web")
    assert len(containers) == 2
    inside = containers[0]
    assert inside.exec_run(["cat", "/etc/app.conf"]).output == b"hello from a file\n"
    assert inside.exec_run(["cat", "/run/secrets/token"]).output == TOKEN.encode()
    assert "GREETING=v1" in inside.attrs["Config"]["Env"]

    # The published port answers; the alias resolves on the stack's overlay network.
    def fetch() -> str:
        return httpx.get(f"http://127.0.0.1:{port}/index.html", timeout=2).text

    assert await eventually(lambda: asyncio.to_thread(fetch)) == "windflow test page\n"
    worker = task_containers(engine, stack_name, "worker")[0]

    def through_alias() -> bytes:
        answer = worker.exec_run(["wget", "-q", "-O", "-", "http://www:8080/index.html"])
        return bytes(answer.output) if answer.exit_code == 0 else b""

    assert await eventually(lambda: asyncio.to_thread(through_alias)) == b"windflow test page\n"

    removed = await adapter.remove(stack_name)
    assert removed.removed == ["web", "worker"]
    assert nothing_left(engine, stack_name), leftovers(engine, stack_name)


async def test_redeploy_updates_only_the_changed_service(
    adapter: SwarmAdapter, engine: docker.DockerClient, stack_name: str
) -> None:
    port = free_port()
    await adapter.deploy(load_stack(compose(port, extra=SLEEPER), name=stack_name))
    web_before = spec_of(engine, stack_name, "web")
    worker_before = spec_of(engine, stack_name, "worker")

    same = await adapter.plan_deploy(load_stack(compose(port, extra=SLEEPER), name=stack_name))
    assert {c.resource: c.action for c in same} == {
        "web": "noop",
        "worker": "noop",
        "extra": "noop",
    }

    worker_v2 = "echo v2; exec sleep 3600"
    changed = load_stack(compose(port, worker=worker_v2, extra=SLEEPER), name=stack_name)
    plan = {c.resource: c for c in await adapter.plan_deploy(changed)}
    assert {name: c.action for name, c in plan.items()} == {
        "web": "noop",
        "worker": "update",
        "extra": "noop",
    }
    assert plan["worker"].detail == "changed: command"

    outcome = await adapter.deploy(changed)
    assert outcome.recreated == ["worker"] and sorted(outcome.unchanged) == ["extra", "web"]
    assert spec_of(engine, stack_name, "web")["version"] == web_before["version"]
    worker_after = spec_of(engine, stack_name, "worker")
    assert worker_after["version"] > worker_before["version"]
    assert worker_after["TaskTemplate"]["ContainerSpec"]["Args"] == ["sh", "-c", worker_v2]

    # A service dropped from the stack is removed; the rest stays as it is.
    without_extra = load_stack(compose(port, worker=worker_v2), name=stack_name)
    plan = {c.resource: c for c in await adapter.plan_deploy(without_extra)}
    assert plan["extra"].action == "delete"
    outcome = await adapter.deploy(without_extra)
    assert outcome.removed == ["extra"] and sorted(outcome.unchanged) == ["web", "worker"]
    assert leftovers(engine, stack_name)["services"] == [
        f"{stack_name}_web",
        f"{stack_name}_worker",
    ]


async def test_reads_logs_events_inventory_then_scales_and_restarts(
    adapter: SwarmAdapter, engine: docker.DockerClient, stack_name: str
) -> None:
    await adapter.deploy(load_stack(compose(free_port()), name=stack_name))

    async def ticks() -> list[str]:
        found = await adapter.logs(stack_name, "worker", tail=5, since_seconds=120)
        return [line for line in found.lines if line.endswith("tick")]

    lines = await eventually(ticks, within=10)
    assert all(line.startswith("worker.1 | ") for line in lines)
    assert len((await adapter.logs(stack_name, "worker", tail=2, since_seconds=None)).lines) <= 2

    events = await adapter.events(stack_name, since_seconds=120)
    seen = {(e.type, e.action, e.resource) for e in events}
    assert ("service", "create", f"{stack_name}_web") in seen
    assert any(
        e.type == "container" and e.resource.startswith(f"{stack_name}_web.") for e in events
    )

    inventory = {w.name: w for w in (await adapter.inventory()).workloads}
    assert inventory[f"{stack_name}_web"].stack == stack_name
    assert inventory[f"{stack_name}_web"].kind == "service"

    scaled = await adapter.scale(stack_name, "web", 3)
    assert (scaled.replicas_before, scaled.replicas_after) == (2, 3)
    status = await adapter.wait_converged(stack_name, timeout=30)
    assert {s.name: s.running for s in status.services}["web"] == 3
    back = await adapter.scale(stack_name, "web", 2)
    assert (back.replicas_before, back.replicas_after) == (3, 2)
    await adapter.wait_converged(stack_name, timeout=30)
    # The stack file says 2 replicas again, so a redeploy has nothing to do.
    plan = await adapter.plan_deploy(load_stack(compose(free_port()), name=stack_name))
    assert {c.resource: c.action for c in plan}["web"] != "scale"

    before = task_containers(engine, stack_name, "worker")[0].id
    await adapter.restart(stack_name, "worker")
    await adapter.wait_converged(stack_name, timeout=30)
    assert spec_of(engine, stack_name, "worker")["TaskTemplate"]["ForceUpdate"] == 1
    assert task_containers(engine, stack_name, "worker")[0].id != before

    with pytest.raises(InvalidInput):
        await adapter.scale(stack_name, "web", -1)
    with pytest.raises(Exception, match="no service nope"):
        await adapter.scale(stack_name, "nope", 1)


@pytest.fixture
def second_tag(engine: docker.DockerClient) -> Iterator[str]:
    tag = f"windflow-test/busybox:swarm-{uuid.uuid4().hex[:6]}"
    engine.images.get(BUSYBOX_IMAGE).tag(tag)
    try:
        yield tag
    finally:
        with contextlib.suppress(DockerException):
            engine.images.remove(tag)


async def test_native_rollback_restores_the_previous_spec(
    adapter: SwarmAdapter, engine: docker.DockerClient, stack_name: str, second_tag: str
) -> None:
    port = free_port()
    v1 = load_stack(compose(port), name=stack_name)
    await adapter.deploy(v1)
    v2_text = compose(port, worker="echo v2; exec sleep 3600").replace(
        f'image: {BUSYBOX_IMAGE}\n    command: ["sh"',
        f'image: {second_tag}\n    environment: {{MODE: v2}}\n    command: ["sh"',
    )
    await adapter.deploy(load_stack(v2_text, name=stack_name))
    updated = spec_of(engine, stack_name, "worker")["TaskTemplate"]["ContainerSpec"]
    assert updated["Image"] == second_tag and updated["Env"] == ["MODE=v2"]

    result = await adapter.rollback(stack_name, "worker")
    assert (result.image_before, result.image_after) == (second_tag, BUSYBOX_IMAGE)
    assert result.version_after > result.version_before
    restored = spec_of(engine, stack_name, "worker")["TaskTemplate"]["ContainerSpec"]
    assert restored["Image"] == BUSYBOX_IMAGE and "Env" not in restored
    assert restored["Args"] == ["sh", "-c", SERVE_AND_TICK]
    status = await adapter.wait_converged(stack_name, timeout=30)
    assert {s.name: s.image for s in status.services}["worker"] == BUSYBOX_IMAGE
    # The labels rolled back with the spec, so the engine and the v1 file agree again.
    assert {c.action for c in await adapter.plan_deploy(v1)} == {"noop"}

    with pytest.raises(InvalidInput, match="no previous version"):
        await adapter.rollback(stack_name, "web")


async def test_failed_deploys_are_undone(
    adapter: SwarmAdapter, engine: docker.DockerClient, stack_name: str
) -> None:
    port = free_port()
    await adapter.deploy(load_stack(compose(port), name=stack_name))
    before = leftovers(engine, stack_name)
    web_before = spec_of(engine, stack_name, "web")

    worker_version = spec_of(engine, stack_name, "worker")["version"]

    # web gets new config content (a new config object) and a command that exits 1, a
    # new service appears: the whole deploy is undone. (Not worker: with a host-mode
    # port, a failing task restarting during a rollback can deadlock the engine's
    # rollback, a swarmkit race the adapter reports as "still rolling back".)
    broken = compose(
        port, web='["sh", "-c", "exit 1"]', app_conf='content: "hello v2"', extra=SLEEPER
    )
    plan = {
        c.resource: c.action for c in await adapter.plan_deploy(load_stack(broken, name=stack_name))
    }
    assert (plan["web"], plan["worker"], plan["extra"]) == ("update", "noop", "create")

    started = time.monotonic()
    with pytest.raises(OrchestratorError, match=r"non-zero exit \(1\)") as failure:
        await adapter.deploy(load_stack(broken, name=stack_name))
    assert "rolled back 1 updated services" in failure.value.message
    assert "still rolling back" not in failure.value.message
    assert time.monotonic() - started < 40, failure.value.message

    assert leftovers(engine, stack_name) == before, "new service and config are gone"
    web = spec_of(engine, stack_name, "web")["TaskTemplate"]["ContainerSpec"]
    assert web["Args"] == web_before["TaskTemplate"]["ContainerSpec"]["Args"]
    config = web["Configs"][0]["ConfigName"]
    assert config == web_before["TaskTemplate"]["ContainerSpec"]["Configs"][0]["ConfigName"]
    assert spec_of(engine, stack_name, "worker")["version"] == worker_version
    status = await adapter.wait_converged(stack_name, timeout=60)
    assert status.healthy, status

    # The engine refuses the last service (its ingress port is worker's) after a network
    # and a service were created for it: both go again, the running services stay as
    # they are.
    versions = {name: spec_of(engine, stack_name, name)["version"] for name in ("web", "worker")}
    clash = f"""{SLEEPER}    networks: [front]
  clash:
    image: {BUSYBOX_IMAGE}
    command: ["sleep", "3600"]
    ports: ["{port + 1}:80"]
    depends_on: [extra]
"""
    text = compose(port, extra=clash).replace(
        "networks:\n  back: {}", "networks:\n  back: {}\n  front: {}"
    )
    with pytest.raises(OrchestratorError, match="already in use") as failure:
        await adapter.deploy(load_stack(text, name=stack_name))
    assert "removed 1 new services" in failure.value.message
    assert leftovers(engine, stack_name) == before
    assert versions == {
        name: spec_of(engine, stack_name, name)["version"] for name in ("web", "worker")
    }


async def test_stuck_services_report_their_task_errors(
    swarm_engine: DockerEngine, engine: docker.DockerClient, stack_name: str
) -> None:
    quick = SwarmAdapter(target(swarm_engine.host), converge_timeout=3, poll_interval=0.25)
    nowhere = f"""
services:
  app:
    image: {BUSYBOX_IMAGE}
    command: ["sleep", "3600"]
    deploy:
      placement: {{constraints: ["node.labels.zone == nowhere"]}}
"""
    with pytest.raises(OrchestratorError, match="no suitable node") as failure:
        await quick.deploy(load_stack(nowhere, name=stack_name))
    assert "not converged within 3 s" in failure.value.message
    assert nothing_left(engine, stack_name)

    # Services that cannot run, as status and wait_converged describe them.
    labels = {NAMESPACE: stack_name}
    engine.services.create(
        BUSYBOX_IMAGE,
        ["sleep", "3600"],
        name=f"{stack_name}_pending",
        labels=labels,
        constraints=["node.labels.zone == nowhere"],
    )
    engine.services.create(
        BUSYBOX_IMAGE, ["sh", "-c", "exit 3"], name=f"{stack_name}_crashing", labels=labels
    )
    try:

        async def crashed() -> bool:
            status = {s.name: s for s in (await quick.status(stack_name)).services}
            return status["crashing"].exit_code == 3

        await eventually(crashed)
        status = {s.name: s for s in (await quick.status(stack_name)).services}
        assert status["pending"].state == "pending" and status["pending"].desired == 1
        assert "no suitable node" in (status["pending"].message or "")
        assert status["crashing"].state in ("failed", "starting")
        assert "task: non-zero exit (3)" in (status["crashing"].message or "")
        assert status["crashing"].restarts >= 1
        with pytest.raises(OrchestratorError, match="did not converge within 1 s") as stuck:
            await quick.wait_converged(stack_name, timeout=1)
        assert "no suitable node" in stuck.value.message
        assert "non-zero exit (3)" in stuck.value.message
    finally:
        await quick.remove(stack_name)
    assert nothing_left(engine, stack_name)


async def test_unsupported_settings_are_reported_before_anything_changes(
    adapter: SwarmAdapter, engine: docker.DockerClient, stack_name: str
) -> None:
    text = f"""
services:
  app:
    image: {BUSYBOX_IMAGE}
    privileged: true
    devices: ["/dev/null:/dev/nothing"]
    pid: host
    ports: ["127.0.0.1:8080:80"]
    volumes: ["./data:/data"]
    configs: [outside]
    secrets: [missing]
networks:
  local: {{driver: bridge}}
configs:
  outside: {{file: ../../etc/hostname}}
secrets:
  missing: {{environment: NOT_GIVEN}}
"""
    stack = load_stack(text, name=stack_name)
    with pytest.raises(InvalidInput) as refused:
        await adapter.plan_deploy(stack)
    problems = "\n".join(refused.value.details["unsupported"])
    for expected in (
        "privileged",
        "devices",
        "pid",
        "host IP",
        "absolute path",
        "outside the stack directory",
        "NOT_GIVEN",
        "driver 'bridge'",
    ):
        assert expected in problems, expected
    with pytest.raises(InvalidInput):
        await adapter.deploy(stack)
    assert nothing_left(engine, stack_name)
    with pytest.raises(InvalidInput, match="invalid stack name"):
        await adapter.status("Bad Name")


async def test_unreachable_engine_raises_target_unreachable(tmp_path: Path) -> None:
    adapter: StackAdapter = SwarmAdapter(target(f"unix://{tmp_path}/nothing.sock"))
    assert adapter.kind is TargetKind.SWARM
    result = await adapter.check()
    assert not result.reachable and "cannot reach" in result.detail
    with pytest.raises(TargetUnreachable, match="cannot reach the Docker engine"):
        await adapter.status("anything")
    with pytest.raises(TargetUnreachable):
        await adapter.deploy(
            load_stack(SLEEPER.replace("  extra:", "services:\n  extra:"), name="a")
        )


@contextlib.contextmanager
def plain_engine() -> Iterator[str]:
    """A second dockerd, never part of a swarm (no bridge or iptables: it runs nothing)."""
    reason = missing_prerequisite()
    if reason:
        unavailable("Docker engine", reason)
    root = Path(tempfile.mkdtemp(prefix="wfp-", dir="/tmp"))
    host = f"unix://{root}/docker.sock"
    log = (root / "dockerd.log").open("wb")
    process = subprocess.Popen(
        [
            *("dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "exec")),
            *("--pidfile", str(root / "dockerd.pid"), "-H", host, "--storage-driver=vfs"),
            *("--bridge=none", "--iptables=false"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with contextlib.closing(docker.DockerClient(base_url=host, timeout=5)) as client:
                    client.ping()
                break
            except DockerException:
                if process.poll() is not None or time.monotonic() > deadline:
                    unavailable("a second Docker engine", (root / "dockerd.log").read_text()[-500:])
                time.sleep(0.1)
        yield host
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()
        subprocess.run(
            ["sh", "-c", f"grep -o ' {root}[^ ]*' /proc/mounts | sort -r | xargs -r umount -l"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


async def test_plain_engine_is_refused_as_not_a_swarm_manager() -> None:
    with plain_engine() as host:
        adapter = SwarmAdapter(target(host))
        result = await adapter.check()
        assert not result.reachable and "not a Swarm manager" in result.detail
        with pytest.raises(OrchestratorError, match="not a Swarm manager") as refused:
            await adapter.status("anything")
        assert refused.value.hint and "docker swarm init" in refused.value.hint
