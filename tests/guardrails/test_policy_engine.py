"""The policy engine on its own: documents, effective configs, windows, approvals.

Pure functions over real parsers (the compose loader and the Kubernetes manifest parser
the tools use), so these run in milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from guardrails.policies.document import parse_policy
from guardrails.policies.engine import (
    approval_requirement,
    image_allowed,
    window_violations,
    workload_violations,
)
from guardrails.policies.workloads import of_manifests, of_stack
from guardrails.rbac import Role
from tools.stack import load_stack
from windflow.errors import InvalidInput

STRICT = """\
version: 1
rules:
  - name: prod-hardening
    match: {environments: [prod]}
    workloads:
      max_replicas: 3
      allowed_images: ["registry.example.com/*", "docker.io/library/postgres:16*"]
      forbid_privileged: true
      forbid_capabilities: [NET_ADMIN, SYS_ADMIN]
      forbid_host_mounts: true
      forbid_host_network: true
"""

BAD_COMPOSE = """\
services:
  web:
    image: nginx:1.27
    privileged: true
    cap_add: [NET_ADMIN, CHOWN]
    network_mode: host
    volumes:
      - /etc:/host-etc:ro
    deploy:
      replicas: 5
  db:
    image: postgres:16.4
"""

BAD_MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 8
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      hostNetwork: true
      volumes:
        - name: root
          hostPath: {path: /}
      containers:
        - name: app
          image: quay.io/evil/miner:latest
          securityContext:
            privileged: true
            capabilities: {add: [CAP_SYS_ADMIN]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: job
              image: registry.example.com/tools/backup:2
"""


def _found(violations: list, needle: str) -> bool:
    return any(needle in v.found for v in violations)


def test_every_violation_of_a_compose_stack_is_explained() -> None:
    rules = parse_policy(STRICT).matching("prod-1", "prod")
    config = of_stack(load_stack(BAD_COMPOSE, name="blog"))
    violations = workload_violations(rules, config)
    assert _found(violations, "service web uses image nginx:1.27")
    assert _found(violations, "service web runs privileged")
    assert _found(violations, "adds capabilities NET_ADMIN")
    assert not _found(violations, "CHOWN"), "only the forbidden capabilities are reported"
    assert _found(violations, "mounts from the host: /etc -> /host-etc")
    assert _found(violations, "shares the host's network")
    assert _found(violations, "service web asks for 5 replicas")
    assert not _found(violations, "service db"), "postgres:16.4 matches docker.io/library/..."
    assert len(violations) == 6
    for violation in violations:
        assert violation.rule == "prod-hardening" and violation.comply


def test_kubernetes_manifests_are_judged_per_container() -> None:
    rules = parse_policy(STRICT).matching(None, "prod")
    violations = workload_violations(rules, of_manifests(BAD_MANIFESTS))
    assert _found(violations, "Deployment/api container app uses image quay.io/evil/miner")
    assert _found(violations, "Deployment/api container app runs privileged")
    assert _found(violations, "adds capabilities SYS_ADMIN")
    assert _found(violations, "hostPath / (volume root)")
    assert _found(violations, "shares the host's network")
    assert _found(violations, "Deployment/api asks for 8 replicas")
    assert not _found(violations, "CronJob/nightly"), "its image is in the allowed registry"


def test_rules_match_by_target_name_or_environment() -> None:
    document = parse_policy(
        "rules:\n"
        "  - {name: everywhere}\n"
        "  - {name: prod, match: {environments: [Prod]}}\n"
        "  - {name: db-host, match: {targets: [db-1]}}\n"
    )
    assert [r.name for r in document.matching("web-1", "dev")] == ["everywhere"]
    assert [r.name for r in document.matching("web-1", "prod")] == ["everywhere", "prod"]
    assert [r.name for r in document.matching("db-1", "dev")] == ["everywhere", "db-host"]


