"""Fresh objects in an organization, created straight through the repository layer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from api.db.engine import Database
from api.db.models import Approval, Deployment, Stack, Target
from api.db.repo import identity, resources
from api.db.types import utcnow
from guardrails.rbac import Role
from tests.api.harness import ApiHarness

COMPOSE = """
services:
  web:
    image: nginx:1.27
    ports: ["8080:80"]
  db:
    image: postgres:16
"""


@dataclass(frozen=True)
class Objects:
    target: str
    stack: str
    deployment: str
    member: str
    approval: str


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def fresh_objects(api: ApiHarness, org_id: str) -> Objects:
    async with api.state.db.transaction() as session:
        target = await resources.add_target(
            session,
            Target(
                org_id=org_id,
                name=unique("t"),
                kind="docker",
                environment="dev",
                connection={"host": "unix:///nonexistent/docker.sock"},
            ),
        )
        stack = await resources.add_stack(
            session, Stack(org_id=org_id, name=unique("s"), compose_source=COMPOSE)
        )
        deployment = Deployment(
            org_id=org_id,
            stack_id=stack.id,
            target_id=target.id,
            revision=1,
            rendered_config=COMPOSE,
            status="succeeded",
        )
        session.add(deployment)
        user = await identity.create_user(session, f"{unique('m')}@example.com")
        await identity.set_membership(session, org_id, user.id, Role.VIEWER.value)
        approval = Approval(
            org_id=org_id,
            target_id=target.id,
            tool="scale_service",
            risk="mutate",
            arguments={"stack": "blog", "service": "web", "replicas": 2},
            args_hash="0" * 64,
            plan={"summary": "scale blog/web to 2"},
            requested_by=user.id,
            expires_at=utcnow() + timedelta(hours=1),
            votes=[],
        )
        session.add(approval)
        await session.flush()
        return Objects(target.id, stack.id, deployment.id, user.id, approval.id)


async def add_docker_target(
    db: Database, org_id: str, host: str = "unix:///nonexistent/docker.sock"
) -> Target:
    """A dev Docker target named docker-local (the default host answers nothing)."""
    async with db.transaction() as session:
        return await resources.add_target(
            session,
            Target(
                org_id=org_id,
                name="docker-local",
                kind="docker",
                environment="dev",
                connection={"host": host},
            ),
        )
