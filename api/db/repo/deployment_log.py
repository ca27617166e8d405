"""Deployment history in the database, as the tools' ``DeploymentLog``."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select

from api.db.engine import Database
from api.db.models import Deployment, Stack
from api.db.secrets_box import SecretsBox
from api.db.types import utcnow
from tools.base import DeploymentRecord


class SqlDeploymentLog:
    def __init__(self, db: Database, secrets_box: SecretsBox) -> None:
        self.db = db
        self.secrets_box = secrets_box

    def _record(self, row: Deployment) -> DeploymentRecord:
        env = self.secrets_box.open(row.env_sealed) if row.env_sealed else {}
        return DeploymentRecord(
            id=row.id,
            revision=row.revision,
            rendered_config=row.rendered_config,
            status=row.status,
            env={str(k): str(v) for k, v in env.items()},
        )

    async def begin(
        self,
        *,
        org_id: str,
        target_id: str,
        stack_name: str,
        rendered_config: str,
        approval_id: str | None,
        user_id: str,
        env: Mapping[str, str] | None = None,
    ) -> DeploymentRecord:
        async with self.db.transaction() as session:
            stack = await session.scalar(
                select(Stack).where(Stack.org_id == org_id, Stack.name == stack_name)
            )
            if stack is None:
                # A stack deployed from a conversation is saved so its history has a home.
                stack = Stack(
                    org_id=org_id,
                    name=stack_name,
                    compose_source=rendered_config,
                    created_by=user_id,
                )
                session.add(stack)
                await session.flush()
            latest = await session.scalar(
                select(func.max(Deployment.revision)).where(
                    Deployment.stack_id == stack.id, Deployment.target_id == target_id
                )
            )
            row = Deployment(
                org_id=org_id,
                stack_id=stack.id,
                target_id=target_id,
                revision=int(latest or 0) + 1,
                rendered_config=rendered_config,
                env_sealed=self.secrets_box.seal(dict(env)) if env else None,
                status="running",
                approval_id=approval_id,
                created_by=user_id,
                started_at=utcnow(),
            )
            session.add(row)
            await session.flush()
            return self._record(row)

    async def finish(self, deployment_id: str, status: str, error: str | None = None) -> None:
        async with self.db.transaction() as session:
            row = await session.get(Deployment, deployment_id)
            if row is not None:
                row.status = status
                row.error = error
                row.finished_at = utcnow()

    async def previous(
        self, *, org_id: str, target_id: str, stack_name: str, before_revision: int | None = None
    ) -> DeploymentRecord | None:
        async with self.db.session() as session:
            query = (
                select(Deployment)
                .join(Stack, Stack.id == Deployment.stack_id)
                .where(
                    Stack.org_id == org_id,
                    Stack.name == stack_name,
                    Deployment.target_id == target_id,
                    Deployment.status == "succeeded",
                )
            )
            if before_revision is not None:
                query = query.where(Deployment.revision < before_revision)
            row = await session.scalar(query.order_by(Deployment.revision.desc()).limit(1))
            return self._record(row) if row is not None else None
