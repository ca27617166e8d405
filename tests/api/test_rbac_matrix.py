"""Every endpoint x every role x own/other organization: allowed, 403, or 404.

Each request gets fresh objects, so destructive endpoints are exercised for every role.
Another organization's data must be invisible (404) and untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute

from guardrails.rbac import Role
from tests.api.harness import ApiHarness, SeededOrg
from tests.api.world import COMPOSE, Objects, fresh_objects, unique


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    min_role: Role
    ok: int
    body: Callable[[Objects], dict[str, Any]] | None = None
    object_in_body: bool = False

    @property
    def has_object(self) -> bool:
        return "{" in self.path or self.object_in_body

    def url(self, objects: Objects) -> str:
        return self.path.format(
            target=objects.target,
            stack=objects.stack,
            deployment=objects.deployment,
            member=objects.member,
            approval=objects.approval,
        )

    def json(self, objects: Objects) -> dict[str, Any] | None:
        return self.body(objects) if self.body else None


def _target_body(_: Objects) -> dict[str, Any]:
    return {"name": unique("t"), "kind": "docker", "connection": {"host": "unix:///x.sock"}}


CASES = [
    Case("GET", "/orgs/current", Role.VIEWER, 200),
    Case("PATCH", "/orgs/current", Role.OWNER, 200, lambda _: {"name": "Renamed"}),
    Case("GET", "/users", Role.VIEWER, 200),
    Case("POST", "/users", Role.ADMIN, 201, lambda _: {"email": f"{unique('u')}@example.com"}),
    Case("PATCH", "/users/{member}", Role.ADMIN, 200, lambda _: {"role": "operator"}),
    Case("DELETE", "/users/{member}", Role.ADMIN, 204),
    Case("GET", "/targets", Role.VIEWER, 200),
    Case("POST", "/targets", Role.ADMIN, 201, _target_body),
    Case("GET", "/targets/{target}", Role.VIEWER, 200),
    Case("PATCH", "/targets/{target}", Role.ADMIN, 200, lambda _: {"description": "changed"}),
    Case("DELETE", "/targets/{target}", Role.ADMIN, 204),
    Case("POST", "/targets/{target}/check", Role.VIEWER, 200),
    Case("GET", "/stacks", Role.VIEWER, 200),
    Case(
        "POST",
        "/stacks",
        Role.OPERATOR,
        201,
        lambda _: {"name": unique("s"), "compose_source": COMPOSE},
    ),
    Case("GET", "/stacks/{stack}", Role.VIEWER, 200),
    Case("PATCH", "/stacks/{stack}", Role.OPERATOR, 200, lambda _: {"description": "changed"}),
    Case("DELETE", "/stacks/{stack}", Role.OPERATOR, 204),
    Case("GET", "/deployments", Role.VIEWER, 200),
    Case("GET", "/deployments/{deployment}", Role.VIEWER, 200),
    Case("GET", "/audit", Role.ADMIN, 200),
    Case("GET", "/auth/tokens", Role.VIEWER, 200),
    Case("POST", "/auth/tokens", Role.VIEWER, 201, lambda _: {"name": "bot"}),
    Case("GET", "/tools", Role.VIEWER, 200),
    Case(
        "POST",
        "/tools/stack_status/call",
        Role.VIEWER,
        200,
        lambda o: {"target": o.target, "arguments": {"stack": "blog"}},
        object_in_body=True,
    ),
    Case("GET", "/approvals", Role.VIEWER, 200),
    Case("GET", "/approvals/{approval}", Role.VIEWER, 200),
    Case("POST", "/approvals/{approval}/approve", Role.OPERATOR, 200, lambda _: {}),
    Case("POST", "/approvals/{approval}/deny", Role.OPERATOR, 200, lambda _: {"reason": "no"}),
    Case("POST", "/approvals/{approval}/execute", Role.VIEWER, 200),
]


async def _snapshot(api: ApiHarness, org: SeededOrg, objects: Objects) -> dict[str, Any]:
    """What another organization's caller must never be able to change."""
    headers = org.headers(Role.OWNER)
    parts = {
        "org": (await api.client.get("/orgs/current", headers=headers)).json(),
        "target": (await api.client.get(f"/targets/{objects.target}", headers=headers)).json(),
        "stack": (await api.client.get(f"/stacks/{objects.stack}", headers=headers)).json(),
        "members": (await api.client.get("/users?limit=1000", headers=headers)).json()["total"],
        "targets": (await api.client.get("/targets", headers=headers)).json()["total"],
    }
    return parts


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path}")
async def test_endpoint_role_matrix(api: ApiHarness, case: Case) -> None:
    own = await api.seed_org("own")
    other = await api.seed_org("other")
    mismatches: list[str] = []

    for role in Role:
        # 1. Own organization: allowed from min_role up, 403 below it.
        objects = await fresh_objects(api, own.id)
        response = await api.client.request(
            case.method,
            case.url(objects),
            headers=own.headers(role),
            json=case.json(objects),
        )
        expected = case.ok if role.at_least(case.min_role) else 403
        if response.status_code != expected:
            mismatches.append(
                f"own/{role.value}: {response.status_code} != {expected} {response.text[:200]}"
            )

        # 2. Naming another organization in the header: it does not exist for this caller.
        foreign = await fresh_objects(api, other.id)
        before = await _snapshot(api, other, foreign)
        response = await api.client.request(
            case.method,
            case.url(foreign),
            headers=own.headers(role, org=other.id),
            json=case.json(foreign),
        )
        if response.status_code != 404:
            mismatches.append(f"other-org header/{role.value}: {response.status_code} != 404")

        # 3. Own organization in the header, another organization's object id in the path.
        if case.has_object:
            response = await api.client.request(
                case.method,
                case.url(foreign),
                headers=own.headers(role),
                json=case.json(foreign),
            )
            expected = 404 if role.at_least(case.min_role) else 403
            if response.status_code != expected:
                mismatches.append(
                    f"other-org id/{role.value}: {response.status_code} != {expected}"
                )
        if await _snapshot(api, other, foreign) != before:
            mismatches.append(f"{role.value}: the other organization's data changed")

    assert not mismatches, "\n".join(mismatches)


async def test_every_route_is_in_the_matrix(api: ApiHarness) -> None:
    """A new endpoint must be added to the matrix (or to the public/self-service list)."""
    public_or_self = {
        ("GET", "/health"),
        ("GET", "/ready"),
        ("POST", "/auth/login"),
        ("POST", "/auth/refresh"),
        ("POST", "/auth/logout"),
        ("GET", "/auth/me"),
        ("GET", "/orgs"),
        ("POST", "/orgs"),
        ("DELETE", "/auth/tokens/{token_id}"),
    }
    placeholders = {
        "{member}": "{user_id}",
        "{target}": "{target_id}",
        "{stack}": "{stack_id}",
        "{deployment}": "{deployment_id}",
        "{approval}": "{approval_id}",
        "/stack_status/": "/{name}/",
    }
    covered = set()
    for case in CASES:
        path = case.path
        for ours, fastapis in placeholders.items():
            path = path.replace(ours, fastapis)
        covered.add((case.method, path))
    routes = {
        (method, route.path)
        for route in api.app.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    assert routes - covered - public_or_self == set()
