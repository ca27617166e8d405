"""``windflow lint FILE``: review a compose file or Kubernetes manifests before deploying.

Exit codes: 0 no finding at or above ``--fail-on``, 1 findings at or above it, 2 bad
input (unreadable file, not YAML objects). A file that does not parse is reported as a
finding with its line, and counts as an error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
import yaml

from tools.compose_fix import fix_compose_text
from tools.compose_lint import RANK, LintReport, lint
from tools.manifest_lint import lint_manifests_text
from windflow.errors import InvalidInput

Kind = Literal["auto", "compose", "kubernetes"]
MAX_FILE_BYTES = 2_000_000


def detect(text: str) -> Literal["compose", "kubernetes"]:
    """Kubernetes when the first YAML object has apiVersion and kind, else compose."""
    try:
        first = next((d for d in yaml.safe_load_all(text) if d is not None), None)
    except yaml.YAMLError:
        return "compose"  # the compose loader reports the syntax error with its line
    if isinstance(first, dict) and "apiVersion" in first and "kind" in first:
        return "kubernetes"
    return "compose"


def _print(report: LintReport, path: Path) -> None:
    typer.echo(f"{path}: {report.summary}")
    for finding in report.findings:
        where = f"{path}:{finding.line}" if finding.line else str(path)
        typer.echo(f"  {finding.severity:<7} {finding.rule:<28} {where}  {finding.message}")
        for line in finding.fix.splitlines():
            typer.echo(f"          fix: {line}")
    for item in report.suppressed:
        typer.echo(f"  silenced {item} (by a label or annotation)")


def lint_command(
    file: Annotated[Path, typer.Argument(help="A docker-compose file or Kubernetes YAML")],
    kind: Annotated[str, typer.Option("--kind", help="auto|compose|kubernetes")] = "auto",
    fix: Annotated[bool, typer.Option("--fix", help="Apply the safe fixes (compose)")] = False,
    write: Annotated[bool, typer.Option("--write", help="With --fix: rewrite FILE")] = False,
    fail_on: Annotated[str, typer.Option("--fail-on", help="error|warning|info")] = "error",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Lint a compose file or Kubernetes manifests: every finding has a rule id, a reason
    and a fix; --fix applies the fixes that cannot change what the stack does."""
    if kind not in ("auto", "compose", "kubernetes") or fail_on not in RANK:
        typer.echo(
            "error: --kind is auto|compose|kubernetes, --fail-on error|warning|info", err=True
        )
        raise typer.Exit(code=2)
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise InvalidInput(f"{file} is larger than {MAX_FILE_BYTES} bytes")
        text = file.read_text()
    except (OSError, UnicodeDecodeError, InvalidInput) as exc:
        typer.echo(f"error: cannot read {file}: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    chosen = detect(text) if kind == "auto" else kind
    applied: list[dict[str, object]] = []
    fixed_text: str | None = None
    try:
        if chosen == "kubernetes":
            if fix:
                typer.echo("error: --fix works on compose files only", err=True)
                raise typer.Exit(code=2)
            report = lint_manifests_text(text, path=str(file))
        elif fix:
            result = fix_compose_text(text, file.stem or "stack")
            report, fixed_text = result.report, result.compose
            applied = [a.model_dump() for a in result.applied]
        else:
            report = lint(text, file.stem or "stack")
    except InvalidInput as exc:
        typer.echo(f"error: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""), err=True)
        raise typer.Exit(code=2) from exc
    if fixed_text is not None and write and applied:
        file.write_text(fixed_text)
    if as_json:
        payload: dict[str, object] = {"kind": chosen, "report": report.model_dump(mode="json")}
        if fix:
            payload |= {"applied": applied, "fixed": None if write else fixed_text}
        typer.echo(json.dumps(payload, indent=2))
    else:
        for item in applied:
            typer.echo(f"fixed: {item['service'] or 'file'}: {item['change']}")
        if fixed_text is not None and applied and not write:
            typer.echo("--- fixed file (use --write to save it) ---")
            typer.echo(fixed_text)
        _print(report, file)
    failing = [f for f in report.findings if RANK[f.severity] <= RANK[fail_on]]
    raise typer.Exit(code=1 if failing else 0)
