"""The three importers on whole upstream catalogs (local copies, read-only).

The copies live in /work/shared/catalogs (or $WINDFLOW_CATALOGS); without them these
tests are skipped. Each catalog is imported once per module; the report summaries and
top failure reasons are printed (run with -s to see them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge.importers import ImportReport, import_catalog
from knowledge.templates import render

ROOT = Path(os.environ.get("WINDFLOW_CATALOGS", "/work/shared/catalogs"))
LICENSES = {"dokploy": "MIT", "coolify": "Apache-2.0", "caprover": "Apache-2.0"}


def _import(kind: str) -> ImportReport:
    path = ROOT / kind
    if not path.is_dir():
        pytest.skip(f"no {kind} catalog copy at {path}")
    report = import_catalog(kind, path)  # type: ignore[arg-type]
    print()
    print(report.summary(top=10))
    return report


@pytest.fixture(scope="module")
def dokploy() -> Iterator[ImportReport]:
    yield _import("dokploy")


@pytest.fixture(scope="module")
def coolify() -> Iterator[ImportReport]:
    yield _import("coolify")


@pytest.fixture(scope="module")
def caprover() -> Iterator[ImportReport]:
    yield _import("caprover")


def _by_id(report: ImportReport, template_id: str):  # type: ignore[no-untyped-def]
    return next(o for o in report.outcomes if o.template_id == template_id)


def _check_report(report: ImportReport, minimum: float) -> None:
    assert report.total > 300
    assert report.rate(report.rendered) >= minimum, report.summary()
    for outcome in report.outcomes:
        # Every entry is accounted for: imported, or an error with a reason to group by.
        assert outcome.imported or (outcome.error and outcome.reason), outcome.upstream
        if outcome.imported and not outcome.renders:
            assert outcome.render_error and outcome.reason
    for template in report.templates():
        assert template.source.kind == report.kind
        assert template.source.license == LICENSES[report.kind]
        assert template.source.attribution and template.source.path
        assert all(not p.secret or p.default is None for p in template.parameters)


def test_whole_dokploy_catalog_imports_and_renders(dokploy: ImportReport) -> None:
    _check_report(dokploy, 0.90)
    assert dokploy.rate(dokploy.lint_clean) >= 0.85


def test_coolify_catalog_mostly_imports_and_renders(coolify: ImportReport) -> None:
    _check_report(coolify, 0.80)


def test_caprover_catalog_mostly_imports_and_renders(caprover: ImportReport) -> None:
    _check_report(caprover, 0.80)


def test_dokploy_fixed_secrets_become_generated_parameters(dokploy: ImportReport) -> None:
    ghost = _by_id(dokploy, "ghost").template
    assert ghost is not None
    rendered = render(ghost, {}, stack_name="ghost")
    app, db = rendered.stack.services["ghost"], rendered.stack.services["db"]
    # The same literal upstream ("example") is one generated value, used in both places.
    password = db.environment["MYSQL_ROOT_PASSWORD"] or ""
    assert password != "example" and len(password) == 32
    assert app.environment["database__connection__password"] == password
    assert app.environment["url"] == "http://ghost.localhost"
    assert any("a fixed secret became the generated" in w for w in ghost.warnings)
    assert any("ghost:2368" in w and "routes" in w for w in ghost.warnings)


def test_dokploy_mounts_become_configs_and_secrets_stay_references(dokploy: ImportReport) -> None:
    valkey = _by_id(dokploy, "valkey").template
    assert valkey is not None
    rendered = render(valkey, {}, stack_name="cache")
    assert "requirepass ${VALKEY_PASSWORD}" in rendered.compose
    config = rendered.stack.configs["valkey-conf"]
    assert config.content and f"requirepass {rendered.env['VALKEY_PASSWORD']}" in config.content
    service = rendered.stack.services["valkey"]
    assert [ref.target for ref in service.configs] == ["/etc/valkey/valkey.conf"]
    assert any("not strict TOML" in w for w in valkey.warnings)


def test_dokploy_build_only_services_are_per_template_errors(dokploy: ImportReport) -> None:
    failed = next(o for o in dokploy.outcomes if o.upstream == "blueprints/firecrawl")
    assert not failed.imported and failed.reason == "service without image"
    assert failed.error and "builds its image from source" in failed.error


def test_coolify_magic_variables(coolify: ImportReport) -> None:
    ghost = _by_id(coolify, "ghost").template
    assert ghost is not None
    kinds = {p.name: (p.type, p.generate) for p in ghost.parameters}
    assert kinds["MYSQL_PASSWORD"] == ("password", 32)
    assert kinds["MYSQLROOT_PASSWORD"] == ("password", 32)
    assert kinds["GHOST_DOMAIN"] == ("domain", None)
    assert kinds["MAIL_OPTIONS_PORT"] == ("port", None)
    assert "SERVICE_" not in ghost.compose
    rendered = render(ghost, {}, stack_name="blog")
    env = rendered.stack.services["ghost"].environment
    assert env["url"] == "https://ghost.localhost"
    assert env["database__connection__password"] == rendered.env["MYSQL_PASSWORD"]
    assert (
        rendered.stack.services["mysql"].environment["MYSQL_PASSWORD"]
        == env["database__connection__password"]
    )
    assert any("ghost (port 2368)" in w for w in ghost.warnings)
    assert ghost.links.homepage == "https://ghost.org"
    assert ghost.category == "cms"


def test_caprover_variables_services_and_hostnames(caprover: ImportReport) -> None:
    ghost = _by_id(caprover, "ghost").template
    assert ghost is not None
    rendered = render(ghost, {}, stack_name="blog")
    assert set(rendered.stack.services) == {"app", "db"}
    app = rendered.stack.services["app"]
    assert app.image == f"ghost:{ghost.version}"
    assert app.environment["database__connection__host"] == "db"
    password = rendered.env["DB_PASSWORD"]
    assert len(password) == 12 and int(password, 16) >= 0
    assert rendered.stack.services["db"].environment["MYSQL_PASSWORD"] == password
    assert "$$cap_" not in ghost.compose and "caproverExtra" not in ghost.compose
    assert any(w.startswith("after deploying, upstream says:") for w in ghost.warnings)


def test_caprover_dockerfile_lines_become_image_and_command(caprover: ImportReport) -> None:
    bot = _by_id(caprover, "yagpdb").template
    assert bot is not None
    service = render(bot, {}, stack_name="bot").stack.services["app"]
    assert service.image and service.image.startswith("teyker/yagpdb:")
    assert service.command and service.command[0] == "/app/yagpdb"
    building = [o for o in caprover.outcomes if o.reason == "image built from dockerfileLines"]
    assert building and all("RUN" in (o.error or "") or "ARG" in (o.error or "") for o in building)
