"""Converters from the compose stack model to Swarm, Kubernetes, Helm and Vagrant.

    conversion = convert(stack, "kubernetes", namespace="shop")   # -> Conversion
    report = validate(conversion)                                 # -> ValidationReport
    conversion = convert_text(compose_yaml, "swarm", name="shop")

Every conversion returns files (relative path -> content), warnings, and ``unmapped``:
(service, field, reason) for each setting the target cannot express.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from tools.convert.helm import to_helm
from tools.convert.kubernetes import to_kubernetes
from tools.convert.result import TARGETS, Conversion, Target, Unmapped
from tools.convert.swarm import to_swarm
from tools.convert.vagrant import to_vagrant
from tools.convert.validation import (
    DEFAULT_KUBERNETES_VERSION,
    ValidationIssue,
    ValidationReport,
    bundled_kubernetes_versions,
)
from tools.convert.validation import validate as _validate
from tools.stack import Stack, load_stack
from windflow.errors import InvalidInput

__all__ = [
    "DEFAULT_KUBERNETES_VERSION",
    "TARGETS",
    "Conversion",
    "Target",
    "Unmapped",
    "ValidationIssue",
    "ValidationReport",
    "bundled_kubernetes_versions",
    "convert",
    "convert_text",
    "validate",
]


def convert(
    stack: Stack,
    to: Literal["swarm", "kubernetes", "helm", "vagrant"],
    *,
    namespace: str | None = None,
    base_dir: Path | None = None,
) -> Conversion:
    """Convert a stack; ``base_dir`` lets configs/secrets with ``file:`` be read."""
    if to == "swarm":
        return to_swarm(stack, base_dir=base_dir)
    if to == "kubernetes":
        return to_kubernetes(stack, namespace=namespace, base_dir=base_dir)
    if to == "helm":
        return to_helm(stack, namespace=namespace, base_dir=base_dir)
    if to == "vagrant":
        return to_vagrant(stack, base_dir=base_dir)
    raise InvalidInput(f"unknown conversion target {to!r}", hint=f"use one of {', '.join(TARGETS)}")


def convert_text(
    compose_text: str,
    to: Literal["swarm", "kubernetes", "helm", "vagrant"],
    *,
    name: str = "stack",
    namespace: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Conversion:
    """Load compose YAML (ComposeError on bad input, located by line) and convert it."""
    return convert(load_stack(compose_text, name=name, env=env), to, namespace=namespace)


def validate(
    conversion: Conversion, *, kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
) -> ValidationReport:
    """Validate a conversion's output against its target's schema or tool."""
    return _validate(conversion, kubernetes_version=kubernetes_version)
