"""The template marketplace over the API, and deploying a template through the approvals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from guardrails.rbac import Role
from tests.api.harness import ApiHarness, SeededOrg
from tests.api.world import add_docker_target
from tests.infra.docker_engine import DockerEngine
from tools.template_tools import DeployTemplateInput, render_for


async def _org_with_target(api: ApiHarness, host: str) -> SeededOrg:
    org = await api.seed_org("market")
    await add_docker_target(api.state.db, org.id, host)
    return org


async def test_browse_search_and_show(api: ApiHarness) -> None:
    org = await api.seed_org("market")
    headers = org.headers(Role.VIEWER)
    everything = (await api.client.get("/templates", headers=headers)).json()
    assert everything["total"] >= 25 and everything["categories"]["database"] >= 3
    found = (await api.client.get("/templates?q=postgres", headers=headers)).json()
    assert found["items"][0]["id"] == "postgres"
    caches = (await api.client.get("/templates?category=cache", headers=headers)).json()
    assert {t["id"] for t in caches["items"]} >= {"redis", "valkey"}
    assert all(t["category"] == "cache" for t in caches["items"])
    redis = (await api.client.get("/templates/redis", headers=headers)).json()
    password = next(p for p in redis["parameters"] if p["name"] == "REDIS_PASSWORD")
    assert password["secret"] and password["default"] is None
    assert "${REDIS_PASSWORD}" in redis["compose"]
    missing = await api.client.get("/templates/redsi", headers=headers)
    assert missing.status_code == 404 and "redis" in missing.json()["hint"]


@pytest.mark.docker
async def test_template_deploy_is_planned_with_stable_secrets_and_clear_errors(
    api: ApiHarness, docker_engine: DockerEngine
) -> None:
    org = await _org_with_target(api, docker_engine.host)
    operator = org.headers(Role.OPERATOR)
    body: dict[str, Any] = {
        "target": "docker-local",
        "stack": "cache",
        "parameters": {"MAXMEMORY": "128mb"},
    }
    first = (await api.client.post("/templates/redis/deploy", headers=operator, json=body)).json()
    assert first["status"] == "approval_required", first
    assert first["plan"]["summary"].startswith("template redis: deploy stack cache")
    assert ("create", "redis") in {(c["action"], c["resource"]) for c in first["plan"]["changes"]}
    second = (await api.client.post("/templates/redis/deploy", headers=operator, json=body)).json()
    approvals = await api.client.get("/approvals", headers=org.headers(Role.ADMIN))
    stored = {a["id"]: a for a in approvals.json()["items"]}
    assert stored[first["approval_id"]]["arguments"] == stored[second["approval_id"]]["arguments"]

    store = api.state.tooling.store
    one = await store.get(org.id, first["approval_id"])
    two = await store.get(org.id, second["approval_id"])
    assert one is not None and two is not None
    assert one.args_hash == two.args_hash, "the same request plans the same change"
    assert "REDIS_PASSWORD" not in json.dumps(one.arguments), "secrets are derived at run time"

    async with api.state.db.session() as session:
        spec = await api.state.tooling.resolve_target(session, org.id, "docker-local")
    ctx = api.state.tooling.context(user_id="u", org_id=org.id, target=spec)
    args = DeployTemplateInput(template="redis", stack="cache")
    again = render_for(ctx, args)
    assert again.env == render_for(ctx, args).env, "derived, not random"
    other = render_for(ctx, DeployTemplateInput(template="redis", stack="queue"))
    assert other.env["REDIS_PASSWORD"] != again.env["REDIS_PASSWORD"]
    assert again.env["REDIS_PASSWORD"] not in again.compose

    bad = await api.client.post(
        "/templates/redis/deploy",
        headers=operator,
        json={**body, "parameters": {"MAXMEMORY": "lots", "COLOUR": "red"}},
    )
    result = bad.json()
    assert result["status"] == "error" and "COLOUR" in result["error"]
    assert "REDIS_PASSWORD" in result["hint"] or "MAXMEMORY" in result["hint"]
    viewer = await api.client.post(
        "/templates/redis/deploy", headers=org.headers(Role.VIEWER), json=body
    )
    assert viewer.json()["status"] == "denied"
