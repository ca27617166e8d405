"""lint_compose: a reviewer's reading of a compose file before it is deployed."""

from __future__ import annotations

import pytest

from tools.base import Caller, ConsumedApproval, ToolContext
from tools.compose_lint import LintReport, lint_compose
from windflow.errors import InvalidInput

# A production-minded stack: pinned images, restart policies, healthchecks, limits, the
# database reachable only on the stack network, its password passed at deploy time.
GOOD = """
services:
  web:
    image: nginx:1.27.2
    restart: unless-stopped
    ports: ["8080:80"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1/"]
      interval: 10s
    deploy:
      resources:
        limits: {cpus: "0.50", memory: 128M}
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
  db:
    image: postgres:16.4
    restart: unless-stopped
    environment:
      POSTGRES_USER: shop
      POSTGRES_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD}
    healthcheck:
      test: pg_isready -U shop
      interval: 5s
    volumes: [pgdata:/var/lib/postgresql/data]
    deploy:
      resources:
        limits: {cpus: "1", memory: 512M}
  migrate:
    image: x/migrate@sha256:4c7a1b2e9f0d3c5a6b8e7f1d2c3b4a5e6f7d8c9b0a1e2f3d4c5b6a7e8f9d0c1b
    command: ["migrate", "up"]
    mem_limit: 64m
    cpus: 0.25
volumes:
  pgdata: {}
"""


class NoLedger:
    async def consume(self, **_: object) -> ConsumedApproval:
        raise AssertionError("a read tool never consumes an approval")


async def run(compose: str, **extra: str) -> LintReport:
    """Through the tool's own entry point, as the assistant calls it: no target at all."""
    ctx = ToolContext(caller=Caller("u1", "o1"), target=None, adapter=None, ledger=NoLedger())
    return await lint_compose.execute(ctx, lint_compose.parse({"compose": compose, **extra}))


def rules(report: LintReport) -> dict[str, str]:
    return {f.rule: f.severity for f in report.findings}


async def test_a_careful_compose_file_passes_with_a_high_score() -> None:
    report = await run(GOOD, name="shop")
    assert report.ok and report.stack == "shop"
    assert report.score == 100, report
    assert {f.severity for f in report.findings} == {"info"}
    notes = {f.rule for f in report.findings}
    # Hardening suggestions the file does not follow yet, and the web port on all addresses.
    assert notes == {
        "required_variables",
        "runs_as_root",
        "writable_root_fs",
        "privilege_escalation",
        "capabilities_kept",
        "port_all_interfaces",
    }
    (note,) = [f for f in report.findings if f.rule == "required_variables"]
    assert "DB_PASSWORD" in note.message


def service(body: str, name: str = "app") -> str:
    return f"services:\n  {name}:\n" + "".join(f"    {line}\n" for line in body.splitlines())


LIMITS = "deploy: {resources: {limits: {cpus: '1', memory: 64M}}}\n"
# Appended to a minimal service so that only the rule under test fires.
CLEAN = "restart: always\nhealthcheck: {test: [CMD, 'true']}\n" + LIMITS


