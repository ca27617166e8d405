"""The whole approval path over HTTP against a real Docker engine.

An operator proposes a deploy; nothing runs until an admin approves; the approved call
runs once; a redeploy recreates only what changed; a rollback returns to the previous
revision; a removal is destructive and approved like the rest. Everything is audited.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any

from guardrails.rbac import Role
from tests.adapters.test_docker_host import compose, free_port, ids
from tests.api.harness import ApiHarness, SeededOrg
from tests.infra.docker_engine import BUSYBOX_IMAGE, DockerEngine


async def _call(api: ApiHarness, org: SeededOrg, role: Role, tool: str, **arguments: Any) -> Any:
    response = await api.client.post(
        f"/tools/{tool}/call",
        headers=org.headers(role),
        json={"target": "docker-local", "arguments": arguments},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _approve_and_execute(api: ApiHarness, org: SeededOrg, approval_id: str) -> Any:
    approved = await api.client.post(
        f"/approvals/{approval_id}/approve", headers=org.headers(Role.ADMIN), json={}
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text
    executed = await api.client.post(
        f"/approvals/{approval_id}/execute", headers=org.headers(Role.OPERATOR)
    )
    assert executed.status_code == 200, executed.text
    return executed.json()


async def test_deploy_approve_redeploy_rollback_remove(
    api: ApiHarness, docker_engine: DockerEngine
) -> None:
    org = await api.seed_org("acme")
    stack = f"blog{uuid.uuid4().hex[:8]}"
    created = await api.client.post(
        "/targets",
        headers=org.headers(Role.ADMIN),
        json={"name": "docker-local", "kind": "docker", "connection": {"host": docker_engine.host}},
    )
    assert created.status_code == 201, created.text
    check = await api.client.post(
        f"/targets/{created.json()['id']}/check", headers=org.headers(Role.VIEWER)
    )
    assert check.json()["reachable"] is True
    port = free_port()
    try:
        proposed = await _call(
            api, org, Role.OPERATOR, "deploy_stack", stack=stack, compose=compose(port)
        )
        assert proposed["status"] == "approval_required"
        actions = {(c["action"], c["resource"]) for c in proposed["plan"]["changes"]}
        assert {("create", "db"), ("create", "api"), ("create", "web")} <= actions
        assert "+services:" in proposed["plan"]["diff"]
        assert ids(docker_engine, stack) == {}, "nothing runs before the approval"
        queue = (await api.client.get("/approvals", headers=org.headers(Role.ADMIN))).json()
        assert queue["total"] == 1
        pending = queue["items"][0]
        assert pending["id"] == proposed["approval_id"] and pending["tool"] == "deploy_stack"
        assert pending["target_environment"] == "dev" and pending["status"] == "pending"
        assert pending["plan"]["summary"].startswith(f"deploy stack {stack}")

        viewer = await api.client.post(
            f"/approvals/{proposed['approval_id']}/approve",
            headers=org.headers(Role.VIEWER),
            json={},
        )
        assert viewer.status_code == 403
        ran = await _approve_and_execute(api, org, proposed["approval_id"])
        assert ran["status"] == "ok", ran
        assert sorted(ran["data"]["created"]) == ["api", "db", "web"]
        first = ids(docker_engine, stack)
        assert set(first) == {"db", "api", "web"}

        replay = await api.client.post(
            f"/approvals/{proposed['approval_id']}/execute", headers=org.headers(Role.OPERATOR)
        )
        assert replay.json()["status"] == "denied"

        status = await _call(api, org, Role.VIEWER, "stack_status", stack=stack)
        assert status["status"] == "ok"
        assert {s["name"]: s["state"] for s in status["data"]["services"]} == {
            "api": "running",
            "db": "running",
            "web": "running",
        }

        change = await _call(
            api,
            org,
            Role.OPERATOR,
            "deploy_stack",
            stack=stack,
            compose=compose(port, web_greeting="v2"),
        )
        assert "echo v2" in change["plan"]["diff"] and "echo v1" in change["plan"]["diff"]
        assert (await _approve_and_execute(api, org, change["approval_id"]))["data"][
            "recreated"
        ] == ["web"]
        second = ids(docker_engine, stack)
        assert second["db"] == first["db"] and second["web"] != first["web"]

        rollback = await _call(api, org, Role.OPERATOR, "rollback_stack", stack=stack)
        assert rollback["status"] == "approval_required", rollback
        assert "revision 2 to revision 1" in rollback["plan"]["summary"]
        rolled = await _approve_and_execute(api, org, rollback["approval_id"])
        assert rolled["status"] == "ok" and rolled["data"]["to_revision"] == 1
        with contextlib.closing(docker_engine.client()) as client:
            web = client.containers.get(ids(docker_engine, stack)["web"])
            assert "echo v1" in " ".join(web.attrs["Config"]["Cmd"])

        history = await api.client.get("/deployments", headers=org.headers(Role.VIEWER))
        revisions = [(d["revision"], d["status"]) for d in history.json()["items"]]
        assert revisions == [(3, "succeeded"), (2, "succeeded"), (1, "succeeded")]

        removal = await _call(api, org, Role.OPERATOR, "remove_stack", stack=stack)
        assert removal["status"] == "approval_required"
        assert (await _approve_and_execute(api, org, removal["approval_id"]))["status"] == "ok"
        assert ids(docker_engine, stack) == {}
    finally:
        with contextlib.closing(docker_engine.client()) as client:
            for container in client.containers.list(
                all=True, filters={"label": f"com.docker.compose.project={stack}"}
            ):
                container.remove(force=True)

    audit = await api.client.get("/audit?limit=200", headers=org.headers(Role.ADMIN))
    tool_rows = [
        (e["tool"], e["outcome"]) for e in audit.json()["items"] if not e["tool"].startswith("api:")
    ]
    assert ("deploy_stack", "approval_required") in tool_rows
    assert tool_rows.count(("deploy_stack", "ok")) == 2
    assert ("deploy_stack", "denied") in tool_rows
    assert ("rollback_stack", "ok") in tool_rows and ("remove_stack", "ok") in tool_rows


async def test_operator_cannot_change_prod_and_broken_compose_is_an_error(
    api: ApiHarness, docker_engine: DockerEngine
) -> None:
    org = await api.seed_org("acme")
    await api.client.post(
        "/targets",
        headers=org.headers(Role.ADMIN),
        json={
            "name": "docker-local",
            "kind": "docker",
            "environment": "prod",
            "connection": {"host": docker_engine.host},
        },
    )
    denied = await _call(
        api, org, Role.OPERATOR, "deploy_stack", stack="x", compose=compose(free_port())
    )
    assert denied["status"] == "denied" and "prod" in denied["error"]
    broken = await _call(api, org, Role.ADMIN, "deploy_stack", stack="x", compose="services: [")
    assert broken["status"] == "error" and "malformed YAML" in broken["error"]
    unknown = await api.client.post(
        "/tools/deploy_stack/call",
        headers=org.headers(Role.ADMIN),
        json={"target": "nope", "arguments": {}},
    )
    assert unknown.status_code == 404 and "docker-local" in unknown.json()["hint"]
    wrong_type = await _call(
        api, org, Role.ADMIN, "scale_service", stack="x", service="web", replicas="lots"
    )
    assert wrong_type["status"] == "error" and "replicas" in wrong_type["error"]


async def test_interpolated_secrets_stay_out_of_plans_and_history_but_rollback_keeps_them(
    api: ApiHarness, docker_engine: DockerEngine
) -> None:
    org = await api.seed_org("sealed")
    stack = f"vault{uuid.uuid4().hex[:8]}"
    created = await api.client.post(
        "/targets",
        headers=org.headers(Role.ADMIN),
        json={"name": "docker-local", "kind": "docker", "connection": {"host": docker_engine.host}},
    )
    assert created.status_code == 201
    secret = "Zq8xV2mN4pL7wR1t"

    def compose(tag: str) -> str:
        return (
            f"services:\n  app:\n    image: {BUSYBOX_IMAGE}\n"
            f'    command: ["sh", "-c", "echo {tag}; exec sleep 3600"]\n'
            "    init: true\n    stop_grace_period: 1s\n"
            "    environment:\n      APP_SECRET: ${APP_SECRET}\n"
        )

    try:
        for tag in ("v1", "v2"):
            proposed = await _call(
                api,
                org,
                Role.OPERATOR,
                "deploy_stack",
                stack=stack,
                compose=compose(tag),
                env={"APP_SECRET": secret},
            )
            assert proposed["status"] == "approval_required", proposed
            assert secret not in json.dumps(proposed), "the plan shows ${APP_SECRET}, not its value"
            assert "${APP_SECRET}" in proposed["plan"]["diff"]
            ran = await _approve_and_execute(api, org, proposed["approval_id"])
            assert ran["status"] == "ok", ran
        history = await api.client.get("/deployments", headers=org.headers(Role.VIEWER))
        assert secret not in history.text and "${APP_SECRET}" in history.text
        rollback = await _call(api, org, Role.OPERATOR, "rollback_stack", stack=stack)
        assert secret not in json.dumps(rollback)
        rolled = await _approve_and_execute(api, org, rollback["approval_id"])
        assert rolled["status"] == "ok", rolled
        with contextlib.closing(docker_engine.client()) as client:
            app = client.containers.get(ids(docker_engine, stack)["app"])
            assert f"APP_SECRET={secret}" in app.attrs["Config"]["Env"], "rollback kept the value"
            assert "echo v1" in " ".join(app.attrs["Config"]["Cmd"])
    finally:
        with contextlib.closing(docker_engine.client()) as client:
            for container in client.containers.list(
                all=True, filters={"label": f"com.docker.compose.project={stack}"}
            ):
                container.remove(force=True)
