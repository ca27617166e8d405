"""What every conversion returns: the files, the warnings, and what could not be mapped."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Target = Literal["swarm", "kubernetes", "helm", "vagrant"]
TARGETS: tuple[Target, ...] = ("swarm", "kubernetes", "helm", "vagrant")


class Unmapped(BaseModel):
    """One setting the target cannot express; reported, never silently dropped."""

    service: str | None = Field(description="Service name, or None for a stack-level setting")
    field: str = Field(description="Compose field, e.g. network_mode or configs.app")
    reason: str


class Conversion(BaseModel):
    """A converted stack: relative path -> file content, plus what did not carry over."""

    stack: str
    target: Target
    files: dict[str, str]
    warnings: list[str] = Field(default_factory=list)
    unmapped: list[Unmapped] = Field(default_factory=list)
    objects: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Kubernetes and Helm: the manifests as objects (default values)",
        exclude=True,
    )

    def add_unmapped(self, service: str | None, field: str, reason: str) -> None:
        self.unmapped.append(Unmapped(service=service, field=field, reason=reason))


class Notes:
    """Collects warnings and unmapped settings while a converter walks the stack."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.unmapped: list[Unmapped] = []

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def unmapped_field(self, service: str | None, field: str, reason: str) -> None:
        entry = Unmapped(service=service, field=field, reason=reason)
        if entry not in self.unmapped:
            self.unmapped.append(entry)
