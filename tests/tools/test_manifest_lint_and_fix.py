"""The Kubernetes linter, the compose fixer and `windflow lint`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tools.compose_fix import fix_compose_text
from tools.convert import convert_text
from tools.manifest_lint import lint_manifests_text
from tools.stack import load_stack

HARDENED = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 1000}
      containers:
      - name: web
        image: nginx:1.27.2
        resources:
          requests: {cpu: 100m, memory: 64Mi}
          limits: {memory: 128Mi, ephemeral-storage: 1Gi}
        readinessProbe: {httpGet: {path: /ready, port: 8080}}
        livenessProbe: {tcpSocket: {port: 8080}}
        securityContext:
          readOnlyRootFilesystem: true
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web}
spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress]}
"""

RISKY = """
apiVersion: extensions/v1beta1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 3
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      hostNetwork: true
      volumes: [{name: root, hostPath: {path: /}}]
      containers:
      - name: api
        image: example/api:latest
        env: [{name: DB_PASSWORD, value: hunter2hunter2}]
        readinessProbe: {httpGet: {path: /health, port: 80}}
        livenessProbe: {httpGet: {path: /health, port: 80}}
        securityContext: {privileged: true}
"""


def rules(text: str) -> dict[str, str]:
    return {f.rule: f.severity for f in lint_manifests_text(text).findings}


def test_hardened_manifests_have_no_findings() -> None:
    report = lint_manifests_text(HARDENED)
    assert report.findings == [] and report.ok and report.score == 100, report.findings


def test_risky_manifests_are_explained_rule_by_rule() -> None:
    found = rules(RISKY)
    assert found == {
        "deprecated_api": "error",
        "privileged": "error",
        "plaintext_secret": "error",
        "image_unpinned": "warning",
        "host_namespace": "warning",
        "sensitive_host_mount": "warning",
        "missing_resources": "warning",
        "identical_probes": "warning",
        "runs_as_root": "warning",
        "privilege_escalation": "warning",
        "no_pod_disruption_budget": "warning",
        "missing_ephemeral_storage_limit": "info",
        "writable_root_fs": "info",
        "capabilities_kept": "info",
        "no_network_policy": "info",
    }
    report = lint_manifests_text(RISKY)
    deprecated = next(f for f in report.findings if f.rule == "deprecated_api")
    assert "1.16" in deprecated.message and deprecated.fix == "apiVersion: apps/v1"
    assert not report.ok and all(f.fix for f in report.findings)
    assert "hunter2" not in json.dumps(report.model_dump())


def test_an_annotation_silences_rules_and_the_report_says_so() -> None:
    silenced = RISKY.replace(
        "metadata: {labels: {app: api}}",
        "metadata:\n      labels: {app: api}\n"
        "      annotations: {windflow.io/lint-ignore: 'host_namespace,sensitive_host_mount'}",
    )
    report = lint_manifests_text(silenced)
    assert sorted(report.suppressed) == [
        "Deployment/api/host_namespace",
        "Deployment/api/sensitive_host_mount",
    ]
    assert "host_namespace" not in {f.rule for f in report.findings}


def test_malformed_yaml_is_a_finding_with_its_line() -> None:
    report = lint_manifests_text("apiVersion: v1\nkind: [Pod\n")
    (finding,) = report.findings
    assert finding.rule == "yaml_syntax" and finding.line == 3 and not report.ok


def test_converted_manifests_have_no_error_findings() -> None:
    compose = Path("tests/convert/cases/web-db-cache/docker-compose.yml").read_text()
    conversion = convert_text(compose, "kubernetes", name="shop")
    report = lint_manifests_text(conversion.files["manifests.yaml"])
    assert report.ok, [f for f in report.findings if f.severity == "error"]


RISKY_COMPOSE = """version: "3.8"
services:
  db:
    image: postgres:16.4
    ports: ["5432:5432"]
    volumes: [pg:/var/lib/postgresql/data]
    deploy: {resources: {limits: {cpus: "1", memory: 256M}}}
  web:
    image: nginx:1.27.2
    ports: ["127.0.0.1:8080:80"]
    restart: always
    healthcheck: {test: [CMD, wget, -q, -O-, http://127.0.0.1/]}
    deploy: {resources: {limits: {cpus: "0.5", memory: 64M}}}
volumes: {pg: {}}
"""


def test_safe_fixes_are_applied_and_the_result_still_loads() -> None:
    result = fix_compose_text(RISKY_COMPOSE, "shop")
    assert sorted({(a.rule, a.service) for a in result.applied}) == [
        ("database_port_exposed", "db"),
        ("missing_healthcheck", "db"),
        ("missing_restart_policy", "db"),
        ("obsolete_version", None),
        ("privilege_escalation", "db"),
        ("privilege_escalation", "web"),
    ]
    stack = load_stack(result.compose, name="shop")
    assert stack.services["db"].ports[0].host_ip == "127.0.0.1"
    assert stack.services["db"].volumes[0].source == "pg"  # data stays where it was
    left = {f.rule for f in result.report.findings}
    assert not left & {
        "obsolete_version",
        "missing_restart_policy",
        "privilege_escalation",
        "missing_healthcheck",
        "database_port_exposed",
    }
    again = fix_compose_text(result.compose, "shop")
    assert again.applied == [] and again.compose == result.compose


runner = CliRunner()


def test_windflow_lint_exit_codes_json_and_fix(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(RISKY_COMPOSE)
    listed = runner.invoke(app, ["lint", str(compose)])
    assert listed.exit_code == 0, listed.output  # warnings only; --fail-on is error
    assert "database_port_exposed" in listed.output and "fix:" in listed.output
    strict = runner.invoke(app, ["lint", str(compose), "--fail-on", "warning", "--json"])
    assert strict.exit_code == 1
    payload = json.loads(strict.output)
    assert payload["kind"] == "compose" and payload["report"]["findings"]
    fixed = runner.invoke(app, ["lint", str(compose), "--fix", "--write"])
    assert fixed.exit_code == 0 and "fixed: db: restart: unless-stopped" in fixed.output
    assert "version:" not in compose.read_text()
    manifests = tmp_path / "k8s.yaml"
    manifests.write_text(RISKY)
    k8s = runner.invoke(app, ["lint", str(manifests), "--json"])
    assert k8s.exit_code == 1 and json.loads(k8s.output)["kind"] == "kubernetes"
    missing = runner.invoke(app, ["lint", str(tmp_path / "nope.yml")])
    assert missing.exit_code == 2 and "cannot read" in missing.output


@pytest.mark.parametrize("kind", ["compose", "kubernetes"])
def test_windflow_lint_reports_bad_yaml_with_its_line(tmp_path: Path, kind: str) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("services:\n  web:\n    image: [nginx\n")
    result = runner.invoke(app, ["lint", str(bad), "--kind", kind])
    assert result.exit_code == 1 and "yaml_syntax" in result.output and ":4" in result.output
