"""The draft every importer fills: parameters understood, notes on what was not.

An importer reads one upstream entry, declares parameters on a ``Draft``, converts the
compose data to ``${PARAM}`` form and calls ``Draft.finish`` to get a validated
``Template``. Anything upstream without an equivalent here becomes a warning on the
template or an ``ImportFailure``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from knowledge.importers.compose_fixes import fix_compose
from knowledge.importers.errors import ImportFailure
from knowledge.importers.naming import guess_type
from knowledge.templates import document
from knowledge.templates import values as checks
from knowledge.templates.model import (
    SECRET_TYPES,
    Links,
    Parameter,
    ParameterType,
    Source,
    SourceKind,
    Template,
)
from knowledge.templates.variables import references

LICENSES: dict[str, str] = {"dokploy": "MIT", "coolify": "Apache-2.0", "caprover": "Apache-2.0"}


@dataclass
class Draft:
    """An upstream template on its way to becoming a ``Template``."""

    kind: SourceKind
    upstream: str
    path: str
    attribution: str
    warnings: list[str] = field(default_factory=list)
    parameters: dict[str, Parameter] = field(default_factory=dict)
    generate_missing_passwords: bool = True

    def warn(self, note: str) -> None:
        if note not in self.warnings:
            self.warnings.append(note)

    def add(self, parameter: Parameter) -> str:
        """Declare a parameter; a different one with the same name gets a suffix."""
        name = parameter.name
        existing = self.parameters.get(name)
        if existing is None or existing == parameter:
            self.parameters[name] = parameter
            return name
        number = 2
        while f"{name}_{number}" in self.parameters:
            number += 1
        renamed = parameter.model_copy(update={"name": f"{name}_{number}"})
        self.parameters[renamed.name] = renamed
        return renamed.name

    def typed(
        self,
        name: str,
        value: str | None,
        *,
        description: str = "",
        required: bool = False,
        kind: ParameterType | None = None,
        pattern: str | None = None,
        generate_missing: bool = True,
    ) -> Parameter:
        """A parameter for an upstream variable: typed, literal secrets made generated.

        A password without an upstream value is generated too (``generate_missing``), as
        a database password left empty would be; other secrets stay empty until given.
        """
        chosen = kind or guess_type(name, value)
        if chosen in SECRET_TYPES:
            literal = bool(value)
            generated = literal or (chosen == "password" and generate_missing)
            if literal:
                self.warn(
                    f"{name}: the upstream default is a fixed {chosen}; it is generated "
                    "per install instead"
                )
            return Parameter(
                name=name,
                type=chosen,
                description=description,
                required=required and not generated,
                generate=32 if generated else None,
                pattern=pattern,
            )
        default = value if value is not None else None
        candidate = Parameter(name=name, type=chosen, description=description)
        if default is not None and checks.problem(candidate, default) is not None:
            chosen = "string"
        if pattern and default is not None and not re.fullmatch(pattern, default):
            self.warn(f"{name}: the upstream default does not match its pattern; pattern dropped")
            pattern = None
        return Parameter(
            name=name,
            type=chosen,
            description=description,
            default=default,
            required=required and default is None,
            pattern=pattern,
        )

    def finish(
        self,
        *,
        template_id: str,
        name: str,
        description: str,
        category: str,
        compose: dict[str, Any],
        tags: list[str] | None = None,
        version: str | None = None,
        links: dict[str, str | None] | None = None,
        logo: str | None = None,
        note_undeclared: bool = True,
    ) -> Template:
        """Fix the compose data, declare what it references, and validate the template.

        Variables the compose file references without a parameter become parameters
        typed from their name and ``${NAME:-default}``; ``note_undeclared`` records that
        as a warning (for catalogs where it means a definition was missing).
        """
        fixed = fix_compose(compose, self)
        text = document.dump(fixed)
        found: dict[str, tuple[str | None, bool]] = {}
        for value in document.strings(fixed):
            for ref in references(value):
                default = ref.argument if ref.operator in (":-", "-") else None
                required = ref.operator in (":?", "?")
                before = found.get(ref.name, (None, False))
                found[ref.name] = (before[0] or default, before[1] or required)
        for variable, (_, required) in found.items():
            declared = self.parameters.get(variable)
            # "${NAME:?}" in the compose file makes a parameter required, whatever upstream said.
            if declared is None or declared.required or not required:
                continue
            if declared.default is None and not declared.generate:
                self.parameters[variable] = declared.model_copy(update={"required": True})
        undeclared = sorted(set(found) - set(self.parameters))
        for variable in undeclared:
            default, required = found[variable]
            literal = default if default is not None and "$" not in default else None
            parameter = self.typed(
                variable,
                literal,
                required=required,
                generate_missing=self.generate_missing_passwords,
            )
            self.add(parameter)
        if undeclared and note_undeclared:
            self.warn(
                "variables the compose file uses without an upstream definition became "
                f"parameters: {', '.join(undeclared)}"
            )
        used = set(found)
        try:
            return Template(
                id=template_id,
                name=name[:100] or template_id,
                description=description.strip() or name,
                category=category,
                tags=tags or [],
                version=version or None,
                links=Links(**(links or {})),
                logo=logo,
                parameters=[p for n, p in self.parameters.items() if n in used],
                compose=text,
                source=Source(
                    kind=self.kind,
                    license=LICENSES[self.kind],
                    attribution=self.attribution,
                    path=self.path,
                ),
                warnings=self.warnings,
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
                for error in exc.errors()
            )
            raise ImportFailure(
                f"{self.upstream}: not a valid template: {problems}", reason="invalid template"
            ) from exc
