"""Approvals: requesting one for a planned change, and deciding it under policy.

Storage is a protocol implemented by the persistence layer and passed in; this module
holds the rules. Consuming an approval (at execution) is the ledger's job, see
``tools.base.ApprovalLedger``: it is atomic so an approval can be used exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from guardrails.policies.engine import ApprovalRequirement, PolicySource, approval_requirement
from guardrails.policy import ApprovalPolicy
from guardrails.rbac import Permission, Principal, RbacPolicy
from tools.base import ApprovalLedger, Plan
from windflow.errors import ApprovalError, Conflict, NotFound, PermissionDenied

ApprovalStatus = Literal["pending", "approved", "denied", "expired"]


@dataclass(frozen=True)
class Vote:
    user_id: str
    decision: Literal["approve", "deny"]
    reason: str | None = None


@dataclass(frozen=True)
class ApprovalView:
    id: str
    org_id: str
    target_id: str | None
    target_environment: str
    tool: str
    risk: str
    arguments: dict[str, Any]
    args_hash: str
    plan: dict[str, Any]
    status: ApprovalStatus
    required_approvals: int
    requested_by: str
    created_at: datetime
    expires_at: datetime
    decided_by: str | None = None
    reason: str | None = None
    used_at: datetime | None = None
    thread_id: str | None = None
    votes: tuple[Vote, ...] = field(default_factory=tuple)

    @property
    def approvers(self) -> tuple[str, ...]:
        return tuple(v.user_id for v in self.votes if v.decision == "approve")


@dataclass(frozen=True)
class NewApproval:
    org_id: str
    target_id: str | None
    tool: str
    risk: str
    arguments: dict[str, Any]
    args_hash: str
    plan: dict[str, Any]
    required_approvals: int
    requested_by: str
    expires_at: datetime
    thread_id: str | None = None


class ApprovalStore(ApprovalLedger, Protocol):
    async def create(self, approval: NewApproval) -> ApprovalView: ...

    async def get(self, org_id: str, approval_id: str) -> ApprovalView | None: ...

    async def record_vote(
        self, approval_id: str, vote: Vote, new_status: ApprovalStatus, decided_at: datetime
    ) -> ApprovalView:
        """Store the vote and the resulting status, only if the approval is still pending."""
        ...

    async def expire(self, approval_id: str) -> None: ...


class ApprovalService:
    def __init__(
        self,
        store: ApprovalStore,
        rbac: RbacPolicy,
        policy: ApprovalPolicy,
        clock: Any,
        policies: PolicySource | None = None,
    ) -> None:
        self.store = store
        self.rbac = rbac
        self.policy = policy
        self._now = clock
        # The organization's policy document overrides ``policy`` where it has rules.
        self.policies = policies

    async def requirement(
        self, org_id: str, target_name: str | None, environment: str, risk: str
    ) -> ApprovalRequirement | None:
        if self.policies is None:
            return None
        document = await self.policies.document(org_id)
        if document is None:
            return None
        return approval_requirement(document.matching(target_name, environment), risk)

    async def request(
        self,
        *,
        org_id: str,
        target_id: str | None,
        environment: str,
        tool: str,
        risk: str,
        arguments: dict[str, Any],
        args_hash: str,
        plan: Plan,
        requested_by: str,
        thread_id: str | None = None,
        target_name: str | None = None,
    ) -> ApprovalView:
        needed = self.policy.approvals_needed(risk, environment)
        required = await self.requirement(org_id, target_name, environment, risk)
        if required is not None and required.approvers is not None:
            needed = required.approvers
        if needed == 0:
            source = (
                f"rule {', '.join(required.rules)} of the organization's policy"
                if required is not None and required.approvers == 0
                else "WINDFLOW_DESTRUCTIVE_APPROVALS"
            )
            raise PermissionDenied(
                f"{risk} changes are refused on {environment!r} targets by policy ({source})",
                hint=f"do it by hand, or change {source}",
            )
        return await self.store.create(
            NewApproval(
                org_id=org_id,
                target_id=target_id,
                tool=tool,
                risk=risk,
                arguments=arguments,
                args_hash=args_hash,
                plan=plan.model_dump(mode="json"),
                required_approvals=needed,
                requested_by=requested_by,
                expires_at=self._now() + timedelta(seconds=self.policy.ttl_seconds),
                thread_id=thread_id,
            )
        )

    async def get(self, principal: Principal, org_id: str, approval_id: str) -> ApprovalView:
        self.rbac.require(principal, Permission.APPROVALS_READ, org_id)
        approval = await self.store.get(org_id, approval_id)
        if approval is None:
            raise NotFound(f"approval {approval_id!r} not found in this organization")
        return approval

    async def decide(
        self,
        principal: Principal,
        org_id: str,
        approval_id: str,
        *,
        approve: bool,
        reason: str | None = None,
    ) -> ApprovalView:
        """Record one human decision; the approval is granted once enough approvers agree."""
        self.rbac.require(principal, Permission.APPROVALS_DECIDE, org_id)
        approval = await self.get(principal, org_id, approval_id)
        if approval.status != "pending":
            raise Conflict(
                f"approval {approval_id} is already {approval.status}",
                hint="request the change again if it is still needed",
            )
        if approval.expires_at <= self._now():
            await self.store.expire(approval.id)
            raise ApprovalError(
                f"approval {approval_id} expired at {approval.expires_at.isoformat()}",
                hint="request the change again",
            )
        self.rbac.require(
            principal,
            Permission.APPROVALS_DECIDE,
            org_id,
            environment=approval.target_environment,
        )
        user = principal.user_id
        required = None
        if self.policies is not None:
            name = await self.policies.target_name(org_id, approval.target_id)
            required = await self.requirement(
                org_id, name, approval.target_environment, approval.risk
            )
        role = principal.role_in(org_id)
        minimum = required.min_role if required is not None else None
        if minimum is not None and role is not None and not role.at_least(minimum):
            rules = ", ".join(required.rules) if required is not None else ""
            raise PermissionDenied(
                f"deciding a {approval.risk} change here needs role {minimum.value} or "
                f"higher (rule {rules}); you are {role.value}",
                hint="ask someone with that role to decide it",
            )
        self_forbidden = (
            required.forbid_self_approval
            if required is not None
            else not self.policy.self_approval_allowed(approval.target_environment)
        )
        if approve and user == approval.requested_by and self_forbidden:
            raise PermissionDenied(
                f"on {approval.target_environment!r} targets the requester cannot approve "
                "their own change",
                hint="ask another operator or admin to approve it",
            )
        if user in {v.user_id for v in approval.votes}:
            raise Conflict("you have already decided on this approval")
        if not approve:
            status: ApprovalStatus = "denied"
        elif len(approval.approvers) + 1 >= approval.required_approvals:
            status = "approved"
        else:
            status = "pending"
        vote = Vote(user_id=user, decision="approve" if approve else "deny", reason=reason)
        return await self.store.record_vote(approval.id, vote, status, self._now())
