"""Kubernetes manifests as WindFlow applies them: parsed, checked, labelled, compared.

Pure functions on manifest dicts; the adapter in ``tools.adapters.kubernetes`` sends them.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

from windflow.errors import InvalidInput

PART_OF = "app.kubernetes.io/part-of"
MANAGED_BY = "app.kubernetes.io/managed-by"
FIELD_MANAGER = "windflow"
REVISION = "deployment.kubernetes.io/revision"
MAX_DIFF_CHARS = 60_000
STACK_NAME = re.compile(r"^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$")
OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_VOLATILE = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid")
NOISY_ANNOTATIONS = (REVISION, "kubectl.kubernetes.io/last-applied-configuration")


class AppliedObject(BaseModel):
    document: int = Field(description="1-based position of the document in the manifests")
    kind: str
    name: str
    action: Literal["created", "configured", "unchanged"]


class ApplyOutcome(BaseModel):
    stack: str
    namespace: str
    dry_run: bool
    objects: list[AppliedObject]
    diff: str = Field(default="", description="Unified diff of live vs applied objects")
    warnings: list[str] = Field(default_factory=list)

    def named(self, action: str) -> list[str]:
        return [f"{o.kind}/{o.name}" for o in self.objects if o.action == action]


def check_stack(stack: str) -> None:
    # The name goes into label selectors: anything else could widen what a selector matches.
    if not STACK_NAME.match(stack):
        raise InvalidInput(
            f"{stack!r} is not a valid stack name",
            hint="use lowercase letters, digits, '-', '_' or '.', at most 63 characters",
        )


def check_name(name: str, where: str) -> None:
    # Names go into URL paths: "a/status" would address a subresource.
    if not OBJECT_NAME.match(name):
        raise InvalidInput(
            f"{where} has an invalid name {name!r}",
            hint="names are lowercase letters, digits, '-' and '.'",
        )


def selector(stack: str) -> str:
    return f"{PART_OF}={stack}"


def parse_manifests(manifests: list[dict[str, Any]] | str) -> list[dict[str, Any]]:
    """Documents of a multi-document YAML (or a list), ``kind: List`` expanded, checked."""
    if isinstance(manifests, str):
        try:
            loaded = [d for d in yaml.safe_load_all(manifests) if d is not None]
        except yaml.YAMLError as exc:
            raise InvalidInput(
                f"the manifests are not valid YAML: {exc}",
                hint="separate documents with '---' and check the indentation",
            ) from exc
    else:
        loaded = list(manifests)
    documents: list[Any] = []
    for document in loaded:
        if isinstance(document, dict) and document.get("kind") == "List":
            documents.extend(document.get("items") or [])
        else:
            documents.append(document)
    if not documents:
        raise InvalidInput("there are no manifests to apply", hint="pass at least one object")
    checked = []
    for number, document in enumerate(documents, 1):
        if not isinstance(document, dict):
            raise InvalidInput(
                f"document {number} is not a mapping", hint="each document is one object"
            )
        metadata = document.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        missing = [key for key in ("apiVersion", "kind") if not document.get(key)]
        if not isinstance(name, str) or not name:
            missing.append("metadata.name")
        if missing:
            raise InvalidInput(
                f"document {number} ({document.get('kind') or 'no kind'} "
                f"{name or 'without a name'}) lacks {', '.join(missing)}",
                hint="every object needs apiVersion, kind and metadata.name",
            )
        try:
            checked.append(json.loads(json.dumps(document)))  # a private, JSON-clean copy
        except (TypeError, ValueError) as exc:
            raise InvalidInput(
                f"document {number} holds values JSON cannot carry: {exc}",
                hint="use plain strings, numbers, lists and mappings",
            ) from exc
    return checked


def labelled(document: dict[str, Any], stack: str) -> dict[str, Any]:
    """The stack labels on the object and on its pod templates, so pods are found too."""
    labels = document["metadata"].get("labels") or {}
    document["metadata"]["labels"] = {**labels, PART_OF: stack, MANAGED_BY: FIELD_MANAGER}
    spec = document.get("spec") or {}
    templates = [spec.get("template")]
    job = spec.get("jobTemplate")
    if isinstance(job, dict):
        templates += [job, (job.get("spec") or {}).get("template")]
    for template in templates:
        if isinstance(template, dict):
            metadata = template.get("metadata") or {}
            metadata["labels"] = {**(metadata.get("labels") or {}), PART_OF: stack}
            template["metadata"] = metadata
    return document


def with_port_protocols(document: dict[str, Any]) -> dict[str, Any]:
    """Fill ``protocol: TCP`` on port lists: 1.20's apply rejects list keys it would default."""

    def ports(items: Any) -> None:
        for port in items if isinstance(items, list) else []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")

    def pod_spec(spec: Any) -> None:
        if isinstance(spec, dict):
            for key in ("containers", "initContainers"):
                for container in spec.get(key) or []:
                    if isinstance(container, dict):
                        ports(container.get("ports"))

    spec = document.get("spec")
    if not isinstance(spec, dict):
        return document
    if document["kind"] == "Service":
        ports(spec.get("ports"))
    elif document["kind"] == "Pod":
        pod_spec(spec)
    pod_spec((spec.get("template") or {}).get("spec"))
    job = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    pod_spec(job.get("spec"))
    return document


def comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without what the server changes on every write, secret values masked."""
    cleaned = {k: v for k, v in obj.items() if k != "status"}
    metadata = {k: v for k, v in obj.get("metadata", {}).items() if k not in _VOLATILE}
    annotations = {
        k: v
        for k, v in (metadata.pop("annotations", None) or {}).items()
        if k not in NOISY_ANNOTATIONS
    }
    if annotations:
        metadata["annotations"] = annotations
    cleaned["metadata"] = metadata
    if obj.get("kind") == "Secret":
        # Approvers see that a secret value changes, never the value itself.
        for field in ("data", "stringData"):
            if isinstance(cleaned.get(field), dict):
                cleaned[field] = {k: _fingerprint(v) for k, v in cleaned[field].items()}
    return cleaned


def _fingerprint(value: Any) -> str:
    return "<redacted sha256:" + hashlib.sha256(str(value).encode()).hexdigest()[:12] + ">"


def dump(obj: dict[str, Any] | None) -> list[str]:
    return [] if obj is None else yaml.safe_dump(obj, sort_keys=True).splitlines(keepends=True)


def diff_objects(live: dict[str, Any] | None, result: dict[str, Any], name: str) -> list[str]:
    return list(
        difflib.unified_diff(
            dump(comparable(live)) if live else [],
            dump(comparable(result)),
            f"{name} (live)" if live else "/dev/null",
            f"{name} (after apply)",
        )
    )


def bounded_diff(lines: list[str]) -> str:
    # The start of a diff matters as much as its end: cut the tail, with a marker.
    text = "".join(lines)
    if len(text) <= MAX_DIFF_CHARS:
        return text
    return text[:MAX_DIFF_CHARS] + f"\n[... {len(text) - MAX_DIFF_CHARS} more characters ...]\n"
