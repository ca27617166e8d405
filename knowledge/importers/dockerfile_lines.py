"""CapRover's ``dockerfileLines``: an inline Dockerfile CapRover builds before deploying.

Most of them only pick an image and set its command (``FROM``, ``CMD``, ``ENTRYPOINT``,
``ENV``, ``USER``, ``WORKDIR``, ``EXPOSE``): those translate one to one into compose keys
on the published image. Anything that changes the image (``RUN``, ``COPY``, ``ADD``,
build ``ARG``s, several stages) needs a build, which WindFlow does not do.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from knowledge.importers.errors import ImportFailure

_SETTINGS = {"CMD", "ENTRYPOINT", "ENV", "USER", "WORKDIR", "EXPOSE", "LABEL"}


def _command(argument: str) -> list[str]:
    """Exec form (JSON list) as is; shell form runs through /bin/sh -c, as Docker does."""
    if argument.startswith("["):
        try:
            parsed = json.loads(argument)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(part, str) for part in parsed):
            return parsed
    return ["/bin/sh", "-c", argument]


def _environment(argument: str) -> dict[str, str]:
    if "=" not in argument.split(" ", 1)[0]:
        key, _, value = argument.partition(" ")
        return {key: value.strip()}
    pairs: dict[str, str] = {}
    for item in shlex.split(argument, posix=True):
        key, _, value = item.partition("=")
        pairs[key] = value
    return pairs


def _instructions(lines: list[Any]) -> list[tuple[str, str]]:
    joined: list[str] = []
    for line in (str(line) for line in lines):
        if joined and joined[-1].endswith("\\"):
            joined[-1] = joined[-1][:-1] + " " + line.strip()
        elif line.strip() and not line.lstrip().startswith("#"):
            joined.append(line.strip())
    found = []
    for line in joined:
        word, _, argument = line.partition(" ")
        found.append((word.upper(), argument.strip()))
    return found


def apply(service_name: str, service: dict[str, Any], lines: list[Any], upstream: str) -> None:
    """Set image/command/entrypoint/environment/user/working_dir from the lines."""
    instructions = _instructions(lines)
    unsupported = sorted(
        {word for word, _ in instructions if word != "FROM" and word not in _SETTINGS}
    )
    stages = [argument for word, argument in instructions if word == "FROM"]
    if unsupported or len(stages) != 1:
        why = f"uses {', '.join(unsupported)}" if unsupported else f"has {len(stages)} FROM lines"
        raise ImportFailure(
            f"{upstream}: service {service_name} is built from dockerfileLines that {why}",
            reason="image built from dockerfileLines",
            hint="build and publish the image, then name it in image:",
        )
    environment: dict[str, str] = {}
    for word, argument in instructions:
        if word == "FROM":
            service["image"] = argument.split(" ")[0]
        elif word == "CMD":
            service["command"] = _command(argument)
        elif word == "ENTRYPOINT":
            service["entrypoint"] = _command(argument)
        elif word == "ENV":
            environment.update(_environment(argument))
        elif word == "USER":
            service["user"] = argument
        elif word == "WORKDIR":
            service["working_dir"] = argument
    if environment:
        current = service.get("environment")
        if isinstance(current, list):
            present = {str(item).split("=", 1)[0] for item in current}
            current += [f"{k}={v}" for k, v in environment.items() if k not in present]
        else:
            merged = dict(environment)
            merged.update(current if isinstance(current, dict) else {})
            service["environment"] = merged
