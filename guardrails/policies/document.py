"""The policy document an organization's admins write, in YAML, and how it is read.

    version: 1
    rules:
      - name: prod changes
        match: {environments: [prod]}          # or targets: [name, ...]; empty = every target
        approvals:
          forbid_self_approval: true
          mutate: {min_role: admin, approvers: 1}
          destructive: {min_role: admin, approvers: 2}
        change_window:
          timezone: Europe/Paris
          days: [mon, tue, wed, thu]
          hours: "09:00-17:00"
        workloads:
          max_replicas: 10
          allowed_images: ["registry.example.com/*", "postgres:16*"]
          forbid_privileged: true
          forbid_capabilities: ["*"]
          forbid_host_mounts: true
          forbid_host_network: true

Every matching rule applies; where two rules say different things, the stricter wins.
Problems are reported with the line of the YAML they come from.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from guardrails.rbac import Role
from windflow.errors import InvalidInput

MAX_DOCUMENT_BYTES = 64_000
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Strict):
    targets: list[str] = Field(default_factory=list, description="Target names; empty = any")
    environments: list[str] = Field(default_factory=list, description="Environments; empty = any")

    def covers(self, target_name: str | None, environment: str | None) -> bool:
        if self.targets and target_name not in self.targets:
            return False
        wanted = {e.lower() for e in self.environments}
        return not wanted or (environment or "none").lower() in wanted


class RiskApproval(_Strict):
    min_role: Role = Role.OPERATOR
    approvers: int = Field(default=1, ge=0, le=10, description="0 refuses such changes")


class ApprovalRules(_Strict):
    forbid_self_approval: bool = False
    mutate: RiskApproval | None = None
    destructive: RiskApproval | None = None

    def for_risk(self, risk: str) -> RiskApproval | None:
        return self.destructive if risk == "destructive" else self.mutate


class ChangeWindow(_Strict):
    timezone: str = "UTC"
    days: list[Day] = Field(default_factory=lambda: list(DAYS[:5]))
    hours: str = Field(default="00:00-24:00", description="HH:MM-HH:MM, local time")
    emergency_min_role: Role = Field(
        default=Role.ADMIN, description="Who may override the window in an emergency"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use e.g. Europe/Paris)") from exc
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        found = _HOURS.match(value.replace(" ", ""))
        if found is None:
            raise ValueError(f"hours {value!r} must look like 09:00-17:00")
        start, end = value.replace(" ", "").split("-")
        if end != "24:00" and end <= start:
            raise ValueError(f"hours {value!r} end before they start")
        return value.replace(" ", "")

    @field_validator("emergency_min_role")
    @classmethod
    def _admin_at_least(cls, value: Role) -> Role:
        if not value.at_least(Role.ADMIN):
            raise ValueError("an emergency override needs admin or owner")
        return value

    def bounds(self) -> tuple[time, time | None]:
        """Opening time and closing time (None for midnight at the end of the day)."""
        start, end = self.hours.split("-")
        opening = time.fromisoformat(start)
        return opening, None if end == "24:00" else time.fromisoformat(end)


class WorkloadRules(_Strict):
    max_replicas: int | None = Field(default=None, ge=0)
    allowed_images: list[str] | None = Field(
        default=None, description="Glob patterns; an image must match one of them"
    )
    forbid_privileged: bool = False
    forbid_capabilities: list[str] = Field(
        default_factory=list, description="Capabilities that may not be added; '*' for all"
    )
    forbid_host_mounts: bool = False
    forbid_host_network: bool = False


class PolicyRule(_Strict):
    name: str = Field(min_length=1, max_length=100)
    match: Match = Field(default_factory=Match)
    approvals: ApprovalRules | None = None
    change_window: ChangeWindow | None = None
    workloads: WorkloadRules | None = None


class PolicyDocument(_Strict):
    version: Literal[1] = 1
    rules: list[PolicyRule] = Field(default_factory=list, max_length=200)

    def matching(self, target_name: str | None, environment: str | None) -> list[PolicyRule]:
        return [r for r in self.rules if r.match.covers(target_name, environment)]


def _line_of(root: yaml.Node | None, location: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at a pydantic error location, as near as found."""
    node, line = root, None
    for key in location:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            node = node.value[key] if key < len(node.value) else None
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line


def parse_policy(text: str) -> PolicyDocument:
    """Read and check a policy document; every problem names its line."""
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        raise InvalidInput(
            f"the policy document is larger than {MAX_DOCUMENT_BYTES} bytes",
            hint="split it into fewer, broader rules",
        )
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise InvalidInput(
            f"the policy document is not valid YAML: {where}{exc.problem or exc}",
            hint="check the indentation and quoting at that line",
            details={"errors": [{"line": mark.line + 1 if mark else None, "message": str(exc)}]},
        ) from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(f"the policy document is not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput(
            "the policy document must be a mapping with 'version' and 'rules'",
            hint="start with 'version: 1' and 'rules:'",
        )
    try:
        return PolicyDocument.model_validate(data)
    except ValidationError as exc:
        errors = []
        for error in exc.errors():
            location = tuple(error["loc"])
            errors.append(
                {
                    "line": _line_of(root, location),
                    "field": ".".join(str(p) for p in location) or "document",
                    "message": error["msg"],
                }
            )
        summary = "; ".join(f"line {e['line']}: {e['field']}: {e['message']}" for e in errors[:10])
        raise InvalidInput(
            f"the policy document is invalid: {summary}",
            hint="see docs/security.md for the format; unknown keys are refused",
            details={"errors": errors},
        ) from exc
