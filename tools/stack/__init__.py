"""The compose stack model: parse, interpolate, extend, validate, normalize, render.

    stack = load_stack(text, name="blog", env={"TAG": "1.2"})   # -> Stack, or ComposeError
    dump_compose(stack)                                          # -> compose YAML
    dependency_order(stack)                                      # -> [["db"], ["api"], ...]
    config_hash(stack.services["api"])                           # -> sha256 hex

Every problem is a ``ComposeError`` (an ``InvalidInput``) naming file, dotted path and
line, and saying how to fix it; schema problems are all reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from tools.stack.errors import ComposeError, ComposeTooLarge, Issue
from tools.stack.extends import resolve_extends
from tools.stack.graph import cycle_error, dependency_order, find_cycle, select_profiles
from tools.stack.interpolation import interpolate, parse_env_file
from tools.stack.loader import MAX_COMPOSE_BYTES, parse, read_text
from tools.stack.model import (
    BindOptions,
    BuildSpec,
    Condition,
    DependencyFlags,
    Deploy,
    FileRef,
    FileSpec,
    Healthcheck,
    NetworkSpec,
    PortMapping,
    Resources,
    RestartPolicy,
    Service,
    Stack,
    TmpfsOptions,
    UpdatePolicy,
    VolumeMount,
    VolumeOptions,
    VolumeSpec,
    config_hash,
)
from tools.stack.normalize import EnvFileReader
from tools.stack.project import normalize
from tools.stack.render import dump_compose, to_compose_dict
from tools.stack.schema import validate

__all__ = [
    "MAX_COMPOSE_BYTES",
    "BindOptions",
    "BuildSpec",
    "ComposeError",
    "ComposeTooLarge",
    "Condition",
    "DependencyFlags",
    "Deploy",
    "FileRef",
    "FileSpec",
    "Healthcheck",
    "Issue",
    "NetworkSpec",
    "PortMapping",
    "Resources",
    "RestartPolicy",
    "Service",
    "Stack",
    "TmpfsOptions",
    "UpdatePolicy",
    "VolumeMount",
    "VolumeOptions",
    "VolumeSpec",
    "config_hash",
    "dependency_order",
    "dump_compose",
    "load_stack",
    "load_stack_file",
    "parse_env_file",
    "select_profiles",
    "to_compose_dict",
]


def _env_file_reader(base_dir: Path) -> EnvFileReader:
    root = base_dir.resolve()

    def read(relative: str) -> str:
        path = (root / Path(relative).expanduser()).resolve()
        # Compose text may come from API users: it must not read files of the server.
        if not path.is_relative_to(root):
            raise ComposeError(
                f"env_file {relative!r} is outside the stack directory",
                file=relative,
                hint="keep env files next to the compose file",
            )
        if not path.is_file():
            raise FileNotFoundError(relative)
        return read_text(path, file=relative)

    return read


def load_stack(
    text: str,
    *,
    name: str,
    file: str | None = None,
    env: Mapping[str, str] | None = None,
    env_file_text: str | None = None,
    base_dir: Path | None = None,
) -> Stack:
    """Parse, interpolate, extend, validate and normalize a compose file into a ``Stack``.

    ``env`` (explicit values) wins over ``env_file_text`` (the project's ``.env``); both
    feed interpolation, and nothing is read from ``os.environ``. Services' ``env_file:``
    entries are read relative to ``base_dir``; without it they are an error.
    """
    variables: dict[str, str] = {}
    if env_file_text is not None:
        dotenv = str(base_dir / ".env") if base_dir is not None else ".env"
        variables.update(parse_env_file(env_file_text, file=dotenv, env=env))
    variables.update(env or {})
    document = resolve_extends(interpolate(parse(text, file=file), variables))
    validate(document)
    reader = _env_file_reader(base_dir) if base_dir is not None else None
    stack = normalize(document, name, env=variables, read_env_file=reader)
    cycle = find_cycle(stack)
    if cycle is not None:
        line = document.line_of(("services", cycle[0], "depends_on"))
        raise cycle_error(cycle, file=file, line=line)
    return stack


def _project_name(directory: Path) -> str:
    # docker compose's rule for a directory name: lowercase, only [a-z0-9_-].
    cleaned = re.sub(r"[^a-z0-9_-]", "", directory.resolve().name.lower())
    return cleaned.lstrip("_-") or "default"


def load_stack_file(
    path: Path,
    *,
    name: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Stack:
    """Load a compose file with its directory's ``.env`` and ``env_file:`` entries.

    Without ``name``, the file's own ``name:`` is used, else the directory's name, as
    ``docker compose`` does.
    """
    dotenv = path.parent / ".env"
    stack = load_stack(
        read_text(path),
        name=name or "_",
        file=str(path),
        env=env,
        env_file_text=read_text(dotenv) if dotenv.is_file() else None,
        base_dir=path.parent,
    )
    if name is None:
        declared = stack.extras.get("name")
        chosen = declared if isinstance(declared, str) else _project_name(path.parent)
        stack = stack.model_copy(update={"name": chosen})
    return stack
