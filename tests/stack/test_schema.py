"""Compose Specification validation: every problem, each with path, line and a fix."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import pytest

import tools.stack
from tools.stack import ComposeError, load_stack
from tools.stack.schema import validator

BROKEN = """\
services:
  web:
    image: 5
    prots: ["80"]
    restart: [no]
    environment: 7
    ports:
      - target: 80
        publisehd: 8080
    depends_on:
      db: {condition: service_ready}
    cap_add: [NET_ADMIN, NET_ADMIN]
  "bad name":
    image: x
  db:
    image: postgres
    healthcheck: {interval: 5}
    volumes:
      - {type: nope, target: /x}
colour: red
"""


def _issues(text: str) -> list[tuple[str | None, int | None, str, str | None]]:
    with pytest.raises(ComposeError) as caught:
        load_stack(text, name="t", file="compose.yml")
    return [(i.path, i.line, i.problem, i.hint) for i in caught.value.issues]


def test_every_problem_is_reported_in_file_order_with_path_and_line() -> None:
    issues = _issues(BROKEN)
    located = [(path, line, problem) for path, line, problem, _ in issues]
    assert located == [
        ("services.web.image", 3, "5 is not a string"),
        ("services.web.prots", 4, "unknown key 'prots'"),
        ("services.web.restart", 5, '["no"] is not a string'),
        ("services.web.environment", 6, "7 is not a mapping or a list"),
        ("services.web.ports[0].publisehd", 9, "unknown key 'publisehd'"),
        (
            "services.web.depends_on.db.condition",
            11,
            "'service_ready' is not one of: service_started, service_healthy,"
            " service_completed_successfully",
        ),
        ("services.web.cap_add", 12, 'duplicate entries: ["NET_ADMIN"]'),
        ('services["bad name"]', 13, "invalid service name 'bad name'"),
        ("services.db.healthcheck.interval", 17, "5 is not a string"),
        (
            "services.db.volumes[0].type",
            19,
            "'nope' is not one of: bind, volume, tmpfs, cluster, npipe, image",
        ),
        ("colour", 20, "unknown key 'colour'"),
    ]


def test_hints_suggest_the_intended_key() -> None:
    hints = {path: hint for path, _, _, hint in _issues(BROKEN)}
    assert hints["services.web.prots"] == "did you mean 'ports'?"
    assert hints["services.web.ports[0].publisehd"] == "did you mean 'published'?"
    assert hints["colour"] == "not a compose key here; custom keys must start with x-"
    assert hints['services["bad name"]'] is not None


def test_the_error_lists_all_issues_in_message_and_details() -> None:
    with pytest.raises(ComposeError) as caught:
        load_stack(BROKEN, name="t", file="compose.yml")
    error = caught.value
    assert error.message.startswith("11 problems in compose.yml: compose.yml:3 services.web.image")
    assert "compose.yml:20 colour: unknown key 'colour'" in error.message
    assert len(error.details["issues"]) == 11 and error.details["file"] == "compose.yml"
    assert (error.path, error.line) == ("services.web.image", 3)


def test_valid_modern_keys_are_accepted() -> None:
    text = (
        "name: modern\n"
        "services:\n"
        "  app:\n"
        "    image: x\n"
        "    develop:\n"
        "      watch: [{path: ./src, action: sync, target: /src}]\n"
        "    env_file: [{path: ./missing.env, required: false}]\n"
        "    post_start: [{command: [echo, hi]}]\n"
        "    gpus: all\n"
        "    models: [llm]\n"
        "models:\n"
        "  llm: {model: ai/smollm2}\n"
    )
    stack = load_stack(text, name="t")
    app = stack.services["app"]
    assert set(app.extras) == {"develop", "post_start", "gpus", "models"}
    assert stack.extras == {"name": "modern", "models": {"llm": {"model": "ai/smollm2"}}}


def test_x_keys_are_allowed_at_every_level() -> None:
    text = (
        "x-top: 1\n"
        "services:\n"
        "  s:\n"
        "    image: x\n"
        "    x-svc: 2\n"
        "    deploy: {x-deep: 3, resources: {limits: {x-deeper: 4}}}\n"
    )
    stack = load_stack(text, name="t")
    assert stack.services["s"].extensions == {
        "/x-svc": 2,
        "/deploy/x-deep": 3,
        "/deploy/resources/limits/x-deeper": 4,
    }


def test_the_shipped_schema_is_the_compose_spec_and_is_cached() -> None:
    schema = json.loads(resources.files("tools.stack").joinpath("compose-spec.json").read_text())
    assert schema["$schema"] == "https://json-schema.org/draft-07/schema"
    assert schema["title"] == "Compose Specification"
    assert {"service", "deployment", "healthcheck", "network"} <= set(schema["definitions"])
    assert validator() is validator()


def test_the_attribution_matches_the_shipped_file() -> None:
    folder = Path(tools.stack.__file__).parent
    notice = (folder / "LICENSES" / "compose-spec-NOTICE.md").read_text()
    assert "Apache License, Version 2.0" in notice and "compose-spec/compose-spec" in notice
    digest = hashlib.sha256((folder / "compose-spec.json").read_bytes()).hexdigest()
    assert digest in notice, "compose-spec.json changed: update the commit and checksum"
    assert "TERMS AND CONDITIONS" in (folder / "LICENSES" / "Apache-2.0.txt").read_text()
