"""The compose stack model on realistic files and on every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.stack import (
    ComposeError,
    config_hash,
    dependency_order,
    dump_compose,
    load_stack,
    load_stack_file,
)
from tools.stack.interpolation import parse_env_file

BLOG = """
x-defaults: &defaults
  restart: unless-stopped
  labels: {team: blog}

services:
  web:
    <<: *defaults
    image: ${WEB_IMAGE:-nginx:1.27}
    ports: ["127.0.0.1:${WEB_PORT:-8080}:80"]
    depends_on:
      api: {condition: service_started}
    volumes:
      - type: bind
        source: ./site
        target: /usr/share/nginx/html
        read_only: true
  api:
    <<: *defaults
    image: ghcr.io/example/blog-api:2.3.1
    command: ["serve", "--port", "9000"]
    environment:
      DATABASE_URL: postgres://blog:${DB_PASSWORD:?set DB_PASSWORD}@db/blog
      REDIS_URL: redis://cache:6379/0
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_started}
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:9000/health"]
      interval: 10s
      timeout: 2s
      retries: 5
      start_period: 1m
    deploy:
      replicas: 2
      resources:
        limits: {cpus: "0.50", memory: 256M}
        reservations: {memory: 128m}
      update_config: {parallelism: 1, delay: 5s, order: start-first}
    networks:
      back: {aliases: [blog-api]}
      default:
  db:
    image: postgres:16.4
    environment: [POSTGRES_DB=blog, POSTGRES_USER=blog, POSTGRES_PASSWORD_FILE=/run/secrets/db_pw]
    secrets: [db_pw]
    volumes: [pgdata:/var/lib/postgresql/data]
    healthcheck:
      test: pg_isready -U blog
      interval: 5s
    networks: [back]
  cache:
    image: redis:7.2-alpine
    command: redis-server --save "" --appendonly no
    networks: [back]
networks:
  back: {}
volumes:
  pgdata: {}
secrets:
  db_pw: {file: ./db_pw.txt}
"""


def load(text: str = BLOG, **env: str) -> object:
    return load_stack(text, name="blog", file="compose.yml", env={"DB_PASSWORD": "pw", **env})


def test_realistic_stack_is_normalized() -> None:
    stack = load_stack(BLOG, name="blog", env={"DB_PASSWORD": "s3cret", "WEB_PORT": "8081"})
    web, api, db, cache = (stack.services[n] for n in ("web", "api", "db", "cache"))
    assert web.image == "nginx:1.27" and web.restart == "unless-stopped"
    assert web.ports[0].host_ip == "127.0.0.1" and web.ports[0].published == 8081
    assert web.volumes[0].type == "bind" and web.volumes[0].read_only
    assert api.environment["DATABASE_URL"] == "postgres://blog:s3cret@db/blog"
    assert api.depends_on == {"db": "service_healthy", "cache": "service_started"}
    assert api.healthcheck is not None and api.healthcheck.start_period == 60.0
    assert api.deploy.replicas == 2 and api.deploy.limits.cpus == 0.5
    assert (
        api.deploy.limits.memory == 256 * 1024**2
        and api.deploy.reservations.memory == 128 * 1024**2
    )
    assert api.deploy.update_config is not None and api.deploy.update_config.order == "start-first"
    assert api.networks == {"back": ["blog-api"], "default": []}
    assert db.environment["POSTGRES_USER"] == "blog" and db.secrets[0].source == "db_pw"
    assert db.healthcheck is not None and db.healthcheck.test == ["CMD-SHELL", "pg_isready -U blog"]
    assert db.volumes[0].type == "volume" and db.volumes[0].source == "pgdata"
    assert cache.command == ["redis-server", "--save", "", "--appendonly", "no"]
    assert stack.extensions["x-defaults"]["restart"] == "unless-stopped"
    assert dependency_order(stack) == [["cache", "db"], ["api"], ["web"]]


def test_round_trip_and_config_hash() -> None:
    stack = load()
    again = load_stack(dump_compose(stack), name="blog")  # type: ignore[arg-type]
    assert again == stack
    changed = load(WEB_IMAGE="nginx:1.28")
    assert config_hash(changed.services["web"]) != config_hash(stack.services["web"])  # type: ignore[attr-defined]
    assert config_hash(changed.services["api"]) == config_hash(stack.services["api"])  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("template", "env", "expected"),
    [
        ("$A", {"A": "1"}, "1"),
        ("${A}", {"A": "1"}, "1"),
        ("${A:-d}", {"A": ""}, "d"),
        ("${A-d}", {"A": ""}, ""),
        ("${A-d}", {}, "d"),
        ("${A:+alt}", {"A": "x"}, "alt"),
        ("${A:+alt}", {"A": ""}, ""),
        ("${A+alt}", {"A": ""}, "alt"),
        ("${A:-${B:-nested}}", {}, "nested"),
        ("$$HOME and $${A}", {"A": "1"}, "$HOME and ${A}"),
        ("pre-${A}-post", {"A": "mid"}, "pre-mid-post"),
    ],
)
def test_interpolation_forms(template: str, env: dict[str, str], expected: str) -> None:
    stack = load_stack(
        f"services:\n  s:\n    image: busybox\n    environment:\n      V: '{template}'\n",
        name="t",
        env=env,
    )
    assert stack.services["s"].environment["V"] == expected


def test_required_variable_names_variable_and_line() -> None:
    with pytest.raises(ComposeError) as caught:
        load_stack(BLOG, name="blog", file="compose.yml")
    assert "DB_PASSWORD" in caught.value.message and "set DB_PASSWORD" in caught.value.message
    assert caught.value.line == 23 and caught.value.path == "services.api.environment.DATABASE_URL"


def test_env_file_parsing() -> None:
    values = parse_env_file('# comment\nexport A=1\nB="two words"\nC=plain # trailing\nD=\n')
    assert values == {"A": "1", "B": "two words", "C": "plain", "D": ""}
    with pytest.raises(ComposeError, match="KEY=VALUE"):
        parse_env_file("not a line\n")


def test_stack_file_with_dotenv_and_env_file(tmp_path: Path) -> None:
    (tmp_path / "compose.yml").write_text(
        "services:\n  app:\n    image: ${IMAGE}\n"
        "    env_file: [app.env]\n    environment: [MODE=prod]\n"
    )
    (tmp_path / ".env").write_text("IMAGE=busybox:1.36\n")
    (tmp_path / "app.env").write_text("TOKEN=abc\nMODE=dev\n")
    stack = load_stack_file(tmp_path / "compose.yml")
    app = stack.services["app"]
    assert app.image == "busybox:1.36"
    assert app.environment == {"TOKEN": "abc", "MODE": "prod"}
    assert stack.name == tmp_path.name


def test_extends_merges_and_detects_cycles() -> None:
    stack = load_stack(
        """
