"""The compose cases of the converter tests and their golden outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tools.convert import Conversion, convert
from tools.stack import Stack, load_stack_file

HERE = Path(__file__).parent
CASES = HERE / "cases"
GOLDEN = HERE / "golden"
NAMES = sorted(p.name for p in CASES.iterdir() if (p / "docker-compose.yml").is_file())
TARGETS = ("swarm", "kubernetes", "helm", "vagrant")


def load(case: str) -> Stack:
    return load_stack_file(CASES / case / "docker-compose.yml")


def converted(case: str, target: str, namespace: str | None = None) -> Conversion:
    return convert(load(case), target, namespace=namespace, base_dir=CASES / case)  # type: ignore[arg-type]


def report(conversion: Conversion) -> str:
    data = {
        "warnings": conversion.warnings,
        "unmapped": [u.model_dump() for u in conversion.unmapped],
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def check_golden(case: str, target: str, conversion: Conversion) -> None:
    """Compare with tests/convert/golden/<case>/<target>/; WINDFLOW_UPDATE_GOLDEN=1 rewrites."""
    folder = GOLDEN / case / target
    expected = {**conversion.files, "_report.json": report(conversion)}
    if os.environ.get("WINDFLOW_UPDATE_GOLDEN") == "1":
        if folder.exists():
            for old in sorted(folder.rglob("*"), reverse=True):
                old.unlink() if old.is_file() else old.rmdir()
        for relative, content in expected.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    stored = {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*") if p.is_file()}
    assert sorted(stored) == sorted(expected), f"{case}/{target}: files differ"
    for relative, content in expected.items():
        assert stored[relative] == content, f"{case}/{target}/{relative} differs from golden"
