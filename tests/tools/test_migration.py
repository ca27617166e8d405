"""Moving a deployed stack between targets, on real engines, through approvals only.

A second Docker engine plays the old host; the session's engine (plain, or as a
single-node swarm) and the real kube-apiserver are the destinations. The no-model
assistant drives the whole move; every change waits for an approval, and a destination
that is not healthy stops the move with the old stack still running.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pytest

from api.db.repo import resources
from assistant.rules_migration import route, stack_named
from guardrails.rbac import Role
from tests.adapters.test_docker_host import ids
from tests.api.harness import ApiHarness, SeededOrg
from tests.assistant.chat import Chat
from tests.infra.availability import require
from tests.infra.docker_engine import BUSYBOX_IMAGE, DockerEngine, EngineError
from tests.infra.kubernetes_api import KubeApiServer
from tools.base import DeploymentRecord
from tools.migration import Source, convert_for
from tools.migration_data import data_notes, switch_notes
from tools.stack import load_stack
from tools.targets import TargetKind, TargetSpec

BLOG = f"""
services:
  db:
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "exec sleep 3600"]
    init: true
    stop_grace_period: 1s
    volumes: [data:/var/lib/data]
  web:
    image: {BUSYBOX_IMAGE}
    command: ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
    init: true
    stop_grace_period: 1s
    depends_on: [db]
volumes:
  data: {{}}
"""


def _spec(name: str, kind: TargetKind) -> TargetSpec:
    return TargetSpec(
        id=name, org_id="o", name=name, kind=kind, environment="dev", connection={}, secrets={}
    )


def test_the_route_and_the_stack_are_read_from_the_request() -> None:
    targets = [_spec(n, TargetKind.DOCKER) for n in ("docker-1", "docker-10", "swarm-1")]
    source, destination = route("Move the blog stack from docker-10 to swarm-1 please", targets)
    assert (source and source.name, destination and destination.name) == ("docker-10", "swarm-1")
    source, destination = route("migrate stack shop to swarm-1 from docker-1", targets)
    assert (source and source.name, destination and destination.name) == ("docker-1", "swarm-1")
    assert route("move blog to docker-1", targets) == (None, targets[0])
    assert stack_named("move the blog stack from a to b") == "blog"
    assert stack_named("migrate stack shop-2 to b") == "shop-2"
    assert stack_named("move it from a to b") is None


def test_data_and_switch_notes_name_each_volume_and_port() -> None:
    stack = load_stack(
        """
services:
  db:
    image: postgres:16.4
    volumes: [pg:/var/lib/postgresql/data]
  files:
    image: example/files:1.2
    volumes: [store:/srv, ./conf:/etc/files:ro]
  web:
    image: nginx:1.27
    ports: ["8080:80"]
