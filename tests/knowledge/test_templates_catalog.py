"""The curated catalog: every template renders with its defaults, validates and lints clean."""

from __future__ import annotations

import re

import pytest

from knowledge.templates import CATEGORIES, Template, TemplateCatalog, TemplateNotFound, render
from knowledge.templates.variables import referenced_names
from tools.compose_lint import lint
from tools.stack import load_stack

CATALOG = TemplateCatalog.load()
TEMPLATES = list(CATALOG)
IDS = [t.id for t in TEMPLATES]
DATABASES = re.compile(r"postgres|mysql|mariadb|redis|valkey|mongo|clickhouse|meilisearch|rabbitmq")
REQUIRED = {
    "postgres", "mysql", "mariadb", "redis", "mongodb", "nginx", "traefik", "wordpress",
    "ghost", "gitea", "nextcloud", "n8n", "grafana-prometheus", "uptime-kuma", "minio",
    "keycloak", "vault", "rabbitmq", "mattermost", "plausible", "metabase", "adminer",
}  # fmt: skip


def test_the_catalog_has_the_promised_templates() -> None:
    assert len(CATALOG) >= 25
    assert set(IDS) >= REQUIRED
    assert CATALOG.errors == {}
    assert all(t.source.kind == "windflow" and not t.warnings for t in TEMPLATES)


HARDENING_NOTES = {"runs_as_root", "writable_root_fs", "privilege_escalation", "capabilities_kept"}


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_template_renders_with_defaults_and_lints_clean(template: Template) -> None:
    rendered = render(template, {}, stack_name=template.id)

    # What a deployment does with it: load the compose text with the env.
    stack = load_stack(rendered.compose, name=template.id, env=rendered.env)
    assert set(stack.services) == set(rendered.stack.services)
    report = lint(rendered.compose, template.id)
    # Clean at error and warning level. The hardening notes remain: the official images
    # the templates run start as root, write to their filesystem and keep default caps.
    assert {f.rule for f in report.findings} <= HARDENING_NOTES, report.findings
    assert report.score == 100 and not report.suppressed


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_template_follows_the_catalog_rules(template: Template) -> None:
    rendered = render(template, {}, stack_name=template.id)
    for name, service in rendered.stack.services.items():
        assert service.image and not service.image.endswith(":latest"), name
        assert re.search(r":[\w.-]*\d[\w.-]*$", service.image), f"{name}: {service.image} unpinned"
        assert service.healthcheck is not None and service.healthcheck.test, name
        assert service.restart == "unless-stopped", name
        assert service.deploy.limits.memory and service.deploy.limits.cpus, name
        if DATABASES.search(service.image):
            assert all(p.host_ip == "127.0.0.1" for p in service.ports), name
    # Every parameter is used, and no secret value ever lands in the compose text.
    assert set(template.parameter_names) == referenced_names(template.compose)
    for parameter in template.parameters:
        if parameter.secret:
            assert parameter.default is None and parameter.generate, parameter.name
            assert rendered.env[parameter.name] not in rendered.compose
            assert f"${{{parameter.name}}}" in rendered.compose


def test_each_render_generates_fresh_secrets() -> None:
    template = CATALOG.get("nextcloud")
    first = render(template, {}, stack_name="cloud")
    second = render(template, {}, stack_name="cloud")
    assert first.env.keys() == {"ADMIN_PASSWORD", "DB_PASSWORD", "REDIS_PASSWORD"}
    assert all(first.env[k] != second.env[k] for k in first.env)
    assert len(first.env["DB_PASSWORD"]) == 32
    shown = {p.name: p for p in first.parameters}
    assert shown["DB_PASSWORD"].display == "********"
    assert shown["DB_PASSWORD"].origin == "generated"
    assert shown["DOMAIN"].display == "localhost" and shown["DOMAIN"].origin == "default"
    assert first.env["DB_PASSWORD"] not in repr(first)


def test_given_values_are_written_into_the_compose_text() -> None:
    rendered = render(
        CATALOG.get("postgres"),
        {"POSTGRES_DB": "shop", "PORT": 15432, "POSTGRES_PASSWORD": "a-long-password-1"},
        stack_name="shop-db",
    )
    assert "POSTGRES_DB: shop" in rendered.compose
    assert "127.0.0.1:15432:5432" in rendered.compose
    assert rendered.env == {"POSTGRES_PASSWORD": "a-long-password-1"}
    db = rendered.stack.services["postgres"]
    assert db.environment["POSTGRES_PASSWORD"] == "a-long-password-1"
    assert db.ports[0].published == "15432" or db.ports[0].published == 15432


def test_secret_charsets_follow_the_parameter() -> None:
    rendered = render(CATALOG.get("plausible"), {}, stack_name="stats")
    assert re.fullmatch(r"[A-Za-z0-9+/]{43}=", rendered.env["TOTP_VAULT_KEY"])  # 32 bytes
    assert len(rendered.env["SECRET_KEY_BASE"]) == 88  # 64 bytes in base64


def test_search_puts_exact_matches_first_and_filters() -> None:
    assert CATALOG.search("postgres")[0].id == "postgres"
    assert CATALOG.search("PostgreSQL")[0].id == "postgres"
    assert [t.id for t in CATALOG.search("blog")][:2] == ["ghost", "wordpress"]
    assert CATALOG.search("s3")[0].id == "minio"
    assert CATALOG.search("quantum teleporter") == []
    databases = CATALOG.search(category="database")
    assert databases and all(t.category == "database" for t in databases)
    tagged = CATALOG.search("", tags=["postgres"])
    assert {"gitea", "keycloak", "postgres"} <= {t.id for t in tagged}
    assert all("postgres" in t.tags for t in tagged)
    best = CATALOG.search("analytics", category="analytics")[0]
    assert best.id in ("plausible", "umami", "metabase")


def test_categories_count_templates_in_the_fixed_order() -> None:
    counts = CATALOG.categories()
    assert sum(counts.values()) == len(CATALOG)
    assert list(counts) == [c for c in CATEGORIES if c in counts]
    assert counts["database"] >= 4


def test_unknown_template_suggests_close_ids() -> None:
    with pytest.raises(TemplateNotFound) as caught:
        CATALOG.get("postgress")
    assert "postgress" in caught.value.message
    assert caught.value.hint is not None and "postgres" in caught.value.hint
