"""Wiring tools into the API: the registry, the gate, and a ToolContext per call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.db.engine import Database
from api.db.models import Target
from api.db.repo import resources
from api.db.repo.approvals import SqlApprovalStore
from api.db.repo.audit import SqlAuditSink
from api.db.repo.deployment_log import SqlDeploymentLog
from api.db.repo.policies import SqlPolicySource
from api.db.repo.stack_library import SqlStackLibrary
from api.db.secrets_box import SecretsBox
from api.db.types import utcnow
from api.knowledge_service import KnowledgeService
from guardrails.approvals import ApprovalService, ApprovalView
from guardrails.gate import Gate
from guardrails.policy import ApprovalPolicy
from guardrails.rate_limit import Limit, RateLimiter
from guardrails.rbac import RbacPolicy
from knowledge.templates.catalog import TemplateCatalog
from tools.adapters.factory import AdapterOptions, build_adapter
from tools.base import Caller, EventSink, NullEvents, ToolContext
from tools.registry import ToolRegistry
from tools.targets import TargetKind, TargetSpec
from tools.template_tools import derive_secrets_with
from windflow.errors import NotFound


def target_spec(target: Target, secrets_box: SecretsBox) -> TargetSpec:
    """A stored target as adapters see it, secrets decrypted."""
    return TargetSpec(
        id=target.id,
        org_id=target.org_id,
        name=target.name,
        kind=TargetKind(target.kind),
        environment=target.environment,
        connection=dict(target.connection),
        secrets=secrets_box.open(target.secrets_encrypted),
    )


@dataclass(frozen=True)
class OrgTargets:
    """``TargetDirectory`` over the database, bound to one organization."""

    tooling: Tooling
    org_id: str

    async def find(self, name_or_id: str) -> TargetSpec:
        async with self.tooling.db.session() as session:
            return await self.tooling.resolve_target(session, self.org_id, name_or_id)


@dataclass
class Tooling:
    registry: ToolRegistry
    gate: Gate
    approvals: ApprovalService
    store: SqlApprovalStore
    deployments: SqlDeploymentLog
    secrets_box: SecretsBox
    adapter_options: AdapterOptions
    db: Database
    library: SqlStackLibrary
    templates: TemplateCatalog
    derive_secret: Callable[[str], bytes]
    knowledge: KnowledgeService | None = None

    @classmethod
    def build(
        cls,
        db: Database,
        registry: ToolRegistry,
        rbac: RbacPolicy,
        policy: ApprovalPolicy,
        secrets_box: SecretsBox,
        adapter_options: AdapterOptions,
        templates: TemplateCatalog,
        template_key: bytes,
        on_approval_change: Callable[[str, str, str], None] | None = None,
        limiter: RateLimiter | None = None,
        tool_call_limit: Limit | None = None,
    ) -> Tooling:
        store = SqlApprovalStore(db, on_change=on_approval_change)
        policies = SqlPolicySource(db)
        approvals = ApprovalService(store, rbac, policy, utcnow, policies=policies)
        gate = Gate(
            rbac=rbac,
            approvals=approvals,
            audit=SqlAuditSink(db),
            policies=policies,
            limiter=limiter,
            tool_call_limit=tool_call_limit,
        )
        return cls(
            registry=registry,
            gate=gate,
            approvals=approvals,
            store=store,
            deployments=SqlDeploymentLog(db, secrets_box),
            secrets_box=secrets_box,
            adapter_options=adapter_options,
            db=db,
            library=SqlStackLibrary(db),
            templates=templates,
            derive_secret=derive_secrets_with(template_key),
        )

    def spec(self, target: Target) -> TargetSpec:
        return target_spec(target, self.secrets_box)

    async def resolve_target(
        self, session: AsyncSession, org_id: str, name_or_id: str
    ) -> TargetSpec:
        target = await resources.target_by_name(session, org_id, name_or_id)
        if target is None:
            found = await session.get(Target, name_or_id)
            target = found if found is not None and found.org_id == org_id else None
        if target is None:
            page = await resources.list_targets(session, org_id, 0, 50)
            names = ", ".join(t.name for t in page.items) or "none yet"
            raise NotFound(
                f"unknown target {name_or_id!r}", hint=f"targets in this organization: {names}"
            )
        return self.spec(target)

    async def targets(self, org_id: str, limit: int = 50) -> list[TargetSpec]:
        """The organization's targets by name (what the assistant may act on)."""
        async with self.db.session() as session:
            page = await resources.list_targets(session, org_id, 0, limit)
            return [self.spec(t) for t in page.items]

    async def approval(self, org_id: str, approval_id: str) -> ApprovalView | None:
        return await self.store.get(org_id, approval_id)

    def adapter(self, target: TargetSpec) -> Any:
        return build_adapter(target, self.adapter_options)

    def context(
        self,
        *,
        user_id: str,
        org_id: str,
        target: TargetSpec | None,
        events: EventSink | None = None,
        conversation_id: str | None = None,
        adapter: Any = None,
    ) -> ToolContext:
        if adapter is None and target is not None:
            adapter = self.adapter(target)
        return ToolContext(
            caller=Caller(user_id=user_id, org_id=org_id),
            target=target,
            adapter=adapter,
            ledger=self.store,
            deployments=self.deployments,
            events=events or NullEvents(),
            conversation_id=conversation_id,
            library=self.library,
            templates=self.templates,
            derive_secret=self.derive_secret,
            knowledge=self.knowledge.base if self.knowledge is not None else None,
            directory=OrgTargets(self, org_id),
        )
