"""The compose stack model: parse, interpolate, extend, validate, normalize, render.

load_stack(text, name=...) -> Stack    (raises ComposeError with file, path and line)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tools.stack.errors import ComposeError, Issue
from tools.stack.extends import resolve_extends
from tools.stack.interpolation import interpolate, parse_env_file
from tools.stack.loader import parse
from tools.stack.model import (
    Deploy,
    FileRef,
    FileSpec,
    Healthcheck,
    NetworkSpec,
    PortMapping,
    Resources,
    Service,
    Stack,
    VolumeMount,
    VolumeSpec,
    config_hash,
)
from tools.stack.normalize import normalize
from tools.stack.render import dependency_order, dump_compose, to_compose_dict
from tools.stack.schema import validate

__all__ = [
    "ComposeError",
    "Deploy",
    "FileRef",
    "FileSpec",
    "Healthcheck",
    "Issue",
    "NetworkSpec",
    "PortMapping",
    "Resources",
    "Service",
    "Stack",
    "VolumeMount",
    "VolumeSpec",
    "config_hash",
    "dependency_order",
    "dump_compose",
    "load_stack",
    "load_stack_file",
    "to_compose_dict",
]


def load_stack(
    text: str,
    *,
    name: str,
    file: str | None = None,
    env: Mapping[str, str] | None = None,
    env_file_text: str | None = None,
    base_dir: Path | None = None,
) -> Stack:
    """Parse and validate a compose file into a typed ``Stack``.

    ``env`` (explicit values) wins over ``env_file_text`` (a ``.env`` file's content).
    ``env_file:`` entries of services are read relative to ``base_dir``, if given.
    """
    variables: dict[str, str] = {}
    if env_file_text is not None:
        variables.update(parse_env_file(env_file_text))
    variables.update(env or {})
    document = resolve_extends(interpolate(parse(text, file=file), variables))
    validate(document)

    def read_env_file(relative: str) -> str:
        assert base_dir is not None
        return (base_dir / relative).read_text()

    stack = normalize(document, name, read_env_file if base_dir is not None else None)
    dependency_order(stack)
    return stack


def load_stack_file(
    path: Path, *, name: str | None = None, env: Mapping[str, str] | None = None
) -> Stack:
    dotenv = path.parent / ".env"
    return load_stack(
        path.read_text(),
        name=name or path.parent.name,
        file=str(path),
        env=env,
        env_file_text=dotenv.read_text() if dotenv.exists() else None,
        base_dir=path.parent,
    )
