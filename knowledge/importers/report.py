"""Importing a whole catalog folder and reporting, per template, how it went.

Each upstream entry is imported (or its error recorded), rendered with its defaults
(required inputs without a default get a sample value, listed in ``needs_values``),
proven by ``load_stack`` inside ``render``, and linted. One broken entry never stops
the others.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field

from knowledge.importers.errors import ImportFailure
from knowledge.templates import values as checks
from knowledge.templates.errors import ParameterError, TemplateRenderError
from knowledge.templates.model import Template
from knowledge.templates.render import render
from tools.compose_lint import lint
from tools.stack import ComposeError
from windflow.errors import WindFlowError

CatalogKind = Literal["dokploy", "coolify", "caprover"]
Converter = Callable[[Path, Path], Template]
# Upstream data has any shape; these are what malformed data raises while being read.
DATA_ERRORS = (WindFlowError, ValueError, TypeError, KeyError, yaml.YAMLError)


class TemplateOutcome(BaseModel):
    """What became of one upstream entry."""

    upstream: str = Field(description="Path of the entry inside the catalog folder")
    template_id: str | None = None
    imported: bool = False
    error: str | None = None
    reason: str | None = Field(default=None, description="Short failure reason, for grouping")
    renders: bool = False
    render_error: str | None = None
    needs_values: list[str] = Field(default_factory=list)
    lint_errors: int = 0
    lint_warnings: int = 0
    warnings: list[str] = Field(default_factory=list)
    template: Template | None = Field(default=None, exclude=True, repr=False)


class ImportReport(BaseModel):
    kind: CatalogKind
    path: str
    outcomes: list[TemplateOutcome]

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def imported(self) -> int:
        return sum(o.imported for o in self.outcomes)

    @property
    def rendered(self) -> int:
        return sum(o.renders for o in self.outcomes)

    @property
    def lint_clean(self) -> int:
        return sum(o.renders and o.lint_errors == 0 for o in self.outcomes)

    def rate(self, count: int) -> float:
        return count / self.total if self.total else 0.0

    def templates(self) -> list[Template]:
        """The imported templates that render."""
        return [o.template for o in self.outcomes if o.renders and o.template is not None]

    def failure_reasons(self, top: int = 10) -> list[tuple[str, int]]:
        reasons = Counter(o.reason for o in self.outcomes if o.reason)
        return reasons.most_common(top)

    def summary(self, *, top: int = 8) -> str:
        lines = [
            f"{self.kind} catalog at {self.path}: {self.total} templates",
            f"  imported:          {self.imported} ({self.rate(self.imported):.1%})",
            f"  render + validate: {self.rendered} ({self.rate(self.rendered):.1%})",
            f"  no lint errors:    {self.lint_clean} ({self.rate(self.lint_clean):.1%})",
            f"  needing user input to render: {sum(bool(o.needs_values) for o in self.outcomes)}",
            f"  with importer warnings: {sum(bool(o.warnings) for o in self.outcomes)}",
        ]
        reasons = self.failure_reasons(top)
        if reasons:
            lines.append("  top failure reasons:")
            lines += [f"    {count:4d}  {reason}" for reason, count in reasons]
        return "\n".join(lines)


def _reason(text: str) -> str:
    """A failure message with its specifics removed, so similar failures group."""
    general = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    general = re.sub(r"\b\d+\b", "N", general)
    return general[:120]


def _compose_problem(error: WindFlowError) -> str:
    compose = error.details.get("compose") if isinstance(error.details, dict) else None
    issues = compose.get("issues") if isinstance(compose, dict) else None
    if isinstance(issues, list) and issues and isinstance(issues[0], dict):
        return str(issues[0].get("problem"))
    if isinstance(error, ComposeError):
        return error.problem
    return error.message


def check(outcome: TemplateOutcome, template: Template) -> None:
    """Render the template with defaults and lint it, recording the result on ``outcome``."""
    samples = {
        p.name: checks.sample(p)
        for p in template.parameters
        if p.required and p.default is None and not (p.secret and p.generate)
    }
    outcome.needs_values = sorted(samples)
    try:
        rendered = render(template, samples, stack_name=template.id)
    except TemplateRenderError as exc:
        outcome.render_error = exc.message
        outcome.reason = "render: " + _reason(_compose_problem(exc))
        return
    except ParameterError as exc:
        outcome.render_error = exc.message
        outcome.reason = "render: " + _reason(exc.message.split(": ", 1)[-1])
        return
    outcome.renders = True
    report = lint(rendered.compose, template.id)
    outcome.lint_errors = sum(f.severity == "error" for f in report.findings)
    outcome.lint_warnings = sum(f.severity == "warning" for f in report.findings)


def run_import(
    kind: CatalogKind, root: Path, entries: list[Path], convert: Converter
) -> ImportReport:
    outcomes = []
    for entry in entries:
        outcome = TemplateOutcome(upstream=str(entry.relative_to(root)))
        try:
            template = convert(entry, root)
        except ImportFailure as exc:
            outcome.error, outcome.reason = exc.message, exc.reason
        except DATA_ERRORS as exc:
            outcome.error = str(exc)
            problem = _compose_problem(exc) if isinstance(exc, WindFlowError) else str(exc)
            outcome.reason = f"{type(exc).__name__}: {_reason(problem)}"
        else:
            outcome.imported = True
            outcome.template_id = template.id
            outcome.warnings = list(template.warnings)
            outcome.template = template
            check(outcome, template)
        outcomes.append(outcome)
    return ImportReport(kind=kind, path=str(root), outcomes=outcomes)
