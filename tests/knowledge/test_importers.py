"""Importers on small catalogs written here: each upstream construct and what it becomes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.importers import ImportFailure, import_catalog
from knowledge.importers.__main__ import main
from knowledge.templates import TemplateFileError, render

DOKPLOY_COMPOSE = """\
services:
  web:
    image: example/web:2.1.0
    restart: unless-stopped
    container_name: web
    environment:
      APP_URL: https://${APP_HOST}
      DATABASE_URL: ${DATABASE_URL}
      SECRET: ${SECRET_KEY}
      MODE: ${MODE:-production}
      SMTP_PORT: ${SMTP_PORT}
      AUTH_JWT: ${AUTH_JWT}
    command: ["sh", "-c", "echo $(date) && exec web"]
    volumes:
      - ../files/web.conf:/etc/web/web.conf:ro
      - ../files/uploads:/uploads
      - data:/data
    networks: [dokploy-network]
  db:
    image: postgres:16.4-alpine
    environment:
      POSTGRES_PASSWORD: ${DB_PASSWORD}
networks:
  dokploy-network:
    external: true
"""
DOKPLOY_TOML = """\
[variables]
main_domain = "${domain}"
db_password = "${password:24}"
secret_key = "${base64:48}"
jwt = "${jwt:secret_key}"

[config]
env = [
  "APP_HOST=${main_domain}",
  "DATABASE_URL=postgres://app:${db_password}@db/app",
  "SECRET_KEY=${secret_key}",
  "DB_PASSWORD=${db_password}",
  "SMTP_PORT=587",
  "AUTH_JWT=${jwt}",
  "",
  "# a comment",
]

[[config.domains]]
serviceName = "web"
port = 8080
host = "${main_domain}"

[[config.mounts]]
filePath = "web.conf"
content = "listen 8080\\nsecret ${secret_key}\\nhome $HOME\\n"
"""


@pytest.fixture
def dokploy(tmp_path: Path) -> Path:
    folder = tmp_path / "blueprints" / "web-app"
    folder.mkdir(parents=True)
    (folder / "docker-compose.yml").write_text(DOKPLOY_COMPOSE)
    (folder / "template.toml").write_text(DOKPLOY_TOML)
    meta = {
        "id": "web-app",
        "name": "Web App",
        "version": "2.1.0",
        "description": "A web application with a database.",
        "logo": "web.svg",
        "links": {"github": "https://github.com/example/web", "website": "https://web.example"},
        "tags": ["web", "postgres"],
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    built = tmp_path / "blueprints" / "built"
    built.mkdir()
    (built / "docker-compose.yml").write_text("services:\n  app:\n    build: .\n")
    (tmp_path / "blueprints" / "empty").mkdir()
    return tmp_path


def test_dokploy_blueprint(dokploy: Path) -> None:
    report = import_catalog("dokploy", dokploy)
    assert (report.total, report.imported, report.rendered) == (3, 1, 1)
    outcome = next(o for o in report.outcomes if o.imported)
    template = outcome.template
    assert template is not None and outcome.lint_errors == 0
    assert template.id == "web-app" and template.version == "2.1.0"
    assert template.links.source == "https://github.com/example/web"
    assert template.logo and template.logo.endswith("/blueprints/web-app/web.svg")
    assert template.source.license == "MIT"
    assert template.source.attribution.endswith("/blueprints/web-app")  # type: ignore[union-attr]
    kinds = {p.name: (p.type, p.generate, p.charset) for p in template.parameters}
    assert kinds["MAIN_DOMAIN"] == ("domain", None, "alnum")
    assert kinds["DB_PASSWORD"] == ("password", 24, "alnum")
    assert kinds["SECRET_KEY"] == ("secret", 48, "base64")
    assert kinds["SMTP_PORT"] == ("port", None, "alnum")
    assert template.parameter("MODE") is not None  # compose-only variable, kept typed

    rendered = render(template, {"MAIN_DOMAIN": "app.example.com"}, stack_name="web")
    web = rendered.stack.services["web"]
    password = rendered.env["DB_PASSWORD"]
    assert web.environment["APP_URL"] == "https://app.example.com"
    assert web.environment["DATABASE_URL"] == f"postgres://app:{password}@db/app"
    assert rendered.stack.services["db"].environment["POSTGRES_PASSWORD"] == password
    assert web.environment["SMTP_PORT"] == "587" and web.environment["MODE"] == "production"
    assert web.command == ["sh", "-c", "echo $(date) && exec web"]
    content = rendered.stack.configs["web-conf"].content or ""
    assert f"secret {rendered.env['SECRET_KEY']}" in content and "home $HOME" in content
    assert [m.target for m in web.volumes] == ["/uploads", "/data"]
    assert "dokploy-network" not in rendered.compose and "container_name" not in rendered.compose

    notes = "\n".join(template.warnings)
    for expected in (
        "${MAIN_DOMAIN} -> web:8080",
        "container_name removed",
        "network dokploy-network",
        "../files/uploads has no content upstream",
        "lone $",
        "JWT: Dokploy makes a signed JWT here",
    ):
        assert expected in notes
    failed = next(o for o in report.outcomes if o.upstream == "blueprints/built")
    assert failed.reason == "service without image"
    missing = next(o for o in report.outcomes if o.upstream == "blueprints/empty")
    assert missing.reason == "missing compose file"


COOLIFY = """\
# documentation: https://app.example.com/docs
# slogan: An app with magic variables.
# category: monitoring
# tags: metrics, dashboards
# logo: svgs/app.svg
# port: 3000