@pytest.mark.parametrize(
    ("rule", "severity", "compose"),
    [
        ("image_unpinned", "warning", service("image: nginx\n" + CLEAN)),
        ("image_unpinned", "warning", service("image: registry:5000/team/app:latest\n" + CLEAN)),
        ("missing_restart_policy", "warning", service("image: app:1\n" + CLEAN.split("\n", 1)[1])),
        ("missing_healthcheck", "warning", service("image: app:1\nrestart: always\n")),
        ("healthcheck_disabled", "info", service("image: app:1\nhealthcheck: {disable: true}\n")),
        ("missing_resource_limits", "warning", service("image: app:1\nrestart: always\n")),
        (
            "missing_cpu_limit",
            "info",
            service("image: app:1\ndeploy: {resources: {limits: {memory: 64M}}}\n"),
        ),
        ("privileged", "warning", service("image: app:1\nprivileged: true\n" + CLEAN)),
        ("host_network", "warning", service("image: app:1\nnetwork_mode: host\n" + CLEAN)),
        ("host_namespace", "warning", service("image: app:1\npid: host\n" + CLEAN)),
        (
            "docker_socket",
            "warning",
            service("image: app:1\nvolumes: [/var/run/docker.sock:/var/run/docker.sock:ro]\n"),
        ),
        (
            "plaintext_secret",
            "error",
            service("image: app:1\nenvironment: {API_KEY: abcdef123456}\n" + CLEAN),
        ),
        (
            "database_port_exposed",
            "warning",
            service("image: bitnami/postgresql:16\nports: ['5432:5432']\n" + CLEAN, "db"),
        ),
        (
            "database_port_exposed",
            "warning",
            service("image: redis:7\nports: ['0.0.0.0:6379:6379']\n"),
        ),
        ("container_name", "warning", service("image: app:1\ncontainer_name: app\n" + CLEAN)),
        ("build_without_image", "error", service("build: .\n" + CLEAN)),
        ("build_ignored", "info", service("build: .\nimage: registry.example.com/app:1\n" + CLEAN)),
    ],
)
async def test_each_rule_fires_on_a_minimal_example(rule: str, severity: str, compose: str) -> None:
    report = await run(compose)
    found = [f for f in report.findings if f.rule == rule]
    assert found, (rule, report.findings)
    assert found[0].severity == severity
    assert found[0].service in ("app", "db") and found[0].fix and found[0].line
    assert report.ok is (severity != "error")
    if severity != "info":  # notes do not cost points
        assert report.score < 100


HARDENED = (
    "user: '1000:1000'\nread_only: true\nsecurity_opt: [no-new-privileges:true]\ncap_drop: [ALL]\n"
)


@pytest.mark.parametrize(
    ("rule", "severity", "body"),
    [
        ("runs_as_root", "info", "image: app:1\nuser: root\n"),
        ("writable_root_fs", "info", "image: app:1\n"),
        ("privilege_escalation", "info", "image: app:1\n"),
        ("capabilities_kept", "info", "image: app:1\ncap_drop: [NET_RAW]\n"),
        ("port_all_interfaces", "info", "image: app:1\nports: ['8080:80']\n"),
        ("sensitive_host_mount", "warning", "image: app:1\nvolumes: ['/etc:/host-etc:ro']\n"),
        ("sensitive_host_mount", "warning", "image: app:1\nvolumes: ['/:/host']\n"),
    ],
)
async def test_hardening_rules(rule: str, severity: str, body: str) -> None:
    report = await run(service(body + CLEAN))
    assert {f.rule: f.severity for f in report.findings}.get(rule) == severity, report.findings
    hardened = await run(service("image: app:1\n" + HARDENED + CLEAN))
    assert not hardened.findings, hardened.findings


async def test_obsolete_version_key_and_public_ports() -> None:
    report = await run("version: '3.8'\n" + service("image: app:1\n" + HARDENED + CLEAN))
    (finding,) = report.findings
    assert (finding.rule, finding.line, finding.service) == ("obsolete_version", 1, None)
    public = service(
        "image: app:1\nports: ['443:443']\nlabels: {windflow.lint.public: 'true'}\n"
        + HARDENED
        + CLEAN
    )
    assert not (await run(public)).findings


async def test_a_label_suppresses_named_rules_per_service_and_says_so() -> None:
    compose = (
        "services:\n"
        "  agent:\n"
        "    image: monitor/agent:2.1\n"
        "    volumes: [/var/run/docker.sock:/var/run/docker.sock:ro, /proc:/host/proc:ro]\n"
        "    labels:\n"
        "      windflow.lint.ignore: docker_socket,sensitive_host_mount\n"
        "      windflow.lint.reason: the agent reads container and host metrics\n"
        + "".join(f"    {line}\n" for line in (HARDENED + CLEAN).splitlines())
        + "  other:\n"
        "    image: app:1\n"
        "    volumes: [/etc:/host-etc:ro]\n"
        + "".join(f"    {line}\n" for line in (HARDENED + CLEAN).splitlines())
    )
    report = await run(compose)
    assert report.suppressed == ["agent/docker_socket", "agent/sensitive_host_mount"]
    assert [(f.service, f.rule) for f in report.findings] == [("other", "sensitive_host_mount")]
    broken = await run("services:\n  x:\n    build: .\n    labels: {windflow.lint.ignore: all}\n")
    assert not broken.ok  # what makes a file unusable cannot be silenced