services:
  base:
    image: busybox
    environment: [A=1]
    ports: ["80"]
  child:
    extends: base
    environment: {B: "2"}
    ports: ["81"]
""",
        name="t",
    )
    child = stack.services["child"]
    assert child.image == "busybox" and child.environment == {"A": "1", "B": "2"}
    assert [p.target for p in child.ports] == [80, 81]
    with pytest.raises(ComposeError, match="cycle"):
        load_stack(
            "services:\n  a:\n    extends: b\n    image: x\n  b:\n    extends: a\n    image: y\n",
            name="t",
        )
    with pytest.raises(ComposeError, match="another file"):
        load_stack("services:\n  a:\n    extends: {file: other.yml, service: b}\n", name="t")


@pytest.mark.parametrize(
    ("text", "fragment", "line"),
    [
        ("services:\n  web:\n    image: nginx\n    ports: [\n", "malformed YAML", 5),
        ("services:\n  web:\n    image: a\n  web:\n    image: b\n", "duplicate key 'web'", 4),
        ("services:\n  web:\n    image: nginx\n    prots: ['80']\n", "unknown key 'prots'", 4),
        ("services:\n  web:\n    image: 5\n", "is not of type 'string'", 3),
        ("services:\n  web:\n    image: x\n    ports: ['80:80:80:80']\n", "not a valid port", 4),
        (
            "services:\n  web:\n    image: x\n    healthcheck: {interval: soon}\n",
            "not a duration",
            4,
        ),
        ("- just\n- a list\n", "top level must be a mapping", 1),
        (
            "services:\n  a:\n    image: x\n    depends_on: [b]\n"
            "  b:\n    image: x\n    depends_on: [a]\n",
            "cycle",
            None,
        ),
        ("services:\n  a:\n    image: x\n    depends_on: [ghost]\n", "unknown service 'ghost'", 4),
    ],
)
def test_bad_input_is_located(text: str, fragment: str, line: int | None) -> None:
    with pytest.raises(ComposeError) as caught:
        load_stack(text, name="t", file="bad.yml")
    assert fragment in caught.value.message
    if line is not None:
        assert caught.value.line == line, caught.value.message
        assert f"bad.yml:{line}" in caught.value.message


def test_schema_reports_every_problem() -> None:
    with pytest.raises(ComposeError) as caught:
        load_stack(
            "services:\n  a:\n    image: 1\n    restart: [no]\n  b:\n    colour: red\n",
            name="t",
        )
    assert len(caught.value.issues) >= 3


def test_oversized_input_is_refused() -> None:
    with pytest.raises(ComposeError, match="larger than"):
        load_stack("services: {}\n#" + "x" * 1_100_000, name="t")
