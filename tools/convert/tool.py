"""The assistant's conversion tool: compose text in, files + unmapped + validation out."""

from __future__ import annotations

import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

from tools.base import ToolContext, ToolInput, tool
from tools.compose_lint import MAX_COMPOSE_CHARS, NAME
from tools.convert import Conversion, Unmapped, ValidationReport, convert_text, validate
from tools.convert.kube_names import looks_secret

REDACTED = "<redacted>"
_BASE64_PAYLOAD = re.compile(r"echo '[A-Za-z0-9+/=]+' \| base64 -d")


class ConvertInput(ToolInput):
    compose: str = Field(max_length=MAX_COMPOSE_CHARS, description="The docker-compose YAML")
    to: Literal["swarm", "kubernetes", "helm", "vagrant"] = Field(
        description="swarm: a stack file; kubernetes: manifests; helm: a chart; vagrant: a "
        "Vagrantfile"
    )
    name: str = Field(default="stack", pattern=NAME, description="Stack name")
    namespace: str | None = Field(default=None, description="Kubernetes namespace")


class ConvertOutput(BaseModel):
    stack: str
    target: str
    files: dict[str, str] = Field(description="Relative path -> content; secret values redacted")
    warnings: list[str]
    unmapped: list[Unmapped]
    validation: ValidationReport


def _redact_document(document: Any) -> Any:
    if isinstance(document, dict) and document.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if isinstance(document.get(key), dict):
                document[key] = dict.fromkeys(document[key], REDACTED)
    return document


def redacted_files(conversion: Conversion) -> dict[str, str]:
    """The files with every secret value replaced, so none reaches the model or a log."""
    files: dict[str, str] = {}
    for path, text in conversion.files.items():
        if path.startswith("secrets/"):
            files[path] = REDACTED
        elif conversion.target == "kubernetes" and "kind: Secret" in text:
            if path == "values.yaml":
                files[path] = text
            else:
                documents = [_redact_document(d) for d in yaml.safe_load_all(text)]
                files[path] = yaml.safe_dump_all(documents, sort_keys=False)
        else:
            files[path] = text
    if conversion.target == "helm" and "values.yaml" in files:
        values = yaml.safe_load(files["values.yaml"]) or {}
        for service in (values.get("services") or {}).values():
            if isinstance(service, dict) and isinstance(service.get("secretEnv"), dict):
                service["secretEnv"] = dict.fromkeys(service["secretEnv"], REDACTED)
        if isinstance(values.get("secrets"), dict):
            values["secrets"] = dict.fromkeys(values["secrets"], REDACTED)
        files["values.yaml"] = yaml.safe_dump(values, sort_keys=False)
    if "docker-stack.yml" in files:
        stack_file = yaml.safe_load(files["docker-stack.yml"])
        for service in (stack_file.get("services") or {}).values():
            environment = service.get("environment") or {}
            for key, value in environment.items():
                if isinstance(value, str) and looks_secret(key, value):
                    environment[key] = REDACTED
        files["docker-stack.yml"] = yaml.safe_dump(stack_file, sort_keys=False)
    if "Vagrantfile" in files:
        # The compose file travels base64-encoded inside; it may hold credentials.
        files["Vagrantfile"] = _BASE64_PAYLOAD.sub(
            "echo '<compose file, redacted>' | base64 -d", files["Vagrantfile"]
        )
    return files


@tool(risk="read", permission="stacks:read", targets=set())
async def convert_compose(ctx: ToolContext, args: ConvertInput) -> ConvertOutput:
    """Convert a docker-compose file into a Swarm stack file, Kubernetes manifests
    (Deployment/StatefulSet/DaemonSet, Service, Ingress, ConfigMap, Secret, PVC, probes),
    a Helm chart or a Vagrantfile, and validate the result offline (compose schema,
    Kubernetes OpenAPI schemas, vagrant validate). Lists every setting the target cannot
    express as unmapped (service, field, reason). Secret values are never shown. Needs
    no target: it only reads the text."""
    conversion = convert_text(args.compose, args.to, name=args.name, namespace=args.namespace)
    report = validate(conversion)
    return ConvertOutput(
        stack=conversion.stack,
        target=conversion.target,
        files=redacted_files(conversion),
        warnings=conversion.warnings,
        unmapped=conversion.unmapped,
        validation=report,
    )
