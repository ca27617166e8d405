"""The model can never change who may do what: no tool touches policies, roles,
environments, targets' settings, tokens or approval decisions, and nothing a tool call
carries can ask for an emergency override. Checked over every tool WindFlow ships.
"""

from __future__ import annotations

import dataclasses
import inspect

from guardrails.rbac import ROLE_PERMISSIONS, Permission, Role
from tools.base import ApprovalLedger, ToolContext
from tools.catalog import default_registry

GOVERNANCE = {
    Permission.ORG_WRITE,
    Permission.MEMBERS_WRITE,
    Permission.TOKENS_WRITE,
    Permission.TARGETS_WRITE,
    Permission.APPROVALS_DECIDE,
    Permission.POLICIES_READ,
    Permission.POLICIES_WRITE,
    Permission.AUDIT_READ,
}
FORBIDDEN_ARGUMENTS = {
    "role",
    "roles",
    "policy",
    "policies",
    "environment",
    "approval",
    "approval_id",
    "approved",
    "approver",
    "emergency",
    "member",
    "members",
    "token",
}


def test_no_tool_needs_or_grants_a_governance_permission() -> None:
    registry = default_registry()
    assert len(registry) > 10
    for tool in registry:
        permission = Permission(tool.permission)
        assert permission not in GOVERNANCE, f"{tool.name} needs {permission.value}"
        # What a tool needs, an operator has: tools never act with an admin's powers.
        assert permission in ROLE_PERMISSIONS[Role.OPERATOR], tool.name


def test_no_tool_argument_can_speak_for_a_human_decision() -> None:
    for tool in default_registry():
        properties = set(tool.input_model.model_json_schema().get("properties", {}))
        assert not properties & FORBIDDEN_ARGUMENTS, (tool.name, properties & FORBIDDEN_ARGUMENTS)


def test_a_tool_context_offers_no_way_to_decide_or_change_policy() -> None:
    fields = {f.name for f in dataclasses.fields(ToolContext)}
    assert not fields & {"policies", "rbac", "approvals", "gate", "db", "session", "settings"}
    ledger_methods = {
        name
        for name, member in inspect.getmembers(ApprovalLedger, inspect.isfunction)
        if not name.startswith("_")
    }
    assert ledger_methods == {"consume"}, "a tool can only consume an approval given to it"
