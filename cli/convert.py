"""``windflow convert FILE --to k8s|kubernetes|swarm|helm|vagrant``: convert a compose file.

Exit codes: 0 converted and valid, 1 converted with unmapped settings or validation
errors (both are listed), 2 bad input (file, YAML path and line are printed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal, cast

import typer

from tools.convert import TARGETS, convert, validate
from tools.convert.tool import redacted_files
from tools.stack import ComposeError, load_stack_file
from windflow.errors import InvalidInput

ALIASES = {"k8s": "kubernetes"}
TargetName = Literal["swarm", "kubernetes", "helm", "vagrant"]


def convert_command(
    file: Annotated[Path, typer.Argument(help="The docker-compose file")],
    to: Annotated[str, typer.Option("--to", help="k8s|kubernetes|swarm|helm|vagrant")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the files into DIR")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", help="Kubernetes NS")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Convert a compose file to a Swarm stack, Kubernetes manifests, a Helm chart or a
    Vagrantfile, validate the result, and list what could not be mapped."""
    target = ALIASES.get(to, to)
    if target not in TARGETS:
        typer.echo(f"error: unknown target {to!r}; use k8s, {', '.join(TARGETS)}", err=True)
        raise typer.Exit(code=2)
    try:
        stack = load_stack_file(file)
        conversion = convert(
            stack, cast(TargetName, target), namespace=namespace, base_dir=file.parent
        )
        report = validate(conversion)
    except ComposeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    except (InvalidInput, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    if out is not None:
        for relative, content in conversion.files.items():
            path = out / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    failed = bool(conversion.unmapped) or not report.ok
    if as_json:
        conversion_data = conversion.model_dump(mode="json")
        # Files are written in full to --out only: JSON goes to logs and terminals.
        conversion_data["files"] = redacted_files(conversion)
        payload = {
            "conversion": conversion_data,
            "validation": report.model_dump(mode="json"),
        }
        typer.echo(json.dumps(payload, indent=2))
        raise typer.Exit(code=1 if failed else 0)
    if out is None:
        for relative, content in conversion.files.items():
            typer.echo(f"# --- {relative}")
            typer.echo(content, nl=not content.endswith("\n"))
    else:
        typer.echo(f"wrote {len(conversion.files)} files to {out}", err=True)
    for warning in conversion.warnings:
        typer.echo(f"warning: {warning}", err=True)
    for item in conversion.unmapped:
        typer.echo(f"unmapped: {item.service or '(stack)'}: {item.field}: {item.reason}", err=True)
    for issue in report.issues:
        typer.echo(f"invalid: {issue.file} {issue.path}: {issue.problem}", err=True)
    if report.skipped:
        typer.echo(f"not validated: {report.skipped}", err=True)
    if failed:
        why = []
        if conversion.unmapped:
            why.append(f"{len(conversion.unmapped)} unmapped settings")
        if not report.ok:
            why.append(f"{len(report.issues)} validation errors")
        typer.echo(f"converted with {' and '.join(why)}", err=True)
        raise typer.Exit(code=1)
