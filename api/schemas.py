"""Request and response bodies of the REST API.

Inputs forbid unknown fields: a misspelt field is an error, not silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from guardrails.rbac import Role
from tools.targets import TargetKind

T = TypeVar("T")

NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(Output, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int

    @classmethod
    def of(cls, result: Any, convert: Callable[[Any], T]) -> Page[T]:
        """A page of API models from a repository ``Page`` of rows."""
        return cls(
            items=[convert(row) for row in result.items],
            total=result.total,
            offset=result.offset,
            limit=result.limit,
        )


# --- auth -------------------------------------------------------------------------------


class LoginIn(Input):
    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)


class RefreshIn(Input):
    refresh_token: str = Field(min_length=10, max_length=4096)


class TokenPair(Output):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class ApiTokenIn(Input):
    name: str = Field(min_length=1, max_length=200)
    role_cap: Role | None = Field(
        default=None, description="Limit the token below your own role, e.g. viewer for a bot"
    )
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class ApiTokenOut(Output):
    id: str
    name: str
    prefix: str
    org_id: str
    role_cap: Role | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiTokenCreated(ApiTokenOut):
    token: str = Field(description="Shown once; store it now")


class MembershipOut(Output):
    org_id: str
    role: Role


class MeOut(Output):
    id: str
    email: str
    display_name: str
    memberships: list[MembershipOut]


# --- organizations and users ---------------------------------------------------------


class OrgIn(Input):
    slug: str = Field(pattern=NAME_PATTERN)
    name: str = Field(min_length=1, max_length=200)


class OrgPatch(Input):
    name: str = Field(min_length=1, max_length=200)


class OrgOut(Output):
    id: str
    slug: str
    name: str
    created_at: datetime


class UserIn(Input):
    email: EmailStr
    display_name: str = Field(default="", max_length=200)
    password: str | None = Field(
        default=None, min_length=10, max_length=1024, description="Omit for OIDC-only users"
    )
    role: Role = Role.VIEWER


class MemberPatch(Input):
    role: Role


class MemberOut(Output):
    user_id: str
    email: str
    display_name: str
    role: Role


# --- targets, stacks, deployments ----------------------------------------------------


class TargetIn(Input):
    name: str = Field(pattern=NAME_PATTERN)
    kind: TargetKind
    environment: str = Field(default="dev", pattern=r"^[a-z][a-z0-9-]{0,31}$")
    description: str = Field(default="", max_length=2000)
    connection: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(
        default_factory=dict, description="Encrypted at rest; never returned"
    )


class TargetPatch(Input):
    environment: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{0,31}$")
    description: str | None = Field(default=None, max_length=2000)
    connection: dict[str, Any] | None = None
    secrets: dict[str, str] | None = None


class TargetOut(Output):
    id: str
    name: str
    kind: TargetKind
    environment: str
    description: str
    connection: dict[str, Any]
    has_secrets: bool
    created_at: datetime
    updated_at: datetime


class TargetCheckOut(Output):
    target_id: str
    reachable: bool
    detail: str
    version: str | None
    latency_ms: float


class StackIn(Input):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=2000)
    compose_source: str | None = Field(default=None, max_length=512_000)
    template_ref: str | None = Field(default=None, max_length=200)
    parameters: dict[str, str] = Field(default_factory=dict)


class StackPatch(Input):
    description: str | None = Field(default=None, max_length=2000)
    compose_source: str | None = Field(default=None, max_length=512_000)
    parameters: dict[str, str] | None = None


class StackOut(Output):
    id: str
    name: str
    description: str
    compose_source: str | None
    template_ref: str | None
    parameters: dict[str, Any]
    services: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


class DeploymentOut(Output):
    id: str
    stack_id: str
    target_id: str
    revision: int
    status: str
    error: str | None
    rendered_config: str
    approval_id: str | None
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class AuditOut(Output):
    id: str
    seq: int
    hash: str
    user_id: str | None
    target_id: str | None
    tool: str
    risk: str
    arguments: dict[str, Any]
    outcome: str
    error: str | None
    duration_ms: float
    approval_id: str | None
    created_at: datetime


class HealthOut(Output):
    status: Literal["ok"]
    version: str


class ReadyOut(Output):
    status: Literal["ready", "starting"]
    database: str
