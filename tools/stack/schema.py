"""Validation against the Compose Specification JSON schema, reporting every problem.

The schema (``compose-spec.json``, Apache-2.0, see ``LICENSES/``) is loaded and checked
once per process. jsonschema's own messages for ``oneOf`` failures ("is not valid under
any of the given schemas") say nothing useful, so each error is explained here: the
branch whose type fits the value is the one the author meant, and its errors are shown.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import defaultdict
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

import jsonschema

from tools.stack.errors import ComposeError, Issue
from tools.stack.loader import Document, PathKey

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}


@cache
def validator() -> jsonschema.Draft7Validator:
    text = resources.files("tools.stack").joinpath("compose-spec.json").read_text("utf-8")
    schema = json.loads(text)
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _show(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _expected(types: Any) -> str:
    names = [types] if isinstance(types, str) else list(types)
    return " or ".join(dict.fromkeys(_TYPE_NAMES.get(name, name) for name in names))


class _Found(NamedTuple):
    path: PathKey
    problem: str
    hint: str | None = None


def _issue(path: PathKey, problem: str, hint: str | None = None) -> _Found:
    return _Found(path, problem, hint)


def _unknown_keys(error: jsonschema.ValidationError) -> list[_Found]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = list(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    path = tuple(error.absolute_path)
    issues = []
    for key in instance:
        if key in known or any(re.search(pattern, key) for pattern in patterns):
            continue
        if path == ("services",):
            problem = f"invalid service name {key!r}"
            hint = "service names use letters, digits, '.', '_' and '-'"
        elif path and path[0] in ("networks", "volumes", "configs", "secrets") and len(path) == 1:
            problem = f"invalid name {key!r}"
            hint = "names use letters, digits, '.', '_' and '-'"
        else:
            problem = f"unknown key {key!r}"
            close = difflib.get_close_matches(key, known, n=1)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else "not a compose key here; custom keys must start with x-"
            )
        issues.append(_issue((*path, key), problem, hint))
    return issues


def _explain(error: jsonschema.ValidationError) -> list[_Found]:
    path = tuple(error.absolute_path)
    kind = error.validator
    # jsonschema types these as "maybe unset"; for a reported error they are always set.
    expected: Any = error.validator_value
    instance: Any = error.instance
    if kind in ("oneOf", "anyOf") and error.context:
        branches: dict[Any, list[jsonschema.ValidationError]] = defaultdict(list)
        for sub in error.context:
            branches[sub.schema_path[0]].append(sub)
        # A branch that failed on the value's own type is about another spelling.
        fitting = [
            errors
            for errors in branches.values()
            if not any(e.validator == "type" and len(e.absolute_path) == len(path) for e in errors)
        ]
        if fitting:
            return [issue for errors in fitting for e in errors for issue in _explain(e)]
        types: list[Any] = [
            e.validator_value
            for errors in branches.values()
            for e in errors
            if e.validator == "type"
        ]
        flat = [t for value in types for t in ([value] if isinstance(value, str) else value)]
        return [_issue(path, f"{_show(instance)} is not {_expected(flat)}")]
    if kind == "additionalProperties":
        return _unknown_keys(error)
    if kind == "type":
        return [_issue(path, f"{_show(instance)} is not {_expected(expected)}")]
    if kind == "required":
        present = instance if isinstance(instance, dict) else {}
        missing = [key for key in expected if key not in present]
        return [_issue(path, f"missing required key {', '.join(map(repr, missing))}")]
    if kind == "uniqueItems":
        items = list(instance)
        duplicates: list[Any] = []
        for index, item in enumerate(items):
            if item in items[:index] and item not in duplicates:
                duplicates.append(item)
        return [_issue(path, f"duplicate entries: {_show(duplicates)}", "list each entry once")]
    if kind == "enum":
        allowed = ", ".join(map(str, expected))
        return [_issue(path, f"{_show(instance)} is not one of: {allowed}")]
    return [_issue(path, error.message)]


def schema_issues(document: Document) -> list[Issue]:
    """Every schema problem of the document, located and in file order."""
    issues: list[Issue] = []
    data: Any = document.data
    for error in validator().iter_errors(data):
        for found in _explain(error):
            issues.append(document.issue(found.problem, found.path, found.hint))
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda issue: (issue.line or 0, issue.path or ""))


def validate(document: Document) -> None:
    """Raise one ComposeError listing every schema problem, or return quietly."""
    issues = schema_issues(document)
    if issues:
        raise ComposeError.from_issues(issues, file=document.file)
