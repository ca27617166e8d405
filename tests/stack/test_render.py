"""dump_compose: valid compose that loads back to the same Stack."""

from __future__ import annotations

import pytest
import yaml

from tests.stack.samples import BLOG, BLOG_ENV, EVERYTHING
from tools.stack import dump_compose, load_stack, to_compose_dict
from tools.stack.loader import parse
from tools.stack.schema import schema_issues


@pytest.mark.parametrize(
    ("text", "env"),
    [
        (BLOG, BLOG_ENV),
        (EVERYTHING, {}),
        ("services:\n  s:\n    image: x\n", {}),
        (
            "services:\n  s:\n    image: x\n    command: sh -c 'echo $$HOME $${USER}'\n"
            "    environment: {PRICE: '$$5', LITERAL: '$${NOT_A_VAR}'}\n"
            "configs:\n  c: {content: 'cost: $$9'}\n",
            {},
        ),
        (
            "services:\n  s:\n    image: x\n    healthcheck:\n      test: [NONE]\n"
            "    stop_grace_period: 1.5s\n    deploy: {update_config: {delay: 1h2m3.004005s}}\n",
            {},
        ),
    ],
)
def test_round_trip(text: str, env: dict[str, str]) -> None:
    stack = load_stack(text, name="rt", env=env)
    rendered = dump_compose(stack)
    assert schema_issues(parse(rendered)) == []
    again = load_stack(rendered, name="rt")
    assert again == stack
    assert dump_compose(again) == rendered


def test_dollars_survive_a_reload() -> None:
    stack = load_stack(
        "services:\n  s:\n    image: x\n    command: [sh, -c, 'echo $$HOME']\n", name="t"
    )
    assert stack.services["s"].command == ["sh", "-c", "echo $HOME"]
    assert "echo $$HOME" in dump_compose(stack)
    assert (
        load_stack(dump_compose(stack), name="t").services["s"].command
        == stack.services["s"].command
    )


def test_rendering_is_readable_compose() -> None:
    stack = load_stack(BLOG, name="blog", env=BLOG_ENV)
    data = yaml.safe_load(dump_compose(stack))
    assert list(data) == [
        "name",
        "services",
        "networks",
        "volumes",
        "configs",
        "secrets",
        "x-defaults",
    ]
    api = data["services"]["api"]
    assert api["healthcheck"]["start_period"] == "1m30s"
    assert api["deploy"]["resources"]["limits"] == {"cpus": 0.5, "memory": str(256 * 1024**2)}
    assert api["depends_on"]["cache"] == {
        "condition": "service_started",
        "restart": True,
        "required": True,
    }
    assert api["x-owner"] == "api-team"
    web = data["services"]["web"]
    assert web["configs"] == [
        {"source": "nginx_extra", "target": "/etc/nginx/extra.conf", "mode": "0440"}
    ]
    assert "env_file" not in api and data["volumes"] == {"pgdata": None}


def test_nested_extensions_are_written_back_in_place() -> None:
    stack = load_stack(EVERYTHING, name="e")
    app = to_compose_dict(stack)["services"]["app"]
    assert app["deploy"]["placement"]["x-region"] == "eu-west-3"
    assert app["volumes"][4]["x-backup"] == "daily"
    assert app["ports"][5]["x-scrape"] is True
    assert app["networks"]["front"] == {"ipv4_address": "172.20.0.10", "x-note": "static"}
