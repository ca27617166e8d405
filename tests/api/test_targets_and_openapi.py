"""Target secrets are encrypted at rest and never returned; the OpenAPI document is complete."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from guardrails.rbac import Role
from tests.api.harness import ApiHarness
from windflow.errors import ConfigurationError
from windflow.settings import Settings

CANARY = "canary-token-7f3a9c"


async def test_target_secrets_are_encrypted_and_never_returned(api: ApiHarness) -> None:
    org = await api.seed_org("acme")
    headers = org.headers(Role.ADMIN)
    created = await api.client.post(
        "/targets",
        headers=headers,
        json={
            "name": "cluster",
            "kind": "kubernetes",
            "environment": "prod",
            "connection": {"api_url": "https://127.0.0.1:6443", "namespace": "blog"},
            "secrets": {"token": CANARY},
        },
    )
    assert created.status_code == 201, created.text
    target_id = created.json()["id"]
    assert created.json()["has_secrets"] is True
    for path in ("/targets", f"/targets/{target_id}", "/audit?limit=100"):
        response = await api.client.get(path, headers=org.headers(Role.OWNER))
        assert CANARY not in response.text, path
    async with api.state.db.session() as session:
        stored = await session.scalar(
            text("SELECT secrets_encrypted FROM targets WHERE id = :id"), {"id": target_id}
        )
        dump = " ".join(
            str(row) for row in (await session.execute(text("SELECT * FROM targets"))).all()
        )
    assert stored and CANARY not in stored and CANARY not in dump
    assert api.state.secrets_box.open(stored) == {"token": CANARY}

    # Wrong secret fields for the kind are rejected, not stored.
    wrong = await api.client.patch(
        f"/targets/{target_id}", headers=headers, json={"secrets": {"password": "x"}}
    )
    assert wrong.status_code == 422 and "allowed fields" in wrong.json()["hint"]


async def test_openapi_documents_every_route_with_errors(api: ApiHarness) -> None:
    document = (await api.client.get("/openapi.json")).json()
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) >= 30
    for path, method, operation in operations:
        assert operation.get("summary"), f"{method} {path} has no summary"
        assert {"200", "201", "202", "204"} & set(operation["responses"]), f"{method} {path}"


def test_settings_refuse_unsafe_production(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        Settings(_env_file=None, environment="production", data_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="32"):
        Settings(_env_file=None, environment="production", secret_key="short", data_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="WINDFLOW_ENVIRONMENT=test"):
        Settings(_env_file=None, environment="test", data_dir=tmp_path)
    assert Settings(_env_file=None, environment="development", data_dir=tmp_path)
    ok = Settings(_env_file=None, environment="production", secret_key="x" * 40, data_dir=tmp_path)
    assert ok.resolved_database_url.startswith("sqlite+aiosqlite:///")


async def test_security_headers_and_a_strict_policy_on_the_ui(api: ApiHarness) -> None:
    page = await api.client.get("/")
    assert page.status_code == 200 and "<main" in page.text
    script = await api.client.get("/ui/app.js")
    assert script.status_code == 200
    for response in (page, script):
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
    health = await api.client.get("/health")
    assert health.headers["x-frame-options"] == "DENY"
    assert "content-security-policy" not in health.headers  # JSON and /docs keep theirs
