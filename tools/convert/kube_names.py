"""Names, labels and small value conversions shared by the Kubernetes builders."""

from __future__ import annotations

import hashlib
import re

from tools.adapters.kubernetes_manifests import MANAGED_BY, PART_OF
from tools.stack import Service
from tools.stack.units import parse_bytes, parse_float

NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
MANAGER = "windflow"
MIB = 1024 * 1024
# Names that usually hold credentials; their values go to a Secret, not a ConfigMap.
_SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|PASS$|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|_KEY$|DSN)",
    re.IGNORECASE,
)
_URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


def dns_name(value: str, limit: int = 63) -> str:
    """A DNS-1123 label; a short hash keeps names that had to change apart."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
    if cleaned == value and len(cleaned) <= limit:
        return cleaned
    digest = hashlib.sha256(value.encode()).hexdigest()[:6]
    return f"{cleaned[: limit - 7].strip('-') or 'x'}-{digest}"


def labels(stack: str, service: str) -> dict[str, str]:
    """The labels of every object of a service, as the Kubernetes adapter sets them."""
    return {
        NAME_LABEL: dns_name(service),
        INSTANCE_LABEL: dns_name(stack),
        PART_OF: stack,
        MANAGED_BY: MANAGER,
    }


def selector(stack: str, service: str) -> dict[str, str]:
    return {NAME_LABEL: dns_name(service), PART_OF: stack}


def looks_secret(name: str, value: str) -> bool:
    return bool(_SECRET_NAME.search(name) or _URL_WITH_PASSWORD.search(value))


def cpu(value: float) -> str:
    return f"{round(value * 1000)}m"


def memory(value: int) -> str:
    return f"{value // MIB}Mi" if value % MIB == 0 else str(value)


def resources(service: Service) -> dict[str, dict[str, str]]:
    """limits from deploy.resources.limits (or mem_limit/cpus), requests from reservations."""
    limits: dict[str, str] = {}
    requests: dict[str, str] = {}
    deploy = service.deploy
    cpus = deploy.limits.cpus
    if cpus is None and "cpus" in service.extras:
        cpus = parse_float(service.extras["cpus"])
    mem = deploy.limits.memory
    if mem is None and "mem_limit" in service.extras:
        mem = parse_bytes(service.extras["mem_limit"])
    if cpus:
        limits["cpu"] = cpu(cpus)
    if mem:
        limits["memory"] = memory(mem)
    reserved = deploy.reservations.memory
    if reserved is None and "mem_reservation" in service.extras:
        reserved = parse_bytes(service.extras["mem_reservation"])
    if deploy.reservations.cpus:
        requests["cpu"] = cpu(deploy.reservations.cpus)
    if reserved:
        requests["memory"] = memory(reserved)
    out: dict[str, dict[str, str]] = {}
    if limits:
        out["limits"] = limits
    if requests:
        out["requests"] = requests
    return out
