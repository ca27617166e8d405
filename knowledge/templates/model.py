"""What a marketplace template is: metadata, typed parameters and a compose file.

A template's compose file uses ``${PARAM}`` interpolation; every name it references is
one of its parameters. Passwords and secrets never have a written default: they are
generated at render time unless the user gives a value, so no two installs share one.
"""

from __future__ import annotations

import re
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from knowledge.templates import values
from knowledge.templates.variables import referenced_names

Category = Literal[
    "database",
    "cache",
    "web",
    "cms",
    "devtools",
    "automation",
    "monitoring",
    "storage",
    "auth",
    "security",
    "messaging",
    "analytics",
    "collaboration",
]
CATEGORIES: tuple[str, ...] = get_args(Category)

ParameterType = Literal[
    "string", "int", "port", "bool", "password", "secret", "domain", "email", "enum", "url"
]
PARAMETER_TYPES: tuple[str, ...] = get_args(ParameterType)
SECRET_TYPES = ("password", "secret")

SourceKind = Literal["windflow", "dokploy", "coolify", "caprover"]
Charset = Literal["alnum", "hex", "base64", "uuid"]

SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,62})$"
PARAMETER_NAME = r"^[A-Z][A-Z0-9_]{0,63}$"
_URL = re.compile(r"^https?://[^\s/]+\S*$")


def _url(value: str | None) -> str | None:
    if value is not None and not _URL.match(value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


class Parameter(BaseModel):
    """One input of a template, referenced in its compose file as ``${NAME}``.

    ``min``/``max`` bound the number for ``int`` and ``port`` and the length for text
    types. ``generate`` (passwords and secrets only) is the length of the random value
    made when none is given; ``charset`` picks its alphabet.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=PARAMETER_NAME, description="UPPER_SNAKE name used as ${NAME}")
    description: str = ""
    type: ParameterType = "string"
    default: str | None = None
    required: bool = False
    choices: list[str] = Field(default_factory=list, description="Allowed values of an enum")
    min: int | None = None
    max: int | None = None
    pattern: str | None = Field(default=None, description="Python regex the value must match")
    generate: int | None = Field(default=None, ge=4, le=256)
    charset: Charset = "alnum"

    @field_validator("default", mode="before")
    @classmethod
    def _scalar_default(cls, value: Any) -> Any:
        # YAML gives 5432 and true; the value of a parameter is always text.
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return value

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern {value!r} is not a valid regex: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Parameter:
        if self.secret and self.default is not None:
            raise ValueError(
                f"{self.name} is a {self.type} and cannot have a default (it would be the "
                "same on every install); use generate: <length> instead"
            )
        if self.generate is not None and not self.secret:
            raise ValueError(f"{self.name}: generate is only for password and secret types")
        if (self.type == "enum") != bool(self.choices):
            raise ValueError(f"{self.name}: choices are required for, and only for, type enum")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"{self.name}: min {self.min} is greater than max {self.max}")
        if self.default is not None and (found := values.problem(self, self.default)):
            raise ValueError(f"{self.name}: the default {found}")
        return self

    @property
    def secret(self) -> bool:
        """Passwords and secrets are masked for display and never written into compose."""
        return self.type in SECRET_TYPES


class Links(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    homepage: str | None = None
    docs: str | None = None
    source: str | None = None

    _urls = field_validator("homepage", "docs", "source")(_url)


class Source(BaseModel):
    """Who wrote the template; imported ones keep their license and a link back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: SourceKind = "windflow"
    license: str = "Apache-2.0"
    attribution: str | None = Field(default=None, description="URL of the upstream original")
    path: str | None = Field(default=None, description="Path of the original in its catalog")

    _urls = field_validator("attribution")(_url)

    @model_validator(mode="after")
    def _attributed(self) -> Source:
        if self.kind != "windflow" and not self.attribution:
            raise ValueError(f"a template imported from {self.kind} needs an attribution URL")
        return self


class Template(BaseModel):
    """A deployable application: metadata, parameters and a compose file using them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=SLUG)
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(min_length=1)
    category: Category
    tags: list[str] = Field(default_factory=list)
    version: str | None = Field(default=None, description="Version of the application")
    links: Links = Field(default_factory=Links)
    logo: str | None = None
    parameters: list[Parameter] = Field(default_factory=list)
    compose: str = Field(min_length=1)
    source: Source = Field(default_factory=Source)
    warnings: list[str] = Field(default_factory=list, description="Notes from the importer")

    _logo = field_validator("logo")(_url)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        return list(dict.fromkeys(tag.strip().lower() for tag in tags if tag.strip()))

    @model_validator(mode="after")
    def _parameters_match_compose(self) -> Template:
        names = [p.name for p in self.parameters]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"parameters declared twice: {', '.join(duplicates)}")
        undeclared = sorted(referenced_names(self.compose) - set(names))
        if undeclared:
            raise ValueError(
                f"the compose file references {', '.join(undeclared)}, which "
                f"{'is not a parameter' if len(undeclared) == 1 else 'are not parameters'}; "
                "declare them under parameters: or write a literal $ as $$"
            )
        return self

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    @property
    def parameter_names(self) -> list[str]:
        return [p.name for p in self.parameters]
