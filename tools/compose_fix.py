"""Apply the linter's fixes that cannot change what a stack does, and say which were applied.

Safe means: the stack runs the same images with the same commands, data and reachable
ports for its users. Dropping the obsolete ``version:`` key, a restart policy, the
``no-new-privileges`` option, a healthcheck for well-known databases, and binding a
database's published port to 127.0.0.1 (the one change of reach: only this host can
connect, which is what the finding asks) qualify. Pinning images, limits, users, a
read-only root filesystem and dropped capabilities depend on the image and stay advice.
The file is re-written from its parsed form: comments and anchors are not kept.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from pydantic import BaseModel, Field

from tools.base import ToolContext, tool
from tools.compose_lint import _DB_HEALTHCHECKS, LintInput, LintReport, _database, lint
from tools.stack.loader import parse

SAFE_RULES = (
    "obsolete_version",
    "missing_restart_policy",
    "privilege_escalation",
    "missing_healthcheck",
    "database_port_exposed",
)


class AppliedFix(BaseModel):
    rule: str
    service: str | None
    change: str


class FixResult(BaseModel):
    compose: str = Field(description="The fixed compose file (comments are not kept)")
    applied: list[AppliedFix]
    report: LintReport = Field(description="The linter's report on the fixed file")


def _bind_locally(port: Any) -> Any:
    """'5432:5432' -> '127.0.0.1:5432:5432'; long syntax gets host_ip."""
    if isinstance(port, dict):
        if port.get("published") is not None and not port.get("host_ip"):
            return {**port, "host_ip": "127.0.0.1"}
        return port
    text = str(port)
    head = text.split("/", 1)[0]
    parts = head.split(":")
    if len(parts) == 2:
        return f"127.0.0.1:{text}"
    if len(parts) == 3 and parts[0] in ("", "0.0.0.0"):
        return "127.0.0.1:" + text.split(":", 1)[1]
    return port


def _fix_service(
    name: str, raw: dict[str, Any], rules: set[str], applied: list[AppliedFix]
) -> None:
    if "missing_restart_policy" in rules and "restart" not in raw:
        raw["restart"] = "unless-stopped"
        applied.append(
            AppliedFix(
                rule="missing_restart_policy", service=name, change="restart: unless-stopped"
            )
        )
    if "privilege_escalation" in rules:
        options = list(raw.get("security_opt") or [])
        options.append("no-new-privileges:true")
        raw["security_opt"] = options
        applied.append(
            AppliedFix(
                rule="privilege_escalation",
                service=name,
                change="security_opt: [no-new-privileges:true]",
            )
        )
    database = _database(str(raw.get("image") or ""))
    if "missing_healthcheck" in rules and database in _DB_HEALTHCHECKS:
        test = json.loads(_DB_HEALTHCHECKS[database].replace("'", '"'))
        raw["healthcheck"] = {
            "test": test,
            "interval": "10s",
            "timeout": "3s",
            "retries": 5,
            "start_period": "20s",
        }
        applied.append(
            AppliedFix(
                rule="missing_healthcheck", service=name, change=f"healthcheck for {database}"
            )
        )
    if "database_port_exposed" in rules and isinstance(raw.get("ports"), list):
        raw["ports"] = [_bind_locally(p) for p in raw["ports"]]
        applied.append(
            AppliedFix(
                rule="database_port_exposed",
                service=name,
                change="published ports bound to 127.0.0.1",
            )
        )


def fix_compose_text(compose: str, name: str = "stack") -> FixResult:
    """The compose text with every safe fix applied; unchanged when none applies."""
    report = lint(compose, name)
    wanted: dict[str | None, set[str]] = {}
    for finding in report.findings:
        if finding.rule in SAFE_RULES:
            wanted.setdefault(finding.service, set()).add(finding.rule)
    if not wanted:
        return FixResult(compose=compose, applied=[], report=report)
    data = dict(parse(compose).data)
    applied: list[AppliedFix] = []
    if "obsolete_version" in wanted.get(None, set()):
        data.pop("version", None)
        applied.append(AppliedFix(rule="obsolete_version", service=None, change="removed version:"))
    services = data.get("services") or {}
    for service, rules in wanted.items():
        if service is not None and isinstance(services.get(service), dict):
            _fix_service(service, services[service], rules, applied)
    fixed = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return FixResult(compose=fixed, applied=applied, report=lint(fixed, name))


@tool(risk="read", permission="stacks:read", targets=set())
async def fix_compose(ctx: ToolContext, args: LintInput) -> FixResult:
    """Apply the linter's safe fixes to a docker-compose file and return the fixed text with
    the list of changes: drop the obsolete version: key, add restart: unless-stopped and
    no-new-privileges, a healthcheck for well-known databases, and bind published database
    ports to 127.0.0.1. Changes nothing anywhere; deploying the result is a separate call
    that needs approval. Comments in the file are not kept."""
    return fix_compose_text(args.compose, args.name)
