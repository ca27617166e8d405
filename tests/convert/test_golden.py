"""Every case converted to every target equals its golden output, which is valid."""

from __future__ import annotations

import pytest
import yaml

from tests.convert.cases import NAMES, check_golden, converted
from tools.convert import validate
from tools.convert.helm import to_helm
from tools.convert.kubernetes import build_tree, to_kubernetes
from tools.convert.tree import refs, resolve, template, template_refs

SCHEMA_TARGETS = ("swarm", "kubernetes", "helm")


def test_there_are_enough_cases() -> None:
    assert len(NAMES) >= 15


@pytest.mark.parametrize("target", SCHEMA_TARGETS)
@pytest.mark.parametrize("case", NAMES)
def test_conversion_matches_golden_and_validates(case: str, target: str) -> None:
    conversion = converted(case, target)
    check_golden(case, target, conversion)
    report = validate(conversion)
    assert report.ok, report.issues


@pytest.mark.parametrize("case", NAMES)
def test_vagrantfile_matches_golden(case: str) -> None:
    check_golden(case, "vagrant", converted(case, "vagrant"))


@pytest.mark.parametrize("case", NAMES)
def test_helm_chart_renders_the_kubernetes_manifests_by_construction(case: str) -> None:
    from tests.convert.cases import CASES, load

    stack = load(case)
    chart = to_helm(stack, base_dir=CASES / case)
    manifests = to_kubernetes(stack, namespace="release-ns", base_dir=CASES / case)
    tree, values, _ = build_tree(stack, CASES / case)
    stored_values = yaml.safe_load(chart.files["values.yaml"]) or {}
    assert stored_values == values.data
    # The chart's objects with default values are exactly the manifests.
    assert resolve(tree, "release-ns") == manifests.objects
    templates = {k: v for k, v in chart.files.items() if k.endswith(".yaml") and "/" in k}
    assert len(templates) == len(manifests.objects)
    for obj in tree:
        name = f"templates/{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        assert templates[name] == template(obj)
        # Each value a template reads exists in values.yaml and holds the leaf's default.
        read = template_refs(templates[name])
        assert read == [ref.path for ref in refs(obj)]
        for ref in refs(obj):
            assert values.lookup(ref.path) == ref.default
    chart_yaml = yaml.safe_load(chart.files["Chart.yaml"])
    assert chart_yaml["apiVersion"] == "v2" and chart_yaml["version"]
    assert "templates/_helpers.tpl" in chart.files and "templates/NOTES.txt" in chart.files


def test_unmappable_fields_are_reported_not_dropped() -> None:
    for target in ("swarm", "kubernetes"):
        fields = {(u.service, u.field) for u in converted("unmappable", target).unmapped}
        for expected in [
            ("sidecar", "network_mode"),
            ("app", "devices"),
            ("app", "ipc"),
            ("app", "pid"),
            ("app", "links"),
            ("app", "build"),
        ]:
            assert expected in fields, (target, expected)


def test_kubernetes_version_without_bundled_schemas_is_a_clear_error() -> None:
    from windflow.errors import InvalidInput

    with pytest.raises(InvalidInput, match=r"no offline OpenAPI schemas for Kubernetes 1\.20"):
        validate(converted("web-db-cache", "kubernetes"), kubernetes_version="1.20")
    assert validate(converted("web-db-cache", "kubernetes"), kubernetes_version="1.25").ok


def test_chart_validation_catches_a_missing_value() -> None:
    conversion = converted("web-db-cache", "helm")
    values = yaml.safe_load(conversion.files["values.yaml"])
    del values["services"]["api"]["image"]
    conversion.files["values.yaml"] = yaml.safe_dump(values)
    report = validate(conversion)
    assert [(i.file, i.problem) for i in report.issues] == [
        (
            "templates/deployment-api.yaml",
            "reads .Values.services.api.image, which values.yaml lacks",
        )
    ]


def test_schema_validation_catches_a_broken_manifest() -> None:
    conversion = converted("web-db-cache", "kubernetes")
    name = next(k for k in conversion.files if "deployment-api" in k)
    broken = conversion.files[name].replace("containerPort", "containerPortt")
    conversion.files[name] = broken
    report = validate(conversion)
    assert not report.ok
    assert any("containerPortt" in issue.problem for issue in report.issues)
