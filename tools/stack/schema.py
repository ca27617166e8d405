"""Validation against the Compose Specification JSON schema (shipped with attribution)."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from tools.stack.errors import ComposeError, Issue
from tools.stack.loader import Document, dotted


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(resources.files("tools.stack").joinpath("compose-spec.json").read_text())
    # The file names a draft URL jsonschema does not know; its content is draft 7.
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _unexpected_keys(error: jsonschema.ValidationError) -> list[str]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = set(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    return [
        key for key in instance if key not in known and not any(re.search(p, key) for p in patterns)
    ]


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator in ("oneOf", "anyOf"):
        best = jsonschema.exceptions.best_match(error.context or [])
        detail = best.message if best is not None else error.message
        return f"invalid value: {detail}"
    return error.message


def validate(document: Document) -> None:
    issues: list[Issue] = []
    data: Any = document.data
    for error in sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.path))):
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties":
            for key in _unexpected_keys(error) or ["?"]:
                key_path = (*path, key)
                issues.append(
                    Issue(
                        f"unknown key {key!r} (not a compose key here; check the spelling)",
                        dotted(key_path),
                        document.line_of(key_path),
                    )
                )
            continue
        issues.append(Issue(_message(error), dotted(path) or None, document.line_of(path)))
    if issues:
        raise ComposeError(
            issues,
            file=document.file,
            hint="see the Compose Specification for the allowed keys and value types",
        )
