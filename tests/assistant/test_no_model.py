"""No-model mode on a real Docker engine: the same graph, rules instead of a model.

It deploys a saved stack through the approval path, diagnoses a crash-looping container,
reviews a compose file, and says in every answer that no model was used.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pytest

from assistant.rules import NO_MODEL_NOTE
from guardrails.rbac import Role
from tests.adapters.test_docker_host import ids
from tests.adapters.test_kubernetes import manifests, pods_of, set_pod_status, spec_for
from tests.api.harness import ApiHarness, SeededOrg
from tests.assistant.chat import Chat
from tests.assistant.test_scripted_deploy import TWO_SERVICES
from tests.infra.docker_engine import BUSYBOX_IMAGE, DockerEngine
from tests.infra.kubernetes_api import KubeApiServer
from tools.adapters.kubernetes import KubernetesAdapter
from tools.stack import load_stack

CRASHING = f"""
services:
  api:
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo starting api; echo 'FATAL: DATABASE_URL is not set'; exit 1"]
    restart: always
"""


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[ApiHarness]:
    async with ApiHarness.start(database_url, tmp_path) as harness:
        assert harness.settings.llm_model is None
        yield harness


async def _org(api: ApiHarness, host: str) -> SeededOrg:
    org = await api.seed_org(f"acme{uuid.uuid4().hex[:6]}")
    created = await api.client.post(
        "/targets",
        headers=org.headers(Role.ADMIN),
        json={"name": "docker-local", "kind": "docker", "connection": {"host": host}},
    )
    assert created.status_code == 201, created.text
    return org


def _cleanup(engine: DockerEngine, stack: str) -> None:
    with contextlib.closing(engine.client()) as client:
        for container in client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={stack}"}
        ):
            container.remove(force=True)


@pytest.mark.docker
async def test_deploys_a_saved_stack_after_approval_without_a_model(
    api: ApiHarness, docker_engine: DockerEngine
) -> None:
    org = await _org(api, docker_engine.host)
    stack = f"blog{uuid.uuid4().hex[:8]}"
    saved = await api.client.post(
        "/stacks",
        headers=org.headers(Role.ADMIN),
        json={"name": stack, "compose_source": TWO_SERVICES},
    )
    assert saved.status_code == 201, saved.text
    chat = Chat(api, org)
    conversation = await chat.conversation()
    try:
        await chat.send(conversation, f"Please deploy {stack} to docker-local")
        required = await chat.wait_for(conversation, "approval_required")
        assert required["payload"]["tool"] == "deploy_stack"
        assert ids(docker_engine, stack) == {}
        await chat.decide(required["payload"]["approval_id"], approve=True)
        finished = await chat.wait_for(conversation, "run_finished")
        assert finished["payload"]["outcome"] == "succeeded"
        assert finished["payload"]["model"] is None
        assert set(ids(docker_engine, stack)) == {"db", "api"}
        answer = await chat.answer(conversation)
        assert answer.startswith(f"Deployed stack `{stack}` to `docker-local`: created ")
        assert NO_MODEL_NOTE in answer
        calls = [
            e["payload"]["tool"]
            for e in await chat.events(conversation)
            if e["type"] == "tool_started"
        ]
        assert calls == ["saved_stacks", "saved_stack", "deploy_stack"]
    finally:
        _cleanup(docker_engine, stack)


@pytest.mark.docker
async def test_diagnoses_a_crash_looping_container_without_a_model(
    api: ApiHarness, docker_engine: DockerEngine
) -> None:
    org = await _org(api, docker_engine.host)
    stack = f"shop{uuid.uuid4().hex[:8]}"
    async with api.state.db.session() as session:
        from api.db.repo import resources

        target = await resources.target_by_name(session, org.id, "docker-local")
        assert target is not None
    adapter = api.state.tooling.adapter(api.state.tooling.spec(target))
    try:
        await adapter.deploy(load_stack(CRASHING, name=stack))
        for _ in range(100):
            status = await adapter.status(stack)
            if status.services[0].restarts >= 3:
                break
            await asyncio.sleep(0.2)
        chat = Chat(api, org, Role.VIEWER)
        conversation = await chat.conversation()
        await chat.send(conversation, "why does the api container keep restarting?")
        finished = await chat.wait_for(conversation, "run_finished")
        assert finished["payload"]["outcome"] == "succeeded"
        answer = await chat.answer(conversation)
        assert answer.startswith(f"**{stack}/api on `docker-local`**")
        assert "DATABASE_URL" in answer and "restart" in answer.lower()
        assert NO_MODEL_NOTE in answer
        tools = [
            e["payload"]["tool"]
            for e in await chat.events(conversation)
            if e["type"] == "tool_started"
        ]
        assert tools == ["target_inventory", "stack_status", "diagnose_service"]
    finally:
        _cleanup(docker_engine, stack)


async def test_reviews_a_compose_file_and_explains_itself_without_a_model(
    api: ApiHarness,
) -> None:
    org = await _org(api, "unix:///nonexistent/docker.sock")
    chat = Chat(api, org, Role.VIEWER)
    conversation = await chat.conversation()
    compose = (
        "services:\n  db:\n    image: postgres:latest\n    environment:\n"
        "      POSTGRES_PASSWORD: hunter2hunter2\n    ports: ['5432:5432']\n"
    )
    await chat.send(
        conversation, f"make this compose file production-ready:\n```yaml\n{compose}```"
    )
    await chat.wait_for(conversation, "run_finished")
    answer = await chat.answer(conversation)
    assert "score" in answer and "latest" in answer and NO_MODEL_NOTE in answer
    assert "hunter2hunter2" not in answer
    events = await chat.events(conversation)
    assert "hunter2hunter2" not in str(events), "secrets are redacted from events"

    await chat.send(conversation, "hello")
    await chat.wait_for(conversation, "run_finished")
    answer = await chat.answer(conversation)
    assert "`docker-local` (docker, dev)" in answer and NO_MODEL_NOTE in answer


@pytest.mark.kubernetes
@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
async def test_diagnoses_a_crash_looping_pod_without_a_model(
    api: ApiHarness, kube_api: KubeApiServer
) -> None:
    org = await api.seed_org(f"acme{uuid.uuid4().hex[:6]}")
    namespace = f"wf-{uuid.uuid4().hex[:10]}"
    with contextlib.closing(kube_api.api_client()) as client:
        k8s.CoreV1Api(client).create_namespace(
            k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace))
        )
        try:
            created = await api.client.post(
                "/targets",
                headers=org.headers(Role.ADMIN),
                json={
                    "name": "kube-local",
                    "kind": "kubernetes",
                    "connection": {
                        "api_url": kube_api.url,
                        "namespace": namespace,
                        "verify_tls": False,
                    },
                    "secrets": {"token": kube_api.token},
                },
            )
            assert created.status_code == 201, created.text
            adapter = KubernetesAdapter(spec_for(kube_api, namespace))
            try:
                await adapter.apply("shop", manifests(replicas=1))
                pods: list[Any] = []
                for _ in range(100):
                    pods = await asyncio.to_thread(pods_of, client, namespace, "shop")
                    if pods:
                        break
                    await asyncio.sleep(0.2)
                set_pod_status(client, namespace, pods[0].metadata.name, "crashloop")
            finally:
                adapter.close()
            chat = Chat(api, org, Role.VIEWER)
            conversation = await chat.conversation()
            await chat.send(
                conversation, "why does the web deployment keep crashing on kube-local?"
            )
            finished = await chat.wait_for(conversation, "run_finished")
            assert finished["payload"]["outcome"] == "succeeded"
            answer = await chat.answer(conversation)
            assert answer.startswith("**shop on `kube-local`**: 1 of 1 workloads fail.")
            assert "CrashLoopBackOff" in answer and "last exit code 3" in answer
            assert "previous=true" in answer and NO_MODEL_NOTE in answer
            tools = [
                e["payload"]["tool"]
                for e in await chat.events(conversation)
                if e["type"] == "tool_started"
            ]
            assert tools == ["k8s_list_workloads", "k8s_stack_status", "k8s_events"]
        finally:
            k8s.CoreV1Api(client).delete_namespace(namespace)


@pytest.mark.docker
async def test_deploys_a_catalog_template_after_approval_without_a_model(
    api: ApiHarness, docker_engine: DockerEngine
) -> None:
    org = await _org(api, docker_engine.host)
    chat = Chat(api, org)
    conversation = await chat.conversation()
    await chat.send(conversation, "deploy redis as cache on docker-local")
    required = await chat.wait_for(conversation, "approval_required")
    payload = required["payload"]
    assert payload["tool"] == "deploy_template"
    assert payload["arguments"] == {"template": "redis", "stack": "cache"}
    assert payload["plan"]["summary"].startswith("template redis: deploy stack cache")
    assert "REDIS_PASSWORD=***" in " ".join(payload["plan"]["warnings"])
    # Images cannot be pulled here; the denial path shows the run ends cleanly.
    await chat.decide(payload["approval_id"], approve=False, reason="not on this host")
    await chat.wait_for(conversation, "run_finished")
    answer = await chat.answer(conversation)
    assert answer.startswith("Stack `cache` was not deployed to `docker-local`.")
    assert "not on this host" in answer and NO_MODEL_NOTE in answer
    tools = [
        e["payload"]["tool"] for e in await chat.events(conversation) if e["type"] == "tool_started"
    ]
    assert tools == ["saved_stacks", "search_templates", "deploy_template"]