services:
  app:
    image: example/app:1.0.0
    environment:
      - SERVICE_URL_APP_3000
      - PUBLIC_URL=${SERVICE_URL_APP}
      - HOST=${SERVICE_FQDN_APP}
      - DB_USER=${SERVICE_USER_POSTGRES}
      - DB_PASS=${SERVICE_PASSWORD_POSTGRES}
      - KEY=${SERVICE_BASE64_64_APP}
      - ENCRYPTION=${SERVICE_HEX_32_CRYPT}
      - TIMEZONE=${TZ:-UTC}
      - SMTP_PASSWORD=${SMTP_PASSWORD}
    exclude_from_hc: true
    volumes:
      - app-data:/data
      - type: bind
        source: ./app.ini
        target: /etc/app.ini
        content: |
          [server]
          root = $PWD
  postgres:
    image: postgres:16.4-alpine
    environment:
      POSTGRES_USER: ${SERVICE_USER_POSTGRES}
      POSTGRES_PASSWORD: ${SERVICE_PASSWORD_POSTGRES}
    volumes:
      - pg-data:/var/lib/postgresql/data
"""


def test_coolify_template(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(COOLIFY)
    report = import_catalog("coolify", tmp_path)
    outcome = report.outcomes[0]
    template = outcome.template
    assert template is not None and outcome.renders, outcome.render_error
    assert template.category == "monitoring" and template.tags == ["metrics", "dashboards"]
    assert template.description == "An app with magic variables."
    assert template.source.license == "Apache-2.0"
    kinds = {p.name: (p.type, p.generate, p.charset) for p in template.parameters}
    assert kinds["POSTGRES_PASSWORD"] == ("password", 32, "alnum")
    assert kinds["APP_SECRET"] == ("secret", 64, "alnum")
    assert kinds["CRYPT_SECRET"] == ("secret", 64, "hex")
    assert kinds["SMTP_PASSWORD"] == ("password", None, "alnum")  # the user's, not generated
    rendered = render(template, {"APP_DOMAIN": "app.example.com"}, stack_name="app")
    env = rendered.stack.services["app"].environment
    assert env["PUBLIC_URL"] == "https://app.example.com" and env["HOST"] == "app.example.com"
    assert env["DB_USER"] == "postgres" and env["TIMEZONE"] == "UTC"
    assert env["DB_PASS"] == rendered.stack.services["postgres"].environment["POSTGRES_PASSWORD"]
    assert len(env["ENCRYPTION"] or "") == 64 and "SERVICE_URL_APP_3000" not in env
    config = next(iter(rendered.stack.configs.values()))
    assert config.content == "[server]\nroot = $PWD\n"
    assert set(rendered.stack.volumes) == {"app-data", "pg-data"}
    notes = "\n".join(template.warnings)
    assert "exclude_from_hc: not a compose key" in notes and "app (port 3000)" in notes


CAPROVER = """\
captainVersion: 4
services:
    $$cap_appname:
        image: example/wiki:$$cap_version
        environment:
            DB_HOST: srv-captain--$$cap_appname-db
            DB_PASSWORD: $$cap_db_pass
            SITE: https://$$cap_appname.$$cap_root_domain
            PRICE: 5$
            SESSION: $$cap_gen_random_hex(16)
        volumes:
            - $$cap_appname-data:/data
        caproverExtra:
            containerHttpPort: '3000'
            websocketSupport: true
    $$cap_appname-db:
        image: postgres:16.4-alpine
        environment:
            POSTGRES_PASSWORD: $$cap_db_pass
        caproverExtra:
            notExposeAsWebApp: 'true'
    $$cap_appname-worker:
        caproverExtra:
            dockerfileLines:
                - FROM example/wiki:$$cap_version
                - ENV QUEUE=default
                - CMD worker --queue default
