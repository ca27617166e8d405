"""The approval path: denied calls and every kind of approval misuse are refused and audited.

The tools here are real ``Tool`` objects whose side effect is appending to a list, so a
mutation that slipped through would be visible; storage is the real SQL store on SQLite
and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel, Field
from sqlalchemy import update

from api.db.models import Approval, Target
from api.db.repo import resources
from api.db.types import utcnow
from guardrails.rbac import Principal, Role
from tests.api.harness import ApiHarness, SeededOrg
from tools.base import Plan, ToolContext, ToolInput, tool
from tools.targets import TargetKind, TargetSpec
from windflow.errors import ApprovalError, PermissionDenied

EFFECTS: list[dict[str, Any]] = []


class ScaleArgs(ToolInput):
    service: str
    replicas: int = Field(ge=0, le=50)


class ScaleResult(BaseModel):
    service: str
    replicas: int


@tool(risk="mutate", permission="deployments:execute", targets={TargetKind.DOCKER})
async def scale_things(ctx: ToolContext, args: ScaleArgs) -> ScaleResult:
    """Scale a service (test tool)."""
    EFFECTS.append({"tool": "scale_things", **args.model_dump()})
    return ScaleResult(service=args.service, replicas=args.replicas)


@scale_things.planner
async def _plan(ctx: ToolContext, args: ScaleArgs) -> Plan:
    return Plan(summary=f"scale {args.service} to {args.replicas}")


@tool(risk="destructive", permission="deployments:execute", targets={TargetKind.DOCKER})
async def wipe_things(ctx: ToolContext, args: ScaleArgs) -> ScaleResult:
    """Delete a service (test tool)."""
    EFFECTS.append({"tool": "wipe_things", **args.model_dump()})
    return ScaleResult(service=args.service, replicas=0)


@tool(risk="read", permission="targets:read", targets={TargetKind.DOCKER})
async def look(ctx: ToolContext, args: ScaleArgs) -> ScaleResult:
    """Read something (test tool)."""
    return ScaleResult(service=args.service, replicas=args.replicas)


@pytest.fixture(autouse=True)
def _clear_effects() -> None:
    EFFECTS.clear()


class World:
    def __init__(self, api: ApiHarness, org: SeededOrg, other: SeededOrg) -> None:
        self.api = api
        self.org = org
        self.other = other
        self.tooling = api.state.tooling
        self.gate = api.state.tooling.gate

    def principal(self, role: Role, org: SeededOrg | None = None) -> Principal:
        org = org or self.org
        return Principal(user_id=org.users[role], roles={org.id: role})

    async def target(self, environment: str, org: SeededOrg | None = None) -> TargetSpec:
        org = org or self.org
        async with self.api.state.db.transaction() as session:
            row = await resources.add_target(
                session,
                Target(
                    org_id=org.id,
                    name=f"{environment}-{org.slug}",
                    kind="docker",
                    environment=environment,
                ),
            )
            return self.tooling.spec(row)

    def ctx(self, role: Role, target: TargetSpec, org: SeededOrg | None = None) -> ToolContext:
        org = org or self.org
        return self.tooling.context(
            user_id=org.users[role], org_id=org.id, target=target, adapter=object()
        )

    async def request(self, role: Role, target: TargetSpec, **args: Any) -> str:
        result = await self.gate.call(
            scale_things,
            self.ctx(role, target),
            self.principal(role),
            args or {"service": "web", "replicas": 3},
        )
        assert result.status == "approval_required", result
        assert result.approval_id is not None
        return result.approval_id

    async def approve(self, role: Role, approval_id: str) -> Any:
        return await self.tooling.approvals.decide(
            self.principal(role), self.org.id, approval_id, approve=True
        )

    async def audit_outcomes(self) -> list[str]:
        page = await self.api.client.get("/audit?limit=500", headers=self.org.headers(Role.OWNER))
        return [e["outcome"] for e in page.json()["items"] if not e["tool"].startswith("api:")]


@pytest.fixture
async def world(api: ApiHarness) -> World:
    return World(api, await api.seed_org("acme"), await api.seed_org("rival"))


async def test_approved_call_runs_once_with_exact_arguments(world: World) -> None:
    dev = await world.target("dev")
    approval_id = await world.request(Role.OPERATOR, dev)
    assert EFFECTS == [], "nothing runs before approval"
    await world.approve(Role.ADMIN, approval_id)
    result = await world.gate.execute_approved(
        scale_things, world.ctx(Role.OPERATOR, dev), world.principal(Role.OPERATOR), approval_id
    )
    assert result.status == "ok", result
    assert EFFECTS == [{"tool": "scale_things", "service": "web", "replicas": 3}]

    replay = await world.gate.execute_approved(
        scale_things, world.ctx(Role.OPERATOR, dev), world.principal(Role.OPERATOR), approval_id
    )
    assert replay.status == "denied" and "already used" in (replay.error or "")
    assert len(EFFECTS) == 1
    assert (await world.audit_outcomes()).count("denied") == 1


async def test_denied_calls_are_refused_and_audited(world: World) -> None:
    dev, prod = await world.target("dev"), await world.target("prod")
    foreign = await world.target("dev", world.other)
    args = {"service": "web", "replicas": 2}

    viewer = await world.gate.call(
        scale_things, world.ctx(Role.VIEWER, dev), world.principal(Role.VIEWER), args
    )
    assert viewer.status == "denied" and "lacks permission" in (viewer.error or "")

    on_prod = await world.gate.call(
        scale_things, world.ctx(Role.OPERATOR, prod), world.principal(Role.OPERATOR), args
    )
    assert on_prod.status == "denied" and "prod" in (on_prod.error or "")

    other_org = await world.gate.call(
        scale_things, world.ctx(Role.OWNER, foreign), world.principal(Role.OWNER), args
    )
    assert other_org.status == "denied" and "another organization" in (other_org.error or "")

    bad_args = await world.gate.call(
        scale_things,
        world.ctx(Role.OWNER, dev),
        world.principal(Role.OWNER),
        {"service": "web", "replicas": "many"},
    )
    assert bad_args.status == "error" and "replicas" in (bad_args.error or "")

    read = await world.gate.call(
        look, world.ctx(Role.VIEWER, dev), world.principal(Role.VIEWER), args
    )
    assert read.status == "ok"
    assert EFFECTS == []
    assert sorted(await world.audit_outcomes()) == ["denied", "denied", "denied", "error", "ok"]


async def test_approval_misuse_is_refused(world: World) -> None:
    dev, prod = await world.target("dev"), await world.target("prod")

    # Expired approval.
    expired = await world.request(Role.OPERATOR, dev)
    await world.approve(Role.ADMIN, expired)
    async with world.api.state.db.transaction() as session:
        await session.execute(
            update(Approval)
            .where(Approval.id == expired)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    result = await world.gate.execute_approved(
        scale_things, world.ctx(Role.OPERATOR, dev), world.principal(Role.OPERATOR), expired
    )
    assert result.status == "denied" and "expired" in (result.error or "")

    # An approval for other arguments cannot be used for these: the hash differs.
    approval_id = await world.request(Role.OPERATOR, dev, service="web", replicas=3)
    await world.approve(Role.ADMIN, approval_id)
    ctx = world.ctx(Role.OPERATOR, dev)
    with pytest.raises(ApprovalError, match="other arguments"):
        await scale_things.execute(
            ctx, ScaleArgs(service="web", replicas=30), approval_id=approval_id
        )
    # Nor on another target, nor for another tool.
    other_target = await world.target("staging")
    with pytest.raises(ApprovalError, match="another target"):
        await scale_things.execute(
            world.ctx(Role.OPERATOR, other_target),
            ScaleArgs(service="web", replicas=3),
            approval_id=approval_id,
        )
    with pytest.raises(ApprovalError):
        await wipe_things.execute(
            ctx, ScaleArgs(service="web", replicas=3), approval_id=approval_id
        )
    # Not approved yet.
    pending = await world.request(Role.OPERATOR, dev, service="db", replicas=1)
    with pytest.raises(ApprovalError, match="pending"):
        await scale_things.execute(ctx, ScaleArgs(service="db", replicas=1), approval_id=pending)
    # No approval at all, and a made-up id.
    with pytest.raises(ApprovalError):
        await scale_things.execute(ctx, ScaleArgs(service="db", replicas=1))
    with pytest.raises(ApprovalError, match="no such approval"):
        await scale_things.execute(ctx, ScaleArgs(service="db", replicas=1), approval_id="f" * 32)

    # On prod the requester may not approve their own change, and operators may not approve.
    prod_request = await world.gate.call(
        scale_things,
        world.ctx(Role.ADMIN, prod),
        world.principal(Role.ADMIN),
        {"service": "web", "replicas": 2},
    )
    assert prod_request.approval_id
    with pytest.raises(PermissionDenied, match="own change"):
        await world.approve(Role.ADMIN, prod_request.approval_id)
    with pytest.raises(PermissionDenied, match="admin"):
        await world.approve(Role.OPERATOR, prod_request.approval_id)
    decided = await world.approve(Role.OWNER, prod_request.approval_id)
    assert decided.status == "approved"

    # Another organization cannot see or decide it.
    with pytest.raises(Exception, match=r"not a member|not found"):
        await world.tooling.approvals.decide(
            world.principal(Role.OWNER, world.other),
            world.org.id,
            prod_request.approval_id,
            approve=True,
        )
    assert EFFECTS == []


async def test_destructive_on_prod_needs_two_approvers_and_denial_sticks(world: World) -> None:
    prod = await world.target("prod")
    args = {"service": "db", "replicas": 0}
    requested = await world.gate.call(
        wipe_things, world.ctx(Role.ADMIN, prod), world.principal(Role.ADMIN), args
    )
    assert requested.status == "approval_required" and requested.approval_id
    first = await world.approve(Role.OWNER, requested.approval_id)
    assert first.status == "pending" and first.required_approvals == 2
    early = await world.gate.execute_approved(
        wipe_things, world.ctx(Role.ADMIN, prod), world.principal(Role.ADMIN), requested.approval_id
    )
    assert early.status == "denied"
    # A second admin (not the requester) completes it.
    async with world.api.state.db.transaction() as session:
        from api.db.repo import identity

        second = await identity.create_user(session, "second-admin@acme.example.com")
        await identity.set_membership(session, world.org.id, second.id, "admin")
    second_admin = Principal(user_id=second.id, roles={world.org.id: Role.ADMIN})
    done = await world.tooling.approvals.decide(
        second_admin, world.org.id, requested.approval_id, approve=True
    )
    assert done.status == "approved" and len(done.approvers) == 2
    ran = await world.gate.execute_approved(
        wipe_things, world.ctx(Role.ADMIN, prod), world.principal(Role.ADMIN), requested.approval_id
    )
    assert ran.status == "ok"
    assert EFFECTS == [{"tool": "wipe_things", "service": "db", "replicas": 0}]

    # A denial ends it: nobody can approve or execute afterwards.
    dev = await world.target("dev")
    denied_id = await world.request(Role.OPERATOR, dev)
    await world.tooling.approvals.decide(
        world.principal(Role.ADMIN), world.org.id, denied_id, approve=False, reason="no"
    )
    with pytest.raises(Exception, match="already denied"):
        await world.approve(Role.OWNER, denied_id)
    after = await world.gate.execute_approved(
        scale_things, world.ctx(Role.OPERATOR, dev), world.principal(Role.OPERATOR), denied_id
    )
    assert after.status == "denied"
    assert len(EFFECTS) == 1


async def test_destructive_can_be_refused_by_policy(database_url: str, tmp_path: Any) -> None:
    async with ApiHarness.start(database_url, tmp_path, destructive_approvals={"prod": 0}) as api:
        world = World(api, await api.seed_org("acme"), await api.seed_org("rival"))
        prod = await world.target("prod")
        result = await world.gate.call(
            wipe_things,
            world.ctx(Role.OWNER, prod),
            world.principal(Role.OWNER),
            {"service": "db", "replicas": 0},
        )
        assert result.status == "denied" and "refused" in (result.error or "")
