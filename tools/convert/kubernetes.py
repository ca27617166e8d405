"""Compose stack -> Kubernetes manifests (one file per object, and an all-in-one file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tools.convert.kube_build import Builder
from tools.convert.result import Conversion
from tools.convert.tree import DUMPER, Values, resolve

ALL_IN_ONE = "manifests.yaml"


def build_tree(stack: Any, base_dir: Path | None) -> tuple[list[dict[str, Any]], Values, Builder]:
    builder = Builder(stack, base_dir)
    tree = builder.build()
    return tree, builder.values, builder


def file_name(obj: dict[str, Any]) -> str:
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


def dump(obj: dict[str, Any]) -> str:
    return yaml.dump(obj, Dumper=DUMPER, sort_keys=False, allow_unicode=True, width=10_000)


def to_kubernetes(
    stack: Any, *, namespace: str | None = None, base_dir: Path | None = None
) -> Conversion:
    tree, _values, builder = build_tree(stack, base_dir)
    objects: list[dict[str, Any]] = resolve(tree, namespace)
    texts = [dump(obj) for obj in objects]
    files = {
        f"{index:02d}-{file_name(obj)}": text
        for index, (obj, text) in enumerate(zip(objects, texts, strict=True), 1)
    }
    files[ALL_IN_ONE] = "---\n".join(texts)
    return Conversion(
        stack=stack.name,
        target="kubernetes",
        files=files,
        warnings=builder.notes.warnings,
        unmapped=builder.notes.unmapped,
        objects=objects,
    )
