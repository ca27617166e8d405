"""Approval policy per target environment, built from settings.

RBAC says which role may decide; this says what else a decision needs: someone other
than the requester, and how many approvers a destructive change takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from guardrails.rbac import RbacPolicy, Role
from windflow.errors import ConfigurationError
from windflow.settings import Settings


@dataclass(frozen=True)
class ApprovalPolicy:
    forbid_self_approval_in: frozenset[str] = frozenset({"prod", "production", "staging"})
    destructive_approvals: dict[str, int] = field(
        default_factory=lambda: {"prod": 2, "production": 2}
    )
    ttl_seconds: int = 3600

    def self_approval_allowed(self, environment: str) -> bool:
        return environment.lower() not in self.forbid_self_approval_in

    def approvals_needed(self, risk: str, environment: str) -> int:
        """How many distinct approvers; 0 means the change is refused outright."""
        if risk != "destructive":
            return 1
        return self.destructive_approvals.get(environment.lower(), 1)


def policies_from(settings: Settings) -> tuple[RbacPolicy, ApprovalPolicy]:
    try:
        min_roles = {env.lower(): Role(role) for env, role in settings.environment_min_role.items()}
    except ValueError as exc:
        raise ConfigurationError(
            f"WINDFLOW_ENVIRONMENT_MIN_ROLE has an unknown role: {exc}",
            hint="roles are viewer, operator, admin, owner",
        ) from exc
    rbac = RbacPolicy(environment_min_role=min_roles)
    approvals = ApprovalPolicy(
        forbid_self_approval_in=frozenset(e.lower() for e in settings.forbid_self_approval_in),
        destructive_approvals={k.lower(): v for k, v in settings.destructive_approvals.items()},
        ttl_seconds=settings.approval_ttl_seconds,
    )
    return rbac, approvals
