"""Values given for parameters: each mistake is an error naming the template and the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from knowledge.templates import (
    Parameter,
    ParameterError,
    Template,
    TemplateCatalog,
    TemplateRenderError,
    render,
    resolve,
)

COMPOSE = """\
services:
  app:
    image: example/app:1.2.3
    environment:
      ADMIN_EMAIL: ${ADMIN_EMAIL}
      LOG_LEVEL: ${LOG_LEVEL}
      PUBLIC_URL: ${PUBLIC_URL}
      DOMAIN: ${DOMAIN}
      FEATURE: ${FEATURE}
      WORKERS: ${WORKERS}
      API_TOKEN: ${API_TOKEN}
      LICENSE_KEY: ${LICENSE_KEY:?a license key is needed}
      NOTE: "price in $$: ${NOTE:-none}"
    ports:
      - "127.0.0.1:${PORT}:8080"
"""


def _template() -> Template:
    return Template(
        id="demo",
        name="Demo",
        description="A template for parameter tests",
        category="devtools",
        compose=COMPOSE,
        parameters=[
            Parameter(name="ADMIN_EMAIL", type="email", default="admin@example.com"),
            Parameter(
                name="LOG_LEVEL", type="enum", choices=["debug", "info", "warn"], default="info"
            ),
            Parameter(name="PUBLIC_URL", type="url", default="https://demo.example.com"),
            Parameter(name="DOMAIN", type="domain", default="demo.example.com"),
            Parameter(name="FEATURE", type="bool", default="false"),
            Parameter(name="WORKERS", type="int", default="2", min=1, max=16),
            Parameter(name="API_TOKEN", type="secret", generate=40, charset="hex"),
            Parameter(
                name="LICENSE_KEY", type="secret", required=True, description="From the vendor"
            ),
            Parameter(name="NOTE"),
            Parameter(name="PORT", type="port", default="8080"),
        ],
    )


DEMO = _template()
LICENSE = {"LICENSE_KEY": "lic-123456"}


def _error(values: dict[str, str | int | bool]) -> ParameterError:
    with pytest.raises(ParameterError) as caught:
        render(DEMO, {**LICENSE, **values}, stack_name="demo")
    return caught.value


def test_valid_values_render() -> None:
    rendered = render(
        DEMO,
        {**LICENSE, "FEATURE": "yes", "WORKERS": 4, "DOMAIN": "Demo.Example.COM", "PORT": 9000},
        stack_name="demo",
    )
    env = rendered.stack.services["app"].environment
    assert env["FEATURE"] == "true"
    assert env["WORKERS"] == "4"
    assert env["DOMAIN"] == "demo.example.com"
    assert env["NOTE"] == "price in $: none"
    assert env["LICENSE_KEY"] == "lic-123456"
    token = env["API_TOKEN"] or ""
    assert len(token) == 40 and int(token, 16) >= 0
    assert rendered.env == {"API_TOKEN": env["API_TOKEN"], "LICENSE_KEY": "lic-123456"}
    assert "lic-123456" not in rendered.compose
    origins = {p.name: p.origin for p in rendered.parameters}
    assert origins["API_TOKEN"] == "generated" and origins["WORKERS"] == "given"
    assert origins["NOTE"] == "unset" and origins["LOG_LEVEL"] == "default"


def test_unknown_parameter_is_rejected_with_the_known_ones() -> None:
    error = _error({"ADMIN_MAIL": "x@example.com"})
    assert "'demo'" in error.message and "ADMIN_MAIL" in error.message
    assert error.parameter == "ADMIN_MAIL" and error.template == "demo"
    assert error.hint is not None and "ADMIN_EMAIL" in error.hint and "PORT" in error.hint
    assert error.status == 422


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("PORT", "70000", "out of range"),
        ("PORT", "http", "not a whole number"),
        ("PORT", 0, "out of range"),
        ("ADMIN_EMAIL", "not-an-email", "not an email address"),
        ("LOG_LEVEL", "verbose", "not one of: debug, info, warn"),
        ("PUBLIC_URL", "demo.example.com", "not an absolute URL"),
        ("DOMAIN", "bad domain!", "not a domain name"),
        ("FEATURE", "maybe", "not true or false"),
        ("WORKERS", "64", "between 1 and 16"),
    ],
)
def test_invalid_values_name_template_and_parameter(
    field: str, value: str | int, problem: str
) -> None:
    error = _error({field: value})
    assert error.message.startswith(f"template 'demo', parameter {field}: ")
    assert problem in error.message
    assert error.parameter == field
    assert error.hint is not None and error.hint.startswith("give a valid")


def test_missing_required_parameter_says_which_and_why() -> None:
    with pytest.raises(ParameterError) as caught:
        render(DEMO, {}, stack_name="demo")
    error = caught.value
    assert error.parameter == "LICENSE_KEY"
    assert "'demo'" in error.message and "LICENSE_KEY" in error.message
    assert "required" in error.message and "From the vendor" in error.message


def test_empty_value_for_optional_parameter_falls_back_to_default() -> None:
    resolved = resolve(DEMO, {**LICENSE, "LOG_LEVEL": ""})
    assert resolved["LOG_LEVEL"] == ("info", "default")


def test_invalid_stack_name_is_rejected() -> None:
    with pytest.raises(ParameterError) as caught:
        render(DEMO, LICENSE, stack_name="Bad Name")
    assert "stack name" in caught.value.message


def test_a_compose_file_that_does_not_load_is_a_render_error() -> None:
    broken = DEMO.model_copy(update={"compose": COMPOSE.replace("image:", "imag:")})
    with pytest.raises(TemplateRenderError) as caught:
        render(broken, LICENSE, stack_name="demo")
    assert "'demo'" in caught.value.message and "imag" in caught.value.message


def test_pattern_is_enforced_on_values_and_generated_secrets() -> None:
    template = TemplateCatalog.load().get("postgres")
    with pytest.raises(ParameterError) as caught:
        render(template, {"POSTGRES_USER": "Robert'); DROP"}, stack_name="db")
    assert "POSTGRES_USER" in caught.value.message and "pattern" in caught.value.message
    with pytest.raises(ParameterError) as short:
        render(template, {"POSTGRES_PASSWORD": "short"}, stack_name="db")
    assert "shorter than the minimum of 12" in short.value.message


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"type": "password", "default": "changeme"}, "cannot have a default"),
        ({"type": "string", "generate": 16}, "generate is only for password and secret"),
        ({"type": "enum"}, "choices are required"),
        ({"type": "port", "default": "99999"}, "the default 99999 is out of range"),
        ({"type": "string", "pattern": "("}, "not a valid regex"),
        ({"type": "int", "min": 5, "max": 1}, "min 5 is greater than max 1"),
    ],
)
def test_inconsistent_parameter_declarations_are_refused(
    fields: dict[str, object], problem: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Parameter.model_validate({"name": "VALUE", **fields})
    assert problem in str(caught.value)


def test_template_must_declare_what_its_compose_references() -> None:
    with pytest.raises(ValidationError) as caught:
        DEMO.model_copy(update={}).model_validate(
            {**DEMO.model_dump(), "parameters": [p.model_dump() for p in DEMO.parameters[1:]]}
        )
    assert "ADMIN_EMAIL, which is not a parameter" in str(caught.value)
