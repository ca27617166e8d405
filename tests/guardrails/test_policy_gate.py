"""Policies in force: stored per organization through the API, applied by the gate.

A violation is refused before any approval exists, with every violation explained; the
approval rules of the document replace the settings' defaults for the targets they match.
Real app, real SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from api.db.models import Target
from api.db.repo import resources
from guardrails.rbac import Principal, Role
from tests.api.harness import ApiHarness, SeededOrg
from tools.base import Plan, ToolContext, ToolInput, tool
from tools.targets import TargetKind, TargetSpec

RAN: list[str] = []


class ComposeArgs(ToolInput):
    stack: str
    compose: str


class Done(BaseModel):
    stack: str


@tool(risk="mutate", permission="deployments:execute", targets={TargetKind.DOCKER})
async def ship_compose(ctx: ToolContext, args: ComposeArgs) -> Done:
    """Deploy a compose file (test tool whose side effect is a list entry)."""
    RAN.append(args.stack)
    return Done(stack=args.stack)


@ship_compose.planner
async def _plan(ctx: ToolContext, args: ComposeArgs) -> Plan:
    return Plan(summary=f"deploy {args.stack}")


PRIVILEGED = "services:\n  web:\n    image: nginx:1.27\n    privileged: true\n"
CLEAN = "services:\n  web:\n    image: registry.example.com/web:1\n"

POLICY = """\
version: 1
rules:
  # prod needs images from our registry and no privileges
  - name: prod-workloads
    match: {environments: [prod]}
    workloads:
      allowed_images: ["registry.example.com/*"]
      forbid_privileged: true
  - name: prod-approvals
    match: {environments: [prod]}
    approvals:
      forbid_self_approval: true
      mutate: {min_role: owner, approvers: 2}
