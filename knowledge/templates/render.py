"""Turning a template and the user's values into a compose file ready to deploy.

    rendered = render(template, {"DOMAIN": "blog.example.com"}, stack_name="blog")
    deploy_stack(stack="blog", compose=rendered.compose, env=rendered.env)

Values are checked against their parameters, defaults filled in and missing passwords
and secrets generated. Ordinary values are written into the compose text; passwords and
secrets stay ``${NAME}`` references whose values travel only in ``env``, so the compose
text can be shown, stored, diffed and linted without leaking them. The result is proven
by loading it exactly as a deployment would (``load_stack(compose, env=env)``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from knowledge.templates import document
from knowledge.templates import values as checks
from knowledge.templates.errors import ParameterError, TemplateRenderError
from knowledge.templates.model import Parameter, ParameterType, Template
from knowledge.templates.variables import MissingValue, Reference, fill, rewrite
from tools.stack import ComposeError, Stack, load_stack

STACK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
MASK = "********"
Origin = Literal["given", "default", "generated", "unset"]


class ResolvedParameter(BaseModel):
    """A parameter's value as used, safe to display: secrets are masked."""

    name: str
    type: ParameterType
    origin: Origin
    secret: bool
    display: str = Field(description="The value, or a mask for passwords and secrets")


class RenderedTemplate(BaseModel):
    """What to deploy: ``compose`` (no secrets in it) with ``env`` (the secrets)."""

    template_id: str
    stack_name: str
    compose: str = Field(description="Compose text with values filled in, secrets as ${NAME}")
    env: dict[str, str] = Field(repr=False, description="Values of the secret parameters")
    parameters: list[ResolvedParameter]
    stack: Stack = Field(repr=False)


ValueInput = Mapping[str, str | int | bool]


def _text(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_names(template: Template, given: ValueInput) -> None:
    unknown = sorted(set(given) - set(template.parameter_names))
    if unknown:
        known = ", ".join(template.parameter_names) or "none"
        raise ParameterError(
            f"template {template.id!r} has no parameter "
            + ", ".join(repr(name) for name in unknown),
            template=template.id,
            parameter=unknown[0],
            hint=f"its parameters are: {known}",
        )


def _invalid(template: Template, parameter: Parameter, found: str) -> ParameterError:
    expected = parameter.type + (f" ({parameter.description})" if parameter.description else "")
    return ParameterError(
        f"template {template.id!r}, parameter {parameter.name}: {found}",
        template=template.id,
        parameter=parameter.name,
        hint=f"give a valid {expected}",
    )


def _resolve_one(template: Template, parameter: Parameter, given: ValueInput) -> tuple[str, Origin]:
    if parameter.name in given:
        value = _text(given[parameter.name])
        if value != "" or parameter.required:
            if (found := checks.problem(parameter, value)) is not None:
                raise _invalid(template, parameter, found)
            return checks.normalize(parameter, value), "given"
    if parameter.default is not None:
        return checks.normalize(parameter, parameter.default), "default"
    if parameter.secret and parameter.generate is not None:
        generated = checks.generate(parameter)
        if generated is None:
            raise _invalid(template, parameter, "no random value satisfies its pattern")
        return generated, "generated"
    if parameter.required:
        about = f" ({parameter.description})" if parameter.description else ""
        raise ParameterError(
            f"template {template.id!r}: parameter {parameter.name}{about} is required",
            template=template.id,
            parameter=parameter.name,
            hint=f"give a {parameter.type} value for {parameter.name}",
        )
    return "", "unset"


def resolve(template: Template, given: ValueInput) -> dict[str, tuple[str, Origin]]:
    """Every parameter's value and where it came from; raises ``ParameterError``."""
    _check_names(template, given)
    return {p.name: _resolve_one(template, p, given) for p in template.parameters}


def _fill_string(text: str, plain: dict[str, str], keep: frozenset[str], numbers: set[str]) -> Any:
    whole: list[Reference] = []
    rewrite(text, lambda ref: whole.append(ref) if ref.raw == text else None)
    result = fill(text, plain, keep)
    # "replicas: ${REPLICAS}" should stay a number once filled in, as an int parameter is.
    if whole and whole[0].name in numbers and re.fullmatch(r"-?\d+", result):
        return int(result)
    return result


def _fail(template: Template, exc: ComposeError) -> TemplateRenderError:
    return TemplateRenderError(
        f"template {template.id!r} does not render to a valid compose file: {exc.message}",
        template=template.id,
        hint=exc.hint or "fix the template's compose.yaml",
        details={"compose": exc.details},
    )


def render(template: Template, values: ValueInput, *, stack_name: str) -> RenderedTemplate:
    """Fill, generate, validate and load a template; see the module docstring."""
    if not STACK_NAME.match(stack_name):
        raise ParameterError(
            f"template {template.id!r}: {stack_name!r} is not a valid stack name",
            template=template.id,
            parameter=None,
            hint="use lowercase letters, digits, '-' and '_', starting with a letter or digit",
        )
    resolved = resolve(template, values)
    secret = {p.name for p in template.parameters if p.secret}
    plain = {name: value for name, (value, _) in resolved.items() if name not in secret}
    env = {name: value for name, (value, _) in resolved.items() if name in secret}
    numbers = {p.name for p in template.parameters if p.type in ("int", "port")}
    file = f"{template.id}/compose.yaml"
    try:
        data = document.load(template.compose, file=file)
        filled = document.map_strings(
            data, lambda text: _fill_string(text, plain, frozenset(secret), numbers)
        )
        compose = document.dump(filled)
        stack = load_stack(compose, name=stack_name, file=file, env=env)
    except MissingValue as exc:
        parameter = template.parameter(exc.name)
        raise ParameterError(
            f"template {template.id!r}: parameter {exc.name} is empty"
            + (f" ({exc.message})" if exc.message else ""),
            template=template.id,
            parameter=exc.name,
            hint=f"give a value for {exc.name}"
            + (f": {parameter.description}" if parameter and parameter.description else ""),
        ) from exc
    except ComposeError as exc:
        raise _fail(template, exc) from exc
    shown = [
        ResolvedParameter(
            name=p.name,
            type=p.type,
            origin=resolved[p.name][1],
            secret=p.secret,
            display=MASK if p.secret and resolved[p.name][0] else resolved[p.name][0],
        )
        for p in template.parameters
    ]
    return RenderedTemplate(
        template_id=template.id,
        stack_name=stack_name,
        compose=compose,
        env=env,
        parameters=shown,
        stack=stack,
    )