volumes: {pg: {}, store: {}}
""",
        name="blog",
    )
    source = _spec("docker-1", TargetKind.DOCKER)
    notes = data_notes(stack, source, _spec("k8s", TargetKind.KUBERNETES))
    assert any("blog_pg" in n and "pg_dumpall" in n and "PersistentVolumeClaim" in n for n in notes)
    assert any("blog_store" in n and "tar czf" in n for n in notes)
    assert any("./conf" in n and "ConfigMap" in n for n in notes)
    swarm_notes = data_notes(stack, source, _spec("swarm-1", TargetKind.SWARM))
    assert any("every Swarm node" in n for n in swarm_notes)
    switch = switch_notes(stack, source, _spec("swarm-1", TargetKind.SWARM))
    assert switch == [
        "web: clients reach port 8080 on docker-1; point them (DNS, load balancer or proxy) "
        "at port 8080 on swarm-1"
    ]


@pytest.fixture(scope="module")
def old_host() -> Iterator[DockerEngine]:
    """A second Docker engine: the host the stacks move away from."""
    engine = DockerEngine()
    try:
        engine.start()
    except (EngineError, OSError, RuntimeError) as exc:
        engine.stop()
        require("a second Docker engine", str(exc))
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[ApiHarness]:
    async with ApiHarness.start(database_url, tmp_path) as harness:
        yield harness


async def _org(
    api: ApiHarness, targets: dict[str, tuple[str, dict[str, Any], dict[str, str]]]
) -> SeededOrg:
    org = await api.seed_org(f"mv{uuid.uuid4().hex[:6]}")
    for name, (kind, connection, secrets) in targets.items():
        created = await api.client.post(
            "/targets",
            headers=org.headers(Role.ADMIN),
            json={
                "name": name,
                "kind": kind,
                "environment": "dev",
                "connection": connection,
                "secrets": secrets,
            },
        )
        assert created.status_code == 201, created.text
    return org


async def _deploy_on_source(chat: Chat, stack: str) -> None:
    conversation = await chat.conversation()
    await chat.send(conversation, f"deploy this as {stack} to old-host\n```yaml\n{BLOG}```")
    required = await chat.wait_for(conversation, "approval_required")
    await chat.decide(required["payload"]["approval_id"], approve=True)
    finished = await chat.wait_for(conversation, "run_finished")
    assert finished["payload"]["outcome"] == "succeeded", await chat.answer(conversation)


def _swarm_services(engine: DockerEngine, stack: str) -> dict[str, int]:
    """Running tasks per service of a swarm stack."""
    with contextlib.closing(engine.client()) as client:
        found = client.services.list(filters={"label": f"com.docker.stack.namespace={stack}"})
        return {
            s.name.removeprefix(f"{stack}_"): sum(
                1 for t in s.tasks() if t["Status"]["State"] == "running"
            )
            for s in found
        }


def _remove_everywhere(stack: str, *engines: DockerEngine) -> None:
    for engine in engines:
        with contextlib.closing(engine.client()) as client:
            for container in client.containers.list(
                all=True, filters={"label": f"com.docker.compose.project={stack}"}
            ):
                container.remove(force=True)
            if engine.swarm_active():
                for service in client.services.list(
                    filters={"label": f"com.docker.stack.namespace={stack}"}
                ):
                    service.remove()


@pytest.mark.docker
async def test_moves_a_stack_from_a_docker_host_to_a_swarm_through_approvals(
    api: ApiHarness, old_host: DockerEngine, swarm_engine: DockerEngine
) -> None:
    org = await _org(
        api,
        {
            "old-host": ("docker", {"host": old_host.host}, {}),
            "swarm-b": ("swarm", {"host": swarm_engine.host}, {}),
        },
    )
    chat = Chat(api, org)
    stack = f"blog{uuid.uuid4().hex[:6]}"
    try:
        await _deploy_on_source(chat, stack)
        assert set(ids(old_host, stack)) == {"db", "web"}
        conversation = await chat.conversation()
        await chat.send(conversation, f"move the {stack} stack from old-host to swarm-b")

        deploy = await chat.wait_for(conversation, "approval_required")
        assert deploy["payload"]["tool"] == "migrate_stack"
        assert "Step 1: deploy it on `swarm-b`" in str(await chat.events(conversation))
        assert _swarm_services(swarm_engine, stack) == {}  # nothing before the approval
        await chat.decide(deploy["payload"]["approval_id"], approve=True)

        removal = await chat.wait_for(conversation, "approval_required", within=120)
        assert removal["payload"]["tool"] == "remove_stack"
        assert _swarm_services(swarm_engine, stack) == {"db": 1, "web": 1}
        assert set(ids(old_host, stack)) == {"db", "web"}  # the old one still serves
        notes = [
            e["payload"]["text"] for e in await chat.events(conversation) if e["type"] == "message"
        ]
        assert any(f"{stack}_data" in n and "Before approving the removal" in n for n in notes)
        await chat.decide(removal["payload"]["approval_id"], approve=True)

        finished = await chat.wait_for(conversation, "run_finished", within=120)
        assert finished["payload"]["outcome"] == "succeeded"
        answer = await chat.answer(conversation)
        assert answer.startswith(f"Moved `{stack}` from `old-host` to `swarm-b`. all 2 services")
        assert ids(old_host, stack) == {}
        assert _swarm_services(swarm_engine, stack) == {"db": 1, "web": 1}
        calls = [
            e["payload"]["tool"]
            for e in await chat.events(conversation)
            if e["type"] == "tool_started"
        ]
        assert calls == [
            "plan_migration",
            "migrate_stack",
            "verify_migration",
            "remove_stack",
            "verify_migration",
        ]
        async with api.state.db.session() as session:
            target = await resources.target_by_name(session, org.id, "swarm-b")
            assert target is not None
            log = api.state.tooling.deployments
            record = await log.previous(org_id=org.id, target_id=target.id, stack_name=stack)
            assert record is not None and record.status == "succeeded"
            assert "windflow-test/busybox:1" in record.rendered_config
    finally:
        _remove_everywhere(stack, old_host, swarm_engine)


@pytest.mark.docker
async def test_an_approved_move_is_refused_when_the_source_changed_since_the_plan(
    api: ApiHarness, old_host: DockerEngine, docker_engine: DockerEngine
) -> None:
    org = await _org(
        api,
        {
            "old-host": ("docker", {"host": old_host.host}, {}),
            "new-host": ("docker", {"host": docker_engine.host}, {}),
        },
    )
    chat = Chat(api, org)
    stack = f"shop{uuid.uuid4().hex[:6]}"
    try:
        await _deploy_on_source(chat, stack)
        conversation = await chat.conversation()
        await chat.send(conversation, f"move the {stack} stack from old-host to new-host")
        deploy = await chat.wait_for(conversation, "approval_required")
        # Someone redeploys the source while the move waits for its approval.
        await _deploy_on_source(chat, stack)
        await chat.decide(deploy["payload"]["approval_id"], approve=True)
        finished = await chat.wait_for(conversation, "run_finished", within=60)
        answer = await chat.answer(conversation)
        assert "was not deployed on `new-host`" in answer
        assert "plan the migration again" in answer
        assert finished["payload"]["outcome"] == "succeeded"
        assert ids(docker_engine, stack) == {}
        assert set(ids(old_host, stack)) == {"db", "web"}
    finally:
        _remove_everywhere(stack, old_host, docker_engine)


@pytest.mark.docker
@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
async def test_an_unhealthy_destination_stops_the_move_before_anything_is_removed(
    api: ApiHarness, old_host: DockerEngine, kube_api: KubeApiServer
) -> None:
    namespace = f"mv-{uuid.uuid4().hex[:6]}"
    with contextlib.closing(kube_api.api_client()) as client:
        k8s.CoreV1Api(client).create_namespace(
            k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace))
        )
    org = await _org(
        api,
        {
            "old-host": ("docker", {"host": old_host.host}, {}),
            "k8s": (
                "kubernetes",
                {"api_url": kube_api.url, "namespace": namespace, "verify_tls": False},
                {"token": kube_api.token},
            ),
        },
    )
    chat = Chat(api, org)
    stack = f"wiki{uuid.uuid4().hex[:6]}"
    try:
        await _deploy_on_source(chat, stack)
        conversation = await chat.conversation()
        await chat.send(conversation, f"migrate the {stack} stack from old-host to k8s")
        deploy = await chat.wait_for(conversation, "approval_required")
        plan = deploy["payload"]["plan"]
        assert {c["resource"].split("/")[0] for c in plan["changes"]} >= {"Deployment"}
        assert any("PersistentVolumeClaim" in w for w in plan["warnings"])
        await chat.decide(deploy["payload"]["approval_id"], approve=True)
        await chat.wait_for(conversation, "run_finished", within=150)
        answer = await chat.answer(conversation)
        # No kubelet runs here: the pods stay Pending, so the move must stop.
        assert "is not healthy on `k8s`" in answer and "nothing was removed" in answer
        assert "Unschedulable" in answer  # reported at once, not after the full wait
        assert set(ids(old_host, stack)) == {"db", "web"}
        kinds = [e["payload"]["tool"] for e in await chat.events(conversation)
                 if e["type"] == "tool_started"]  # fmt: skip
        assert "remove_stack" not in kinds
    finally:
        _remove_everywhere(stack, old_host)
        with contextlib.closing(kube_api.api_client()) as client:
            k8s.CoreV1Api(client).delete_namespace(namespace)


@pytest.mark.docker
async def test_a_stack_moves_from_a_vagrant_vm_to_a_docker_host_through_the_api(
    api: ApiHarness, docker_engine: DockerEngine
) -> None:
    """VM -> Docker: the VM's recorded deployment is what moves (as vagrant_up records it)."""
    org = await _org(
        api,
        {
            "vm-1": ("vagrant", {"provider": "virtualbox"}, {}),
            "docker-b": ("docker", {"host": docker_engine.host}, {}),
        },
    )
    stack = f"vm{uuid.uuid4().hex[:6]}"
    async with api.state.db.session() as session:
        vm = await resources.target_by_name(session, org.id, "vm-1")
        assert vm is not None
    log = api.state.tooling.deployments
    record = await log.begin(
        org_id=org.id,
        target_id=vm.id,
        stack_name=stack,
        rendered_config=BLOG,
        approval_id=None,
        user_id=org.users[Role.OPERATOR],
    )
    await log.finish(record.id, "succeeded")
    operator, admin = org.headers(Role.OPERATOR), org.headers(Role.ADMIN)

    planned = await api.client.post(
        "/tools/plan_migration/call",
        headers=operator,
        json={"target": "vm-1", "arguments": {"stack": stack, "to_target": "docker-b"}},
    )
    assert planned.status_code == 200, planned.text
    plan = planned.json()["data"]
    assert (plan["source_kind"], plan["destination_kind"], plan["ready"]) == (
        "vagrant",
        "docker",
        True,
    )
    assert [s["tool"] for s in plan["steps"]] == [
        "migrate_stack",
        "verify_migration",
        None,
        "remove_stack",
        "verify_migration",
    ]
    step = plan["steps"][0]
    proposed = await api.client.post(
        "/tools/migrate_stack/call",
        headers=operator,
        json={"target": step["target"], "arguments": step["arguments"]},
    )
    assert proposed.json()["status"] == "approval_required", proposed.text
    assert ids(docker_engine, stack) == {}
    approval = proposed.json()["approval_id"]
    try:
        decided = await api.client.post(f"/approvals/{approval}/approve", headers=admin, json={})
        assert decided.status_code == 200, decided.text
        executed = await api.client.post(f"/approvals/{approval}/execute", headers=operator)
        assert executed.json()["status"] == "ok", executed.text
        assert set(ids(docker_engine, stack)) == {"db", "web"}
        again = await api.client.post(f"/approvals/{approval}/execute", headers=operator)
        assert again.json()["status"] == "denied"  # an approval runs once
        checked = await api.client.post(
            "/tools/verify_migration/call",
            headers=operator,
            json={"target": "docker-b", "arguments": {"stack": stack, "from_target": "vm-1"}},
        )
        assert checked.json()["data"]["ok"] is True, checked.text
    finally:
        _remove_everywhere(stack, docker_engine)


def test_converted_configs_shown_to_approvers_hold_no_secret_values() -> None:
    compose = """
services:
  db:
    image: postgres:16.4
    environment:
      POSTGRES_PASSWORD: canary-literal-7f3a9
      API_TOKEN: ${API_TOKEN}
"""
    env = {"API_TOKEN": "canary-from-env-91c2d"}
    record = DeploymentRecord(
        id="d", revision=3, rendered_config=compose, status="succeeded", env=env
    )
    source = Source(
        target=_spec("docker-1", TargetKind.DOCKER),
        record=record,
        stack=load_stack(compose, name="blog", env=env),
    )
    for kind in (TargetKind.KUBERNETES, TargetKind.SWARM, TargetKind.DOCKER):
        converted = convert_for(source, _spec("dest", kind))
        assert "canary-from-env-91c2d" not in converted.displayed
        if kind is TargetKind.KUBERNETES:
            assert "canary-literal-7f3a9" not in converted.displayed
            assert "canary-literal-7f3a9" in (converted.manifests or "")  # what is applied
