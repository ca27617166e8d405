"""Bad input gets a clear 4xx problem document and writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from api.db.models import Target
from api.db.repo import resources
from api.db.types import utcnow
from guardrails.approvals import NewApproval
from guardrails.rbac import Role
from tests.api.harness import ApiHarness

TABLES = ("targets", "stacks", "organizations", "users", "memberships", "api_tokens")


async def _counts(api: ApiHarness) -> dict[str, int]:
    return {table: await api.count(table) for table in TABLES}


async def test_malformed_and_invalid_bodies_write_nothing(api: ApiHarness) -> None:
    org = await api.seed_org("acme")
    headers = org.headers(Role.OWNER)
    before = await _counts(api)
    json_headers = {**headers, "Content-Type": "application/json"}
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("POST", "/targets", {"content": b'{"name": "a", "kind": ', "headers": json_headers}, 422),
        ("POST", "/targets", {"json": {"name": "a", "kind": "docker", "colour": "red"}}, 422),
        ("POST", "/targets", {"json": {"name": "a", "kind": "mainframe"}}, 422),
        ("POST", "/targets", {"json": {"name": "Bad Name!", "kind": "docker"}}, 422),
        (
            "POST",
            "/targets",
            {"json": {"name": "a", "kind": "docker", "connection": {"host": "ftp://x"}}},
            422,
        ),
        (
            "POST",
            "/targets",
            {"json": {"name": "a", "kind": "kubernetes", "connection": {"nmespace": "x"}}},
            422,
        ),
        ("POST", "/stacks", {"json": {"name": "s", "compose_source": "services: [unclosed"}}, 422),
        (
            "POST",
            "/stacks",
            {
                "json": {
                    "name": "s",
                    "compose_source": "services:\n  web:\n    image: 5\n    ports: {a: b}\n",
                }
            },
            422,
        ),
        ("POST", "/stacks", {"json": {"name": "s"}}, 422),
        ("POST", "/users", {"json": {"email": "not-an-email"}}, 422),
        ("POST", "/users", {"json": {"email": "x@example.com", "password": "short"}}, 422),
        ("POST", "/orgs", {"json": {"slug": "UPPER", "name": "x"}}, 422),
        ("GET", "/targets?limit=0", {}, 422),
        ("GET", "/targets?offset=-1", {}, 422),
    ]
    for method, path, kwargs, status in cases:
        kwargs.setdefault("headers", headers)
        response = await api.client.request(method, path, **kwargs)
        assert response.status_code == status, f"{method} {path} {kwargs}: {response.text}"
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert problem["status"] == status and problem["detail"] and problem["title"]
    assert await _counts(api) == before


async def test_compose_errors_name_the_line(api: ApiHarness) -> None:
    org = await api.seed_org("acme")
    response = await api.client.post(
        "/stacks",
        headers=org.headers(Role.OWNER),
        json={"name": "s", "compose_source": "services:\n  web:\n    image: nginx\n    ports: [\n"},
    )
    assert response.status_code == 422
    assert "line" in response.json()["detail"] or ":" in response.json()["detail"]


async def test_oversized_body_is_413_and_writes_nothing(database_url: str, tmp_path: Path) -> None:
    async with ApiHarness.start(database_url, tmp_path, max_request_bytes=4096) as api:
        org = await api.seed_org("acme")
        before = await _counts(api)
        big = {"name": "big", "compose_source": "x" * 10_000}
        response = await api.client.post("/stacks", headers=org.headers(Role.OWNER), json=big)
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"

        async def chunks() -> AsyncIterator[
            bytes
        ]:  # no Content-Length: the limit is enforced while streaming
            for _ in range(10):
                yield b"x" * 1024

        streamed = await api.client.post(
            "/stacks",
            headers={**org.headers(Role.OWNER), "Content-Type": "application/json"},
            content=chunks(),
        )
        assert streamed.status_code == 413
        assert await _counts(api) == before


async def test_missing_token_and_unknown_org(api: ApiHarness) -> None:
    org = await api.seed_org("acme")
    assert (await api.client.get("/targets")).status_code == 401
    response = await api.client.get("/targets", headers=org.headers(Role.OWNER, org="no-such-org"))
    assert response.status_code == 404
    assert "not a member" in response.json()["detail"]


async def test_unknown_route_and_method_are_problems(api: ApiHarness) -> None:
    assert (await api.client.get("/nope")).json()["code"] == "not_found"
    assert (await api.client.put("/health")).json()["code"] == "method_not_allowed"


async def test_duplicate_names_conflict(api: ApiHarness) -> None:
    org = await api.seed_org("acme")
    body = {"name": "prod-1", "kind": "docker"}
    assert (
        await api.client.post("/targets", headers=org.headers(Role.ADMIN), json=body)
    ).status_code == 201
    again = await api.client.post("/targets", headers=org.headers(Role.ADMIN), json=body)
    assert again.status_code == 409
    assert again.json()["hint"]


async def test_approval_queue_never_shows_secret_values(api: ApiHarness) -> None:
    org = await api.seed_org("secrets")
    async with api.state.db.transaction() as session:
        target = await resources.add_target(
            session,
            Target(
                org_id=org.id,
                name="t1",
                kind="docker",
                environment="dev",
                connection={"host": "unix:///nonexistent/docker.sock"},
            ),
        )
    view = await api.state.tooling.store.create(
        NewApproval(
            org_id=org.id,
            target_id=target.id,
            tool="deploy_stack",
            risk="mutate",
            arguments={
                "stack": "db",
                "compose": "services:\n  db:\n    environment:\n"
                "      POSTGRES_PASSWORD: s3cr3t-value\n",
                "env": {"DB_PASSWORD": "s3cr3t-value"},
            },
            args_hash="0" * 64,
            plan={"summary": "deploy db", "diff": "+      POSTGRES_PASSWORD: s3cr3t-value\n"},
            required_approvals=1,
            requested_by=org.users[Role.OPERATOR],
            expires_at=utcnow() + timedelta(hours=1),
        )
    )
    for path in ("/approvals", f"/approvals/{view.id}"):
        response = await api.client.get(path, headers=org.headers(Role.ADMIN))
        assert response.status_code == 200
        assert "s3cr3t-value" not in response.text, path
        assert "deploy db" in response.text
