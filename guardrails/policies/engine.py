"""Judging a proposed change against an organization's policy document.

Pure functions over a :class:`PolicyDocument`: which rules match a target, what they
require of approvals, and every violation of a call, each with the rule, what was found
and how to comply. The gate asks before an approval is requested, and again before an
approved change runs (a change window may have closed in between).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from guardrails.policies.document import DAYS, ChangeWindow, PolicyDocument, PolicyRule
from guardrails.policies.workloads import EffectiveConfig
from guardrails.rbac import Role


class PolicySource(Protocol):
    """Where an organization's policy document comes from (the database, in the API)."""

    async def document(self, org_id: str) -> PolicyDocument | None: ...

    async def target_name(self, org_id: str, target_id: str | None) -> str | None: ...


@dataclass(frozen=True)
class Violation:
    rule: str
    found: str
    comply: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def __str__(self) -> str:
        return f"[{self.rule}] {self.found}; to comply: {self.comply}"


@dataclass(frozen=True)
class ApprovalRequirement:
    """What the matching rules demand of the approval of one change (strictest wins).

    ``min_role`` and ``approvers`` are None where no matching rule sets them for this
    risk (the settings' defaults apply); ``approvers == 0`` refuses the change.
    """

    min_role: Role | None
    approvers: int | None
    forbid_self_approval: bool
    rules: tuple[str, ...]


def approval_requirement(rules: list[PolicyRule], risk: str) -> ApprovalRequirement | None:
    """None when no matching rule has an ``approvals`` section."""
    min_role: Role | None = None
    approvers: int | None = None
    forbid_self = False
    named: list[str] = []
    for rule in rules:
        if rule.approvals is None:
            continue
        named.append(rule.name)
        forbid_self = forbid_self or rule.approvals.forbid_self_approval
        per_risk = rule.approvals.for_risk(risk)
        if per_risk is None:
            continue
        if min_role is None or per_risk.min_role.at_least(min_role):
            min_role = per_risk.min_role
        if approvers == 0 or per_risk.approvers == 0:
            approvers = 0
        else:
            approvers = max(approvers or 0, per_risk.approvers)
    if not named:
        return None
    return ApprovalRequirement(min_role, approvers, forbid_self, tuple(named))


def _in_window(window: ChangeWindow, now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(window.timezone))
    if DAYS[local.weekday()] not in window.days:
        return False
    opening, closing = window.bounds()
    moment = local.time().replace(tzinfo=None)
    return moment >= opening and (closing is None or moment < closing)


def window_violations(
    rules: list[PolicyRule],
    now: datetime,
    role: Role | None,
    emergency: bool,
) -> tuple[list[Violation], list[str]]:
    """Violations of change windows, and the names of windows overridden in an emergency."""
    violations: list[Violation] = []
    overridden: list[str] = []
    for rule in rules:
        window = rule.change_window
        if window is None or _in_window(window, now.astimezone(UTC)):
            continue
        found = (
            f"the change is outside the change window ({', '.join(window.days)} "
            f"{window.hours} {window.timezone})"
        )
        if emergency and role is not None and role.at_least(window.emergency_min_role):
            overridden.append(rule.name)
            continue
        if emergency:
            comply = (
                f"an emergency override needs role {window.emergency_min_role.value} or "
                f"higher; you are {role.value if role else 'not a member'}"
            )
        else:
            comply = (
                "wait for the window to open, or ask an admin to make it as an emergency "
                "change (POST /tools/{name}/call with emergency: true)"
            )
        violations.append(Violation(rule.name, found, comply))
    return violations, overridden


def _image_reference(image: str) -> str:
    """docker.io/library/postgres:16 for postgres:16, as registries name it."""
    first, _, rest = image.partition("/")
    if not rest:
        return f"docker.io/library/{image}"
    if "." in first or ":" in first or first == "localhost":
        return image
    return f"docker.io/{image}"


def image_allowed(image: str, patterns: list[str]) -> bool:
    full = _image_reference(image)
    return any(fnmatchcase(image, p) or fnmatchcase(full, p) for p in patterns)


def workload_violations(rules: list[PolicyRule], config: EffectiveConfig) -> list[Violation]:
    violations: list[Violation] = []
    for rule in rules:
        limits = rule.workloads
        if limits is None:
            continue
        if limits.max_replicas is not None:
            for where, replicas in config.replicas:
                if replicas > limits.max_replicas:
                    violations.append(
                        Violation(
                            rule.name,
                            f"{where} asks for {replicas} replicas",
                            f"use at most {limits.max_replicas} replicas",
                        )
                    )
        forbidden = {c.upper().removeprefix("CAP_") for c in limits.forbid_capabilities}
        for container in config.containers:
            violations.extend(_container_violations(rule.name, limits, forbidden, container))
    return violations


def _container_violations(
    rule: str, limits: Any, forbidden: set[str], container: Any
) -> list[Violation]:
    found: list[Violation] = []
    if limits.allowed_images is not None:
        patterns = ", ".join(limits.allowed_images) or "(none)"
        if container.image is None:
            found.append(
                Violation(
                    rule,
                    f"{container.where} is built on the target instead of using an image",
                    f"push the image to an allowed registry and name it ({patterns})",
                )
            )
        elif not image_allowed(container.image, limits.allowed_images):
            found.append(
                Violation(
                    rule,
                    f"{container.where} uses image {container.image}",
                    f"use an image matching one of: {patterns}",
                )
            )
    if limits.forbid_privileged and container.privileged:
        found.append(
            Violation(
                rule,
                f"{container.where} runs privileged",
                "remove privileged: true and add only the capabilities it needs",
            )
        )
    bad_caps = [
        c
        for c in container.capabilities
        if forbidden and ("*" in forbidden or c == "ALL" or c in forbidden)
    ]
    if bad_caps:
        found.append(
            Violation(
                rule,
                f"{container.where} adds capabilities {', '.join(bad_caps)}",
                "remove them from cap_add / securityContext.capabilities.add",
            )
        )
    if limits.forbid_host_mounts and container.host_mounts:
        found.append(
            Violation(
                rule,
                f"{container.where} mounts from the host: {'; '.join(container.host_mounts)}",
                "use named volumes (or persistent volume claims) instead of host paths",
            )
        )
    if limits.forbid_host_network and container.host_namespaces:
        found.append(
            Violation(
                rule,
                f"{container.where} shares the host's {', '.join(container.host_namespaces)} "
                "namespace",
                "drop network_mode/pid/ipc: host (hostNetwork/hostPID/hostIPC) and publish "
                "ports instead",
            )
        )
    return found


def describe(violations: list[Violation]) -> str:
    lines = "; ".join(str(v) for v in violations)
    count = len(violations)
    return f"refused by policy ({count} violation{'s' if count != 1 else ''}): {lines}"


def now_utc() -> datetime:
    return datetime.now(UTC)
