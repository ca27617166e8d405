"""``extends`` within one file: compose merge rules, chains, cycles, other files."""

from __future__ import annotations

import pytest

from tools.stack import ComposeError, load_stack
from tools.stack.extends import merge

BASE = """\
services:
  base:
    image: example/app:1
    command: ["serve"]
    environment: [LOG=info, REGION=eu]
    labels: {tier: app}
    ports: ["8080:80", "9090:90"]
    volumes: ["data:/data", "./conf:/conf:ro"]
    cap_add: [NET_ADMIN]
    dns: 1.1.1.1
    healthcheck:
      test: ["CMD", "true"]
      interval: 10s
    depends_on: [db]
    networks: [back]
  worker:
    extends: base
    command: ["work", "--queue", "mail"]
    environment: {LOG: debug, QUEUE: mail}
    ports: ["9091:90", "8080:80"]
    volumes: ["./conf:/conf:rw", "scratch:/scratch"]
    cap_add: [NET_ADMIN, SYS_PTRACE]
    dns: [8.8.8.8]
    healthcheck:
      test: ["CMD", "worker", "ping"]
    depends_on:
      cache: {condition: service_healthy}
    networks:
      back: {aliases: [mailer]}
  nightly:
    extends: {service: worker}
    command: run-once
    restart: "no"
  db:
    image: postgres:16
  cache:
    image: redis:7
    healthcheck: {test: ["CMD", "redis-cli", "ping"]}
networks:
  back: {}
volumes:
  data: {}
  scratch: {}
"""


def test_extends_merges_with_compose_rules() -> None:
    stack = load_stack(BASE, name="t")
    worker = stack.services["worker"]
    assert worker.image == "example/app:1"
    assert worker.command == ["work", "--queue", "mail"]  # replaced, not appended
    assert worker.environment == {"LOG": "debug", "REGION": "eu", "QUEUE": "mail"}
    assert worker.labels == {"tier": "app"}
    # ports merge by identity: 8080:80 is not repeated, 9091:90 is new
    assert [(p.published, p.target) for p in worker.ports] == [(8080, 80), (9090, 90), (9091, 90)]
    # volumes merge by target: /conf switches to read-write in place
    assert [(v.target, v.read_only) for v in worker.volumes] == [
        ("/data", False),
        ("/conf", False),
        ("/scratch", False),
    ]
    assert worker.cap_add == ["NET_ADMIN", "SYS_PTRACE"]
    assert worker.extras["dns"] == ["1.1.1.1", "8.8.8.8"]
    assert worker.healthcheck is not None
    assert worker.healthcheck.test == ["CMD", "worker", "ping"]
    assert worker.healthcheck.interval == 10.0  # the rest of the mapping is kept
    assert worker.depends_on == {"db": "service_started", "cache": "service_healthy"}
    assert worker.networks == {"back": ["mailer"]}


def test_extends_chains_and_keeps_the_base_itself() -> None:
    stack = load_stack(BASE, name="t")
    nightly, base = stack.services["nightly"], stack.services["base"]
    assert nightly.command == ["run-once"] and nightly.restart == "no"
    assert nightly.environment["QUEUE"] == "mail"
    assert base.command == ["serve"] and "extends" not in base.extras
    assert "extends" not in nightly.extras


def test_errors_in_inherited_keys_point_at_the_base_lines() -> None:
    text = (
        "services:\n"
        "  base:\n"
        "    image: x\n"
        "    healthcheck:\n"
        "      interval: soon\n"
        "  child:\n"
        "    extends: base\n"
    )
    with pytest.raises(ComposeError) as caught:
        load_stack(text, name="t")
    # the base is reported first; the child's inherited copy names the same line
    assert caught.value.line == 5 and caught.value.path == "services.base.healthcheck.interval"


@pytest.mark.parametrize(
    ("text", "fragment", "path", "line"),
    [
        (
            "services:\n  a:\n    extends: b\n  b:\n    extends: c\n  c:\n    extends: a\n",
            "extends forms a cycle: a -> b -> c -> a",
            "services.c.extends",
            7,
        ),
        (
            "services:\n  a:\n    extends: a\n",
            "extends forms a cycle: a -> a",
            "services.a.extends",
            3,
        ),
        (
            "services:\n  a:\n    image: x\n    extends: ghost\n",
            "extends names an unknown service 'ghost'",
            "services.a.extends",
            4,
        ),
        (
            "services:\n  a:\n    extends: {file: common.yml, service: base}\n",
            "extends from another file (common.yml) is not supported",
            "services.a.extends.file",
            3,
        ),
    ],
)
def test_extends_errors(text: str, fragment: str, path: str, line: int) -> None:
    with pytest.raises(ComposeError) as caught:
        load_stack(text, name="t", file="compose.yml")
    assert fragment in caught.value.message
    assert (caught.value.path, caught.value.line) == (path, line)


def test_extends_naming_this_same_file_is_allowed() -> None:
    text = (
        "services:\n"
        "  base:\n    image: x\n"
        "  child:\n    extends: {file: ./compose.yml, service: base}\n"
    )
    stack = load_stack(text, name="t", file="/srv/app/compose.yml")
    assert stack.services["child"].image == "x"
    with pytest.raises(ComposeError, match="another file"):
        load_stack(text, name="t", file="/srv/app/docker-compose.yml")


def test_merge_rules_directly() -> None:
    assert merge({"a": 1, "m": {"x": 1}}, {"m": {"y": 2}, "b": 2}) == {
        "a": 1,
        "m": {"x": 1, "y": 2},
        "b": 2,
    }
    assert merge({"dns": "1.1.1.1"}, {"dns": "8.8.8.8"}) == {"dns": ["1.1.1.1", "8.8.8.8"]}
    assert merge({"build": "."}, {"build": {"target": "prod"}}) == {
        "build": {"context": ".", "target": "prod"}
    }
    assert merge({"entrypoint": ["a"]}, {"entrypoint": ["b"]}) == {"entrypoint": ["b"]}
    assert merge({"extra_hosts": ["a:1.1.1.1"]}, {"extra_hosts": {"b": "2.2.2.2"}}) == {
        "extra_hosts": {"a": "1.1.1.1", "b": "2.2.2.2"}
    }
    assert merge(
        {"secrets": ["s", {"source": "t", "target": "/x"}]},
        {"secrets": [{"source": "t2", "target": "/x"}, "s"]},
    ) == {"secrets": ["s", {"source": "t2", "target": "/x"}]}