async def test_safe_variants_do_not_fire() -> None:
    compose = service(
        "image: postgres:16.4\nports: ['127.0.0.1:5432:5432']\n"
        "environment: [POSTGRES_PASSWORD_FILE=/run/secrets/pw, 'DB_PASSWORD=${DB_PASSWORD}']\n"
        + HARDENED
        + CLEAN,
        "db",
    )
    report = await run(compose)
    assert rules(report) == {}, report.findings
    assert report.score == 100 and report.ok


async def test_a_one_shot_job_needs_no_restart_policy_or_healthcheck() -> None:
    compose = service("image: app:1\nrestart: 'no'\n" + HARDENED + LIMITS)
    assert rules(await run(compose)) == {}


async def test_findings_point_at_the_line_and_suggest_a_snippet() -> None:
    report = await run(service("image: app:1\nprivileged: true\n" + CLEAN))
    (finding,) = [f for f in report.findings if f.rule == "privileged"]
    assert finding.line == 4
    assert "cap_add" in finding.fix
    redis = await run(service("image: redis:7.2\nrestart: always\n"))
    (check,) = [f for f in redis.findings if f.rule == "missing_healthcheck"]
    assert "redis-cli" in check.fix and check.fix.startswith("healthcheck:")


@pytest.mark.parametrize(
    ("compose", "rule", "line"),
    [
        ("services:\n  web:\n    image: nginx:1.27\n   ports: [80\n", "yaml_syntax", 4),
        ("services:\n  web:\n    image: nginx:1.27\n    imagee: typo\n", "invalid_compose", 4),
        (
            "services:\n  web:\n    image: nginx:1.27\n    ports: ['99999:80']\n",
            "invalid_compose",
            4,
        ),
        ("just a string\n", "invalid_compose", 1),
        ("", "invalid_compose", None),
    ],
)
async def test_a_broken_file_is_a_clear_report_not_an_exception(
    compose: str, rule: str, line: int | None
) -> None:
    report = await run(compose)
    assert not report.ok and report.score == 0
    assert report.findings[0].rule == rule and report.findings[0].severity == "error"
    assert report.findings[0].line == line
    assert report.summary.startswith("The compose file cannot be used")


async def test_secret_values_never_appear_in_the_report() -> None:
    values = ["Sup3r-S3cret-Value", "s3cr3tpw-in-url", "tok_9f8e7d6c5b4a", "Tr0ub4dor&3$"]
    compose = f"""
services:
  api:
    image: example/api:1.0
    environment:
      DB_PASSWORD: "{values[0]}"
      DATABASE_URL: postgres://shop:{values[1]}@db:5432/shop
  worker:
    image: example/worker:1.0
    environment:
      - GITHUB_TOKEN={values[2]}
"""
    report = await run(compose)
    assert {(f.service, f.rule) for f in report.findings if f.severity == "error"} == {
        ("api", "plaintext_secret"),
        ("worker", "plaintext_secret"),
    }
    assert sum(f.rule == "plaintext_secret" for f in report.findings) == 3
    dumped = report.model_dump_json()
    assert not [v for v in values if v in dumped]
    # A stray "$" breaks interpolation and the parser's message quotes the value: masked.
    broken = await run(service(f'image: app:1\nenvironment: {{DB_PASSWORD: "{values[3]}"}}'))
    assert not broken.ok and "invalid interpolation" in broken.findings[0].message
    assert values[3] not in broken.model_dump_json()


def test_the_tool_is_a_strict_read_tool_without_a_target() -> None:
    assert (lint_compose.risk, lint_compose.permission, lint_compose.targets) == (
        "read",
        "stacks:read",
        frozenset(),
    )
    for bad in (
        {"compose": GOOD, "surprise": 1},
        {"compose": GOOD, "name": "Not A Name"},
        {"compose": "x" * 200_001},
        {},
    ):
        with pytest.raises(InvalidInput):
            lint_compose.parse(bad)