"""


def _today_closed() -> str:
    """A window open on every day but today (UTC), so the test never depends on the clock."""
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    today = days[datetime.now(UTC).weekday()]
    return ", ".join(d for d in days if d != today)


class World:
    def __init__(self, api: ApiHarness, org: SeededOrg) -> None:
        self.api, self.org = api, org
        self.tooling = api.state.tooling

    async def target(self, name: str, environment: str) -> TargetSpec:
        async with self.api.state.db.transaction() as session:
            target = Target(org_id=self.org.id, name=name, kind="docker", environment=environment)
            row = await resources.add_target(session, target)
            return self.tooling.spec(row)

    async def put_policy(self, text: str, role: Role = Role.ADMIN) -> Any:
        return await self.api.client.put(
            "/policies", headers=self.org.headers(role), json={"document": text}
        )

    def principal(self, role: Role) -> Principal:
        return Principal(user_id=self.org.users[role], roles={self.org.id: role})

    async def call(
        self, role: Role, target: TargetSpec, compose: str, *, emergency: bool = False
    ) -> Any:
        ctx = self.tooling.context(
            user_id=self.org.users[role], org_id=self.org.id, target=target, adapter=object()
        )
        return await self.tooling.gate.call(
            ship_compose,
            ctx,
            self.principal(role),
            {"stack": "blog", "compose": compose},
            emergency=emergency,
        )


@pytest.fixture
async def world(api: ApiHarness) -> World:
    RAN.clear()
    return World(api, await api.seed_org("acme"))


async def test_policies_are_managed_by_admins_with_line_numbers_for_mistakes(world: World) -> None:
    empty = await world.api.client.get("/policies", headers=world.org.headers(Role.ADMIN))
    assert empty.status_code == 200 and empty.json()["source"] == "settings"
    assert (await world.put_policy(POLICY, Role.OPERATOR)).status_code == 403
    viewer = await world.api.client.get("/policies", headers=world.org.headers(Role.VIEWER))
    assert viewer.status_code == 403

    bad = await world.put_policy(POLICY.replace("forbid_privileged", "forbid_privilege"))
    assert bad.status_code == 422, bad.text
    assert "line 8" in bad.json()["detail"] and bad.json()["errors"][0]["line"] == 8
    broken = await world.put_policy("rules:\n  - name: [unclosed\n")
    assert broken.status_code == 422 and "line 3" in broken.json()["detail"]

    stored = await world.put_policy(POLICY)
    assert stored.status_code == 200, stored.text
    again = await world.put_policy(POLICY)
    assert again.json()["version"] == 2
    shown = await world.api.client.get("/policies", headers=world.org.headers(Role.ADMIN))
    assert shown.json()["document"] == POLICY, "comments and layout are kept"
    assert [r["name"] for r in shown.json()["parsed"]["rules"]] == [
        "prod-workloads",
        "prod-approvals",
    ]
    audit = await world.api.client.get(
        "/audit?tool=api:policies.put", headers=world.org.headers(Role.ADMIN)
    )
    assert audit.json()["total"] == 2


async def test_a_violating_change_is_refused_before_any_approval(world: World) -> None:
    prod, dev = await world.target("prod-1", "prod"), await world.target("dev-1", "dev")
    assert (await world.put_policy(POLICY)).status_code == 200

    refused = await world.call(Role.ADMIN, prod, PRIVILEGED)
    assert refused.status == "denied", refused
    found = {v["found"] for v in refused.data["violations"]}
    assert found == {"service web uses image nginx:1.27", "service web runs privileged"}
    assert all(v["rule"] == "prod-workloads" and v["comply"] for v in refused.data["violations"])
    assert "2 violations" in refused.error
    assert await world.api.count("approvals") == 0, "no approval is even requested"

    on_dev = await world.call(Role.OPERATOR, dev, PRIVILEGED)
    assert on_dev.status == "approval_required", "the rules match prod only"
    clean = await world.call(Role.ADMIN, prod, CLEAN)
    assert clean.status == "approval_required", clean
    audit = await world.api.client.get(
        "/audit?tool=ship_compose&outcome=denied", headers=world.org.headers(Role.ADMIN)
    )
    assert audit.json()["total"] == 1


async def test_the_documents_approval_rules_replace_the_defaults(world: World) -> None:
    prod = await world.target("prod-1", "prod")
    await world.put_policy(POLICY)
    pending = await world.call(Role.OWNER, prod, CLEAN)
    approvals = world.tooling.approvals
    view = await approvals.store.get(world.org.id, pending.approval_id)
    assert view is not None and view.required_approvals == 2

    admin = await world.api.client.post(
        f"/approvals/{pending.approval_id}/approve", headers=world.org.headers(Role.ADMIN), json={}
    )
    assert admin.status_code == 403 and "needs role owner" in admin.json()["detail"]
    own = await world.api.client.post(
        f"/approvals/{pending.approval_id}/approve", headers=world.org.headers(Role.OWNER), json={}
    )
    assert own.status_code == 403 and "own change" in own.json()["detail"]


async def test_a_closed_change_window_needs_an_admins_emergency(world: World) -> None:
    dev = await world.target("dev-1", "dev")
    window = f"rules:\n  - name: weekdays\n    change_window:\n      days: [{_today_closed()}]\n"
    assert (await world.put_policy(window)).status_code == 200
    closed = await world.call(Role.OPERATOR, dev, CLEAN)
    assert closed.status == "denied" and "outside the change window" in closed.error
    not_allowed = await world.call(Role.OPERATOR, dev, CLEAN, emergency=True)
    assert not_allowed.status == "denied" and "needs role admin" in not_allowed.error

    emergency = await world.call(Role.ADMIN, dev, CLEAN, emergency=True)
    assert emergency.status == "approval_required", emergency
    assert any("EMERGENCY" in w for w in emergency.plan.warnings)
    await world.tooling.approvals.decide(
        world.principal(Role.OWNER), world.org.id, emergency.approval_id, approve=True
    )
    ctx = world.tooling.context(
        user_id=world.org.users[Role.ADMIN], org_id=world.org.id, target=dev, adapter=object()
    )
    late = await world.tooling.gate.execute_approved(
        ship_compose, ctx, world.principal(Role.ADMIN), emergency.approval_id
    )
    assert late.status == "denied" and RAN == [], "the window is checked again at execution"
    done = await world.tooling.gate.execute_approved(
        ship_compose, ctx, world.principal(Role.ADMIN), emergency.approval_id, emergency=True
    )
    assert done.status == "ok" and RAN == ["blog"]
    audit = await world.api.client.get(
        "/audit?tool=ship_compose&outcome=ok", headers=world.org.headers(Role.ADMIN)
    )
    assert audit.json()["items"][0]["arguments"]["emergency_override"] == ["weekdays"]


async def test_the_http_tool_call_reports_violations_for_a_real_deploy_tool(
    world: World,
) -> None:
    await world.target("prod-1", "prod")
    await world.put_policy(POLICY)
    answer = await world.api.client.post(
        "/tools/deploy_stack/call",
        headers=world.org.headers(Role.ADMIN),
        json={"target": "prod-1", "arguments": {"stack": "blog", "compose": PRIVILEGED}},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "denied" and len(body["data"]["violations"]) == 2


async def test_a_rollback_is_judged_on_the_revision_it_would_bring_back(world: World) -> None:
    prod = await world.target("prod-1", "prod")
    history = world.tooling.deployments
    for compose in (PRIVILEGED, CLEAN):  # revision 1 privileged, revision 2 (current) clean
        record = await history.begin(
            org_id=world.org.id,
            target_id=prod.id,
            stack_name="blog",
            rendered_config=compose,
            approval_id=None,
            user_id=world.org.users[Role.ADMIN],
        )
        await history.finish(record.id, "succeeded")
    await world.put_policy(POLICY)
    ctx = world.tooling.context(
        user_id=world.org.users[Role.ADMIN], org_id=world.org.id, target=prod, adapter=object()
    )
    refused = await world.tooling.gate.call(
        world.tooling.registry.get("rollback_stack"),
        ctx,
        world.principal(Role.ADMIN),
        {"stack": "blog"},
    )
    assert refused.status == "denied", refused
    assert "service web runs privileged" in {v["found"] for v in refused.data["violations"]}
