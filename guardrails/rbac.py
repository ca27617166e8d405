"""Role-based access control: the one place that says who may do what.

The API's endpoints and the tools' guardrail path both ask :func:`authorize`; neither
keeps its own notion of roles. A decision is computed from the caller's membership in
the organization that owns the object, never from anything a model or a client claims.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from windflow.errors import PermissionDenied


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Permission(StrEnum):
    ORG_READ = "org:read"
    ORG_WRITE = "org:write"
    MEMBERS_READ = "members:read"
    MEMBERS_WRITE = "members:write"
    TOKENS_WRITE = "tokens:write"
    TARGETS_READ = "targets:read"
    TARGETS_WRITE = "targets:write"
    STACKS_READ = "stacks:read"
    STACKS_WRITE = "stacks:write"
    DEPLOYMENTS_READ = "deployments:read"
    DEPLOYMENTS_EXECUTE = "deployments:execute"
    APPROVALS_READ = "approvals:read"
    APPROVALS_DECIDE = "approvals:decide"
    AUDIT_READ = "audit:read"
    POLICIES_READ = "policies:read"
    POLICIES_WRITE = "policies:write"
    CHAT_USE = "chat:use"


_VIEWER = frozenset(
    {
        Permission.ORG_READ,
        Permission.MEMBERS_READ,
        Permission.TARGETS_READ,
        Permission.STACKS_READ,
        Permission.DEPLOYMENTS_READ,
        Permission.APPROVALS_READ,
        Permission.CHAT_USE,
        Permission.TOKENS_WRITE,
    }
)
_OPERATOR = _VIEWER | {
    Permission.STACKS_WRITE,
    Permission.DEPLOYMENTS_EXECUTE,
    Permission.APPROVALS_DECIDE,
}
_ADMIN = _OPERATOR | {
    Permission.TARGETS_WRITE,
    Permission.MEMBERS_WRITE,
    Permission.AUDIT_READ,
    Permission.POLICIES_READ,
    Permission.POLICIES_WRITE,
}
_OWNER = _ADMIN | {Permission.ORG_WRITE}

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.OPERATOR: _OPERATOR,
    Role.ADMIN: _ADMIN,
    Role.OWNER: _OWNER,
}

# Permissions whose exercise on a target is restricted further by the target's
# environment label: deciding or executing a change on prod needs a higher role.
ENVIRONMENT_SENSITIVE = frozenset({Permission.APPROVALS_DECIDE, Permission.DEPLOYMENTS_EXECUTE})

DEFAULT_ENVIRONMENT_MIN_ROLE: Mapping[str, Role] = {"prod": Role.ADMIN, "production": Role.ADMIN}


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user and their role in each organization they belong to.

    ``role_cap`` limits an API token below its owner's role (a bot token can be a viewer
    even when created by an admin).
    """

    user_id: str
    roles: Mapping[str, Role] = field(default_factory=dict)
    role_cap: Role | None = None
    token_org_id: str | None = None

    def role_in(self, org_id: str) -> Role | None:
        if self.token_org_id is not None and org_id != self.token_org_id:
            return None
        role = self.roles.get(org_id)
        if role is None:
            return None
        if self.role_cap is not None and not role.at_least(self.role_cap):
            return role
        return self.role_cap if self.role_cap is not None else role

    def is_member(self, org_id: str) -> bool:
        return self.role_in(org_id) is not None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    role: Role | None = None

    def raise_if_denied(self) -> None:
        if not self.allowed:
            raise PermissionDenied(self.reason, hint=_hint(self.reason))


def _hint(reason: str) -> str:
    if "not a member" in reason:
        return "ask an owner of the organization to add you, or choose another organization"
    return "ask an admin of the organization for a role that includes this permission"


@dataclass(frozen=True)
class RbacPolicy:
    """Per-environment minimum roles; comes from settings, defaults to admin on prod."""

    environment_min_role: Mapping[str, Role] = field(
        default_factory=lambda: dict(DEFAULT_ENVIRONMENT_MIN_ROLE)
    )

    def authorize(
        self,
        principal: Principal,
        permission: Permission,
        org_id: str,
        *,
        environment: str | None = None,
    ) -> Decision:
        role = principal.role_in(org_id)
        if role is None:
            return Decision(False, "you are not a member of this organization")
        if permission not in ROLE_PERMISSIONS[role]:
            return Decision(
                False, f"role {role.value!r} lacks permission {permission.value!r}", role
            )
        if environment is not None and permission in ENVIRONMENT_SENSITIVE:
            needed = self.environment_min_role.get(environment.lower())
            if needed is not None and not role.at_least(needed):
                return Decision(
                    False,
                    f"{permission.value!r} on a {environment!r} target needs role "
                    f"{needed.value!r} or higher; you are {role.value!r}",
                    role,
                )
        return Decision(True, "allowed", role)

    def require(
        self,
        principal: Principal,
        permission: Permission,
        org_id: str,
        *,
        environment: str | None = None,
    ) -> Role:
        decision = self.authorize(principal, permission, org_id, environment=environment)
        decision.raise_if_denied()
        assert decision.role is not None
        return decision.role


def can_grant(granter: Role, role: Role) -> bool:
    """Nobody hands out a role above their own; only owners make owners."""
    return granter.at_least(role)