caproverOneClickApp:
    displayName: Wiki
    description: A wiki.
    documentation: See https://wiki.example.com/docs for more.
    instructions:
        start: A wiki.
        end: Your wiki is at https://$$cap_appname.$$cap_root_domain
    variables:
        - id: $$cap_version
          label: Version
          defaultValue: '3.2.1'
          validRegex: /^([^\\s^\\/])+$/
        - id: $$cap_db_pass
          label: Database password
          defaultValue: $$cap_gen_random_hex(20)
"""


def test_caprover_app(tmp_path: Path) -> None:
    (tmp_path / "wiki.yml").write_text(CAPROVER)
    (tmp_path / "old.yml").write_text("captainVersion: 2\nservices: {}\n")
    report = import_catalog("caprover", tmp_path)
    outcome = next(o for o in report.outcomes if o.upstream == "wiki.yml")
    template = outcome.template
    assert template is not None and outcome.renders, outcome.render_error
    assert template.name == "Wiki" and template.version == "3.2.1"
    assert template.links.docs == "https://wiki.example.com/docs"
    rendered = render(template, {}, stack_name="wiki")
    app, worker = rendered.stack.services["app"], rendered.stack.services["worker"]
    assert set(rendered.stack.services) == {"app", "db", "worker"}
    assert app.image == "example/wiki:3.2.1" and worker.image == "example/wiki:3.2.1"
    assert worker.command == ["/bin/sh", "-c", "worker --queue default"]
    assert worker.environment["QUEUE"] == "default"
    assert app.environment["DB_HOST"] == "db"
    assert app.environment["SITE"] == "https://wiki.example.com"
    assert app.environment["PRICE"] == "5$"
    assert len(app.environment["SESSION"] or "") == 16
    password = rendered.env["DB_PASS"]
    assert (
        len(password) == 20
        and rendered.stack.services["db"].environment["POSTGRES_PASSWORD"] == password
    )
    assert "app-data" in rendered.stack.volumes
    notes = "\n".join(template.warnings)
    assert "websocketSupport has no equivalent" in notes and "app (port 3000)" in notes
    assert "Your wiki is at https://{APPNAME}.{ROOT_DOMAIN}" in notes
    old = next(o for o in report.outcomes if o.upstream == "old.yml")
    assert old.reason == "captainVersion"


def test_import_catalog_refuses_unknown_kinds_and_missing_folders(tmp_path: Path) -> None:
    with pytest.raises(ImportFailure) as kind:
        import_catalog("portainer", tmp_path)  # type: ignore[arg-type]
    assert kind.value.hint and "dokploy" in kind.value.hint
    with pytest.raises(TemplateFileError):
        import_catalog("dokploy", tmp_path / "missing")


def test_command_line_prints_the_report(dokploy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dokploy", str(dokploy), "-v"]) == 0
    printed = capsys.readouterr().out
    assert "dokploy catalog at" in printed and "render + validate: 1 (33.3%)" in printed
    assert "blueprints/built:" in printed
