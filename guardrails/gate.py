"""The one path from a proposed tool call to infrastructure.

    propose -> rate limit -> parse -> RBAC (+ environment) -> read: run
                   -> mutate/destructive: policy (windows, workloads) -> plan -> Approval(pending)
    approved -> execute_approved -> RBAC and policy again -> ledger consumes the approval -> run

Every outcome is audited with redacted arguments. Neither the model nor the prompt takes
part in any of these decisions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from guardrails.approvals import ApprovalService
from guardrails.audit import AuditEntry, AuditSink
from guardrails.policies.engine import (
    PolicySource,
    Violation,
    describe,
    now_utc,
    window_violations,
    workload_violations,
)
from guardrails.policies.workloads import effective_config
from guardrails.rate_limit import Limit, RateLimiter
from guardrails.rbac import Permission, Principal, RbacPolicy
from guardrails.redaction import redact
from tools.base import Plan, Tool, ToolContext, ToolResult, canonical_json
from tools.bounded import bound_text
from windflow.errors import InvalidInput, PermissionDenied, WindFlowError

MAX_RESULT_CHARS = 16_000


@dataclass
class Gate:
    rbac: RbacPolicy
    approvals: ApprovalService
    audit: AuditSink
    policies: PolicySource | None = None
    limiter: RateLimiter | None = None
    tool_call_limit: Limit | None = None
    clock: Callable[[], datetime] = field(default=now_utc)

    async def _policy_check(
        self,
        tool: Tool[Any, Any],
        ctx: ToolContext,
        principal: Principal,
        args: Any,
        emergency: bool,
    ) -> tuple[list[Violation], list[str]]:
        """Violations of the organization's policy, and change windows overridden."""
        if self.policies is None:
            return [], []
        document = await self.policies.document(ctx.caller.org_id)
        if document is None:
            return [], []
        target = ctx.target
        rules = document.matching(
            target.name if target else None, target.environment if target else "none"
        )
        if not rules:
            return [], []
        violations, overridden = window_violations(
            rules, self.clock(), principal.role_in(ctx.caller.org_id), emergency
        )
        try:
            config = await effective_config(ctx, args, tool.name)
        except WindFlowError:
            config = None  # unparsable input: the planner reports it with its own words
        if config is not None:
            violations += workload_violations(rules, config)
        return violations, overridden

    @staticmethod
    def _refused(tool: Tool[Any, Any], violations: list[Violation]) -> ToolResult:
        return ToolResult(
            status="denied",
            tool=tool.name,
            error=describe(violations),
            hint="change the call so that it complies with each rule, or ask an admin "
            "to change the organization's policy",
            data={"violations": [v.as_dict() for v in violations]},
        )

    def visible_tools(
        self,
        tools: list[Tool[Any, Any]],
        principal: Principal,
        org_id: str,
        environment: str | None,
    ) -> list[Tool[Any, Any]]:
        """The tools this caller could use on this target (what the model is offered)."""
        return [
            t
            for t in tools
            if self.rbac.authorize(
                principal,
                Permission(t.permission),
                org_id,
                environment=environment if t.mutates else None,
            ).allowed
        ]

    def _authorize(
        self, tool: Tool[Any, Any], ctx: ToolContext, principal: Principal
    ) -> str | None:
        """None when allowed, else the reason for refusing."""
        if principal.user_id != ctx.caller.user_id:
            return "the caller does not match the tool context"
        if ctx.target is not None:
            if ctx.target.org_id != ctx.caller.org_id:
                return "the target belongs to another organization"
            if ctx.target.kind not in tool.targets:
                return f"{tool.name} does not work on {ctx.target.kind.value} targets"
        elif tool.targets:
            return f"{tool.name} needs a target"
        decision = self.rbac.authorize(
            principal,
            Permission(tool.permission),
            ctx.caller.org_id,
            environment=ctx.target.environment if ctx.target and tool.mutates else None,
        )
        return None if decision.allowed else decision.reason

    async def _audit(
        self,
        ctx: ToolContext,
        tool: Tool[Any, Any],
        arguments: dict[str, Any],
        result: ToolResult,
        started: float,
        approval_id: str | None = None,
    ) -> ToolResult:
        await self.audit.record(
            AuditEntry(
                org_id=ctx.caller.org_id,
                user_id=ctx.caller.user_id,
                tool=tool.name,
                risk=tool.risk,
                arguments=redact(arguments),
                outcome=result.status,
                error=redact(result.error) if result.error else None,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                target_id=ctx.target.id if ctx.target else None,
                approval_id=approval_id or result.approval_id,
                conversation_id=ctx.conversation_id,
            )
        )
        return result

    async def _run(
        self, tool: Tool[Any, Any], ctx: ToolContext, args: Any, approval_id: str | None
    ) -> ToolResult:
        try:
            output = await tool.execute(ctx, args, approval_id=approval_id)
        except PermissionDenied as exc:  # includes ApprovalError: missing, used, other args
            return ToolResult.denied(tool.name, exc.message, exc.hint)
        except WindFlowError as exc:
            return ToolResult.failed(tool.name, exc)
        data = output.model_dump(mode="json")
        text, truncated = bound_text(canonical_json(data), MAX_RESULT_CHARS)
        if truncated:
            return ToolResult(status="ok", tool=tool.name, data={"summary": text}, truncated=True)
        return ToolResult(status="ok", tool=tool.name, data=data)

    async def call(
        self,
        tool: Tool[Any, Any],
        ctx: ToolContext,
        principal: Principal,
        raw_args: dict[str, Any] | None,
        *,
        thread_id: str | None = None,
        emergency: bool = False,
    ) -> ToolResult:
        """Propose a call: reads run now; mutations return approval_required with a plan.

        Raises RateLimited when the caller has made too many calls (nothing is audited
        then: a flood must not flood the audit trail). ``emergency`` asks to override a
        closed change window; only the API sets it, for a role the policy allows.
        """
        if self.limiter is not None and self.tool_call_limit is not None:
            await self.limiter.hit(f"tools:user:{ctx.caller.user_id}", self.tool_call_limit)
        started = time.perf_counter()
        arguments = dict(raw_args or {})
        try:
            args = tool.parse(arguments)
        except InvalidInput as exc:
            return await self._audit(
                ctx, tool, arguments, ToolResult.failed(tool.name, exc), started
            )
        refusal = self._authorize(tool, ctx, principal)
        if refusal is not None:
            denied = ToolResult.denied(tool.name, refusal, "ask an admin for the needed role")
            return await self._audit(ctx, tool, arguments, denied, started)
        if not tool.mutates:
            return await self._audit(
                ctx, tool, arguments, await self._run(tool, ctx, args, None), started
            )
        violations, overridden = await self._policy_check(tool, ctx, principal, args, emergency)
        if violations:
            return await self._audit(ctx, tool, arguments, self._refused(tool, violations), started)
        if overridden:
            arguments = {**arguments, "emergency_override": overridden}
        try:
            plan = _with_overrides(await tool.plan(ctx, args), overridden, principal)
            approval = await self.approvals.request(
                org_id=ctx.caller.org_id,
                target_id=ctx.target.id if ctx.target else None,
                target_name=ctx.target.name if ctx.target else None,
                environment=ctx.target.environment if ctx.target else "none",
                tool=tool.name,
                risk=tool.risk,
                arguments=args.model_dump(mode="json"),
                args_hash=tool.hash_of(ctx, args),
                plan=plan,
                requested_by=ctx.caller.user_id,
                thread_id=thread_id,
            )
        except PermissionDenied as exc:
            return await self._audit(
                ctx, tool, arguments, ToolResult.denied(tool.name, exc.message, exc.hint), started
            )
        except WindFlowError as exc:
            return await self._audit(
                ctx, tool, arguments, ToolResult.failed(tool.name, exc), started
            )
        result = ToolResult.needs_approval(tool.name, approval.id, plan)
        return await self._audit(ctx, tool, arguments, result, started)

    async def execute_approved(
        self,
        tool: Tool[Any, Any],
        ctx: ToolContext,
        principal: Principal,
        approval_id: str,
        *,
        emergency: bool = False,
    ) -> ToolResult:
        """Run a mutation whose approval was granted, with exactly the approved arguments.

        The policy is asked again: a change window may have closed since the request.
        """
        started = time.perf_counter()
        approval = await self.approvals.store.get(ctx.caller.org_id, approval_id)
        arguments = dict(approval.arguments) if approval else {}
        if approval is None or approval.tool != tool.name:
            denied = ToolResult.denied(tool.name, f"no approval {approval_id} for {tool.name}")
            return await self._audit(ctx, tool, arguments, denied, started, approval_id)
        refusal = self._authorize(tool, ctx, principal)
        if refusal is not None:
            denied = ToolResult.denied(tool.name, refusal)
            return await self._audit(ctx, tool, arguments, denied, started, approval_id)
        try:
            args = tool.parse(arguments)
        except InvalidInput as exc:
            failed = ToolResult.failed(tool.name, exc)
            return await self._audit(ctx, tool, arguments, failed, started, approval_id)
        violations, overridden = await self._policy_check(tool, ctx, principal, args, emergency)
        if violations:
            refused = self._refused(tool, violations)
            return await self._audit(ctx, tool, arguments, refused, started, approval_id)
        if overridden:
            arguments = {**arguments, "emergency_override": overridden}
        result = await self._run(tool, ctx, args, approval_id)
        return await self._audit(ctx, tool, arguments, result, started, approval_id)


def _with_overrides(plan: Plan, overridden: list[str], principal: Principal) -> Plan:
    if overridden:
        plan.warnings.append(
            f"EMERGENCY change outside the change window of {', '.join(overridden)}, "
            f"requested by {principal.user_id}"
        )
    return plan
