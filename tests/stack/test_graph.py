"""Start order, dependency cycles, profiles and the config hash."""

from __future__ import annotations

import pytest

from tests.stack.samples import BLOG, BLOG_ENV
from tools.stack import ComposeError, config_hash, dependency_order, load_stack, select_profiles


def test_dependency_layers_include_implicit_edges() -> None:
    stack = load_stack(BLOG, name="blog", env=BLOG_ENV)
    assert dependency_order(stack) == [["cache", "db"], ["adminer", "api"], ["web"]]
    implicit = load_stack(
        "services:\n"
        "  vpn: {image: vpn}\n"
        "  app: {image: app, network_mode: 'service:vpn'}\n"
        "  sidecar: {image: s, pid: 'service:app', volumes_from: ['app:ro']}\n"
        "  legacy: {image: l, links: ['sidecar:helper'], ipc: 'container:outside'}\n",
        name="t",
    )
    assert dependency_order(implicit) == [["vpn"], ["app"], ["sidecar"], ["legacy"]]


def test_circular_depends_on_names_the_cycle_and_line() -> None:
    text = (
        "services:\n"
        "  a:\n    image: x\n    depends_on: [b]\n"
        "  b:\n    image: x\n    depends_on: [c]\n"
        "  c:\n    image: x\n    depends_on: [a]\n"
        "  d:\n    image: x\n    depends_on: [a]\n"
    )
    with pytest.raises(ComposeError) as caught:
        load_stack(text, name="t", file="compose.yml")
    error = caught.value
    assert "a cycle: a -> b -> c -> a" in error.message
    assert (error.path, error.line) == ("services.a.depends_on", 4)
    with pytest.raises(ComposeError, match="cycle: x -> x"):
        load_stack("services:\n  x:\n    image: x\n    depends_on: [x]\n", name="t")


def test_dependency_order_refuses_a_cycle_built_in_code() -> None:
    stack = load_stack("services:\n  a: {image: x}\n  b: {image: x}\n", name="t")
    stack.services["a"].depends_on["b"] = "service_started"
    stack.services["b"].depends_on["a"] = "service_healthy"
    with pytest.raises(ComposeError, match="a -> b -> a"):
        dependency_order(stack)


def test_profiles_select_services_like_compose() -> None:
    stack = load_stack(BLOG, name="blog", env=BLOG_ENV)
    assert "adminer" not in select_profiles(stack, []).services
    debug = select_profiles(stack, ["debug"])
    assert set(debug.services) == {"web", "api", "db", "cache", "adminer"}
    text = (
        "services:\n"
        "  app: {image: a, depends_on: {tools: {condition: service_started, required: false}}}\n"
        "  web: {image: w, depends_on: [tools]}\n"
        "  tools: {image: t, profiles: [dev]}\n"
    )
    both = load_stack(text, name="t")
    with pytest.raises(ComposeError, match="'web' depends on 'tools', which no active profile"):
        select_profiles(both, [])
    without_web = load_stack(text.replace("  web: {image: w, depends_on: [tools]}\n", ""), name="t")
    selected = select_profiles(without_web, [])
    assert selected.services["app"].depends_on == {}
    assert selected.services["app"].dependency_flags == {}


def test_optional_dependency_on_a_missing_service_is_dropped() -> None:
    stack = load_stack(
        "services:\n  app:\n    image: a\n    depends_on:\n"
        "      gone: {condition: service_started, required: false}\n",
        name="t",
    )
    assert stack.services["app"].depends_on == {}


def test_config_hash_is_stable_and_tracks_changes() -> None:
    first = load_stack(BLOG, name="blog", env=BLOG_ENV)
    again = load_stack(BLOG, name="blog", env=BLOG_ENV)
    changed = load_stack(BLOG, name="blog", env={**BLOG_ENV, "WEB_IMAGE": "nginx:1.28"})
    web = config_hash(first.services["web"])
    assert web == config_hash(again.services["web"]) and len(web) == 64
    assert config_hash(changed.services["web"]) != web
    assert config_hash(changed.services["api"]) == config_hash(first.services["api"])
    # spelling does not matter, meaning does; extensions are not part of the hash
    short = load_stack("services:\n  s: {image: x, environment: [A=1], ports: ['80']}\n", name="t")
    long = load_stack(
        "services:\n  s:\n    image: x\n    environment: {A: '1'}\n    ports: [{target: 80}]\n"
        "    x-note: ignored\n",
        name="t",
    )
    assert config_hash(short.services["s"]) == config_hash(long.services["s"])