def test_images_match_globs_on_the_name_as_written_or_fully_qualified() -> None:
    assert image_allowed("postgres:16", ["docker.io/library/postgres:*"])
    assert image_allowed("bitnami/redis:7", ["docker.io/bitnami/*"])
    assert image_allowed("registry.example.com/a/b:1", ["registry.example.com/*"])
    assert not image_allowed("registry.example.com.evil.io/a:1", ["registry.example.com/*"])
    assert not image_allowed("nginx", [])


WINDOW = """\
rules:
  - name: office-hours
    change_window: {timezone: Europe/Paris, days: [mon, tue, wed, thu, fri], hours: "09:00-17:00"}
"""


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (datetime(2026, 11, 24, 9, 30, tzinfo=UTC), True),  # Tuesday 10:30 in Paris
        (datetime(2026, 11, 24, 16, 30, tzinfo=UTC), False),  # Tuesday 17:30 in Paris
        (datetime(2026, 11, 28, 10, 0, tzinfo=UTC), False),  # Saturday
    ],
)
def test_change_windows_are_read_in_their_time_zone(moment: datetime, inside: bool) -> None:
    rules = parse_policy(WINDOW).rules
    violations, _ = window_violations(rules, moment, Role.OPERATOR, emergency=False)
    assert (not violations) is inside
    if violations:
        assert "outside the change window" in violations[0].found
        assert "emergency" in violations[0].comply


def test_only_an_admin_may_override_a_closed_window() -> None:
    rules = parse_policy(WINDOW).rules
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    refused, overridden = window_violations(rules, saturday, Role.OPERATOR, emergency=True)
    assert overridden == [] and "needs role admin" in refused[0].comply
    refused, overridden = window_violations(rules, saturday, Role.ADMIN, emergency=True)
    assert refused == [] and overridden == ["office-hours"]


def test_the_strictest_approval_rule_wins() -> None:
    document = parse_policy(
        "rules:\n"
        "  - name: base\n"
        "    approvals: {mutate: {min_role: operator, approvers: 1}}\n"
        "  - name: prod\n"
        "    match: {environments: [prod]}\n"
        "    approvals:\n"
        "      forbid_self_approval: true\n"
        "      mutate: {min_role: admin, approvers: 2}\n"
        "      destructive: {min_role: owner, approvers: 0}\n"
    )
    dev = approval_requirement(document.matching("x", "dev"), "mutate")
    assert dev is not None and (dev.min_role, dev.approvers) == (Role.OPERATOR, 1)
    assert not dev.forbid_self_approval
    prod = approval_requirement(document.matching("x", "prod"), "mutate")
    assert prod is not None and (prod.min_role, prod.approvers) == (Role.ADMIN, 2)
    assert prod.forbid_self_approval and prod.rules == ("base", "prod")
    destructive = approval_requirement(document.matching("x", "prod"), "destructive")
    assert destructive is not None and destructive.approvers == 0, "0 refuses the change"
    assert approval_requirement(parse_policy("rules: []").rules, "mutate") is None


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("rules:\n  - name: a\n    match: {environments: [prod]\n", 4, "not valid YAML"),
        ("rules:\n  - name: a\n    workloads:\n      max_replica: 3\n", 4, "max_replica"),
        (
            "version: 1\nrules:\n  - name: a\n    change_window:\n      timezone: Mars/Base\n",
            5,
            "unknown time zone",
        ),
        ("rules:\n  - name: a\n    approvals:\n      mutate: {min_role: boss}\n", 4, "min_role"),
        ("rules:\n  - name: a\n    change_window: {hours: '18:00-09:00'}\n", 3, "end before"),
    ],
)
def test_bad_documents_are_refused_with_their_line(text: str, line: int, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_policy(text)
    assert f"line {line}" in caught.value.message, caught.value.message
    assert words in caught.value.message
    assert caught.value.details["errors"][0]["line"] == line


def test_an_emergency_override_cannot_be_given_to_operators() -> None:
    with pytest.raises(InvalidInput, match="emergency override needs admin"):
        parse_policy("rules:\n  - name: a\n    change_window: {emergency_min_role: operator}\n")
