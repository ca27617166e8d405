"""One object tree for both Kubernetes manifests and the Helm chart.

Builders put :class:`Ref` leaves where a chart user may change a value (images,
replicas, resources, env, ingress hosts...). :func:`resolve` replaces each leaf with its
default, giving the plain manifests of ``to_kubernetes``; :func:`template` writes the
same tree as a Helm template with ``{{ toJson (index .Values ...) }}`` in place of each
leaf. ``toJson`` output is valid YAML for strings, numbers, lists and mappings alike, so
every leaf renders to exactly the default it stands for: the chart with its default
values renders the manifests ``to_kubernetes`` writes, by construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

_TOKEN = "__windflow_ref_{}__"
# libyaml's emitter writes the same YAML as the pure-Python one, several times faster.
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True)
class Ref:
    """A value of ``values.yaml`` at ``path``; ``default`` is written there."""

    path: tuple[str, ...]
    default: Any


@dataclass(frozen=True)
class ReleaseNamespace:
    """``metadata.namespace``: the conversion's namespace, or the Helm release's."""


NAMESPACE = ReleaseNamespace()


class Values:
    """The chart's values.yaml, filled as builders create refs."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def ref(self, *path: str, default: Any) -> Ref:
        node = self.data
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = default
        return Ref(tuple(path), default)

    def lookup(self, path: tuple[str, ...]) -> Any:
        node: Any = self.data
        for key in path:
            node = node[key]
        return node


def resolve(tree: Any, namespace: str | None) -> Any:
    """The tree with every leaf replaced by its default; no namespace drops the key."""
    if isinstance(tree, Ref):
        return resolve(tree.default, namespace)
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            if value is NAMESPACE:
                if namespace is not None:
                    out[key] = namespace
                continue
            out[key] = resolve(value, namespace)
        return out
    if isinstance(tree, list):
        return [resolve(item, namespace) for item in tree]
    return tree


def refs(tree: Any) -> list[Ref]:
    """Every leaf of the tree, in document order."""
    if isinstance(tree, Ref):
        return [tree]
    if isinstance(tree, dict):
        return [ref for value in tree.values() for ref in refs(value)]
    if isinstance(tree, list):
        return [ref for item in tree for ref in refs(item)]
    return []


def _expression(leaf: Ref | ReleaseNamespace) -> str:
    if isinstance(leaf, ReleaseNamespace):
        return "{{ toJson .Release.Namespace }}"
    # index works for every key, also those with '-' that .Values.a.b cannot name.
    keys = " ".join('"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"' for key in leaf.path)
    return "{{ toJson (index .Values " + keys + ") }}"


def template(tree: Any) -> str:
    """The tree as Helm template text: YAML with one expression per leaf."""
    leaves: list[Ref | ReleaseNamespace] = []

    def mark(node: Any) -> Any:
        if isinstance(node, Ref | ReleaseNamespace):
            leaves.append(node)
            return _TOKEN.format(len(leaves) - 1)
        if isinstance(node, dict):
            return {key: mark(value) for key, value in node.items()}
        if isinstance(node, list):
            return [mark(item) for item in node]
        return node

    text = yaml.dump(mark(tree), Dumper=DUMPER, sort_keys=False, allow_unicode=True, width=10_000)
    for index in reversed(range(len(leaves))):
        text = text.replace(_TOKEN.format(index), _expression(leaves[index]))
    return text


def template_refs(text: str) -> list[tuple[str, ...]]:
    """The values paths a template reads (tests check each exists in values.yaml)."""
    found = []
    for match in re.finditer(r"\(index \.Values((?: \"(?:[^\"\\]|\\.)*\")+)\)", text):
        found.append(tuple(re.findall(r"\"((?:[^\"\\]|\\.)*)\"", match.group(1))))
    return found
