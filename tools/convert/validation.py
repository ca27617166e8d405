"""Validation of converted output: compose schema, Kubernetes OpenAPI, ``vagrant validate``.

Kubernetes objects are checked offline against the strict JSON schemas (unknown fields
are errors) that the ``kubernetes-validate`` package bundles (Apache-2.0; 1.25 to 1.37
in 1.37.0). A version it does not bundle is an error that says which ones it has, not
a silent fallback to another version. Schemas are loaded once per kind and version.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jsonschema
import referencing
import yaml
from packaging.version import Version
from pydantic import BaseModel, Field

from tools.convert.result import Conversion
from tools.convert.tree import template_refs
from tools.stack.schema import validator as compose_validator
from windflow.errors import InvalidInput

DEFAULT_KUBERNETES_VERSION = "1.37"
VAGRANT_TIMEOUT = 120
_SCHEMAS = "kubernetes-json-schema"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 5x faster parsing


class ValidationIssue(BaseModel):
    file: str
    problem: str
    path: str = Field(default="", description="Dotted path inside the document")


class ValidationReport(BaseModel):
    target: str
    validator: str = Field(description="What checked the output, with its version")
    ok: bool
    issues: list[ValidationIssue] = Field(default_factory=list)
    skipped: str | None = Field(default=None, description="Why nothing was checked")


def bundled_kubernetes_versions() -> list[str]:
    root = resources.files("kubernetes_validate").joinpath(_SCHEMAS)
    found = {
        ".".join(entry.name[1:].split("-")[0].split(".")[:2])
        for entry in root.iterdir()
        if entry.name.startswith("v")
    }
    return sorted(found, key=Version)


def _schema_dir(version: str) -> str:
    wanted = ".".join(version.removeprefix("v").split(".")[:2])
    available = bundled_kubernetes_versions()
    if wanted not in available:
        raise InvalidInput(
            f"no offline OpenAPI schemas for Kubernetes {wanted}",
            hint=f"choose one of {', '.join(available)} (kubernetes-validate bundles these); "
            "a server of another version can still check the manifests with a dry-run apply",
        )
    return f"v{wanted}.0-local-strict"


@cache
def _registry(schema_dir: str) -> referencing.Registry[Any]:
    root = resources.files("kubernetes_validate").joinpath(_SCHEMAS, schema_dir)
    definitions = json.loads(root.joinpath("_definitions.json").read_text("utf-8"))
    resource = referencing.Resource.from_contents(
        definitions, default_specification=referencing.jsonschema.DRAFT202012
    )
    # Crawled once here: an uncrawled registry re-crawls the 1.8 MB definitions per lookup.
    return referencing.Registry().with_resource("_definitions.json", resource).crawl()


@cache
def _kind_validator(schema_dir: str, kind: str, api_version: str) -> jsonschema.Validator | None:
    group, _, version = api_version.rpartition("/")
    suffix = f"{group.split('.')[0]}-{version}" if group else version
    path = resources.files("kubernetes_validate").joinpath(
        _SCHEMAS, schema_dir, f"{kind.lower()}-{suffix}.json"
    )
    if not path.is_file():
        return None
    schema = json.loads(path.read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema, registry=_registry(schema_dir))


def _dotted(path: Any) -> str:
    return ".".join(str(part) for part in path)


def validate_kubernetes_objects(
    documents: list[tuple[str, dict[str, Any]]], version: str = DEFAULT_KUBERNETES_VERSION
) -> ValidationReport:
    schema_dir = _schema_dir(version)
    issues: list[ValidationIssue] = []
    for file, obj in documents:
        checker = _kind_validator(schema_dir, str(obj.get("kind")), str(obj.get("apiVersion")))
        if checker is None:
            issues.append(
                ValidationIssue(
                    file=file,
                    problem=f"Kubernetes {version} has no "
                    f"{obj.get('apiVersion')} {obj.get('kind')}",
                )
            )
            continue
        for error in checker.iter_errors(obj):
            issues.append(
                ValidationIssue(file=file, problem=error.message, path=_dotted(error.absolute_path))
            )
    return ValidationReport(
        target="kubernetes",
        validator=f"kubernetes-validate OpenAPI schemas {schema_dir.split('-')[0]} (strict)",
        ok=not issues,
        issues=issues,
    )


def validate_compose(files: dict[str, str], name: str) -> ValidationReport:
    document = yaml.safe_load(files[name])
    issues = [
        ValidationIssue(file=name, problem=error.message, path=_dotted(error.absolute_path))
        for error in compose_validator().iter_errors(document)
    ]
    return ValidationReport(
        target="swarm", validator="compose-spec JSON schema", ok=not issues, issues=issues
    )


def validate_vagrantfile(text: str, vagrant: str | None = None) -> ValidationReport:
    binary = vagrant or shutil.which("vagrant")
    if binary is None:
        return ValidationReport(
            target="vagrant",
            validator="vagrant validate",
            ok=True,
            skipped="vagrant is not installed: the Vagrantfile was not checked",
        )
    with tempfile.TemporaryDirectory(prefix="windflow-vagrant-") as work:
        folder = Path(work)
        (folder / "Vagrantfile").write_text(text)
        # Its own home: no plugins, boxes or state of the machine, and no network checks.
        env = {
            "PATH": os.defpath + ":" + str(Path(binary).parent),
            "HOME": work,
            "VAGRANT_HOME": str(folder / ".vagrant.d"),
            "VAGRANT_CHECKPOINT_DISABLE": "1",
            "VAGRANT_BOX_UPDATE_CHECK_DISABLE": "1",
            "VAGRANT_NO_COLOR": "1",
        }
        done = subprocess.run(
            [binary, "validate", "--ignore-provider"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=VAGRANT_TIMEOUT,
            check=False,
        )
    issues = []
    if done.returncode != 0:
        output = (done.stderr.strip() or done.stdout.strip())[-4000:]
        issues.append(ValidationIssue(file="Vagrantfile", problem=output))
    return ValidationReport(
        target="vagrant", validator="vagrant validate", ok=not issues, issues=issues
    )


def validate(
    conversion: Conversion, *, kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
) -> ValidationReport:
    """Check every output file of a conversion; issues name the file and the path."""
    target: Literal["swarm", "kubernetes", "helm", "vagrant"] = conversion.target
    if target == "swarm":
        return validate_compose(conversion.files, "docker-stack.yml")
    if target == "vagrant":
        return validate_vagrantfile(conversion.files["Vagrantfile"])
    if target == "kubernetes":
        documents = [
            (name, yaml.load(text, Loader=_LOADER))
            for name, text in conversion.files.items()
            if name != "manifests.yaml"
        ]
    else:
        documents = [(f"templates/{index}", obj) for index, obj in enumerate(conversion.objects)]
    report = validate_kubernetes_objects(documents, kubernetes_version)
    if target == "helm":
        issues = report.issues + chart_issues(conversion.files)
        report = report.model_copy(update={"target": "helm", "issues": issues, "ok": not issues})
    return report


def chart_issues(files: dict[str, str]) -> list[ValidationIssue]:
    """Chart.yaml fields Helm requires, and every value a template reads exists."""
    issues: list[ValidationIssue] = []
    chart = yaml.safe_load(files.get("Chart.yaml", "")) or {}
    for key in ("apiVersion", "name", "version"):
        if not chart.get(key):
            issues.append(ValidationIssue(file="Chart.yaml", problem=f"{key} is required"))
    if chart.get("apiVersion") not in (None, "v2"):
        issues.append(ValidationIssue(file="Chart.yaml", problem="apiVersion must be v2"))
    values = yaml.safe_load(files.get("values.yaml", "")) or {}
    if not isinstance(values, dict):
        return [*issues, ValidationIssue(file="values.yaml", problem="must be a mapping")]
    for name, text in files.items():
        if not name.startswith("templates/"):
            continue
        for path in template_refs(text):
            node: Any = values
            for key in path:
                node = node.get(key) if isinstance(node, dict) else None
            if node is None:
                issues.append(
                    ValidationIssue(
                        file=name,
                        problem=f"reads .Values.{'.'.join(path)}, which values.yaml lacks",
                    )
                )
    return issues
