"""Converted output on real engines: kube-apiserver dry-run apply, Swarm deploy, vagrant."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from tests.adapters.test_kubernetes import spec_for
from tests.convert.cases import NAMES, converted
from tests.infra.docker_engine import BUSYBOX_IMAGE, DockerEngine
from tests.infra.kubernetes_api import KubeApiServer
from tools.adapters.kubernetes import KubernetesAdapter
from tools.convert.validation import validate_vagrantfile

# Representative cases (all 16 deploy; about 2.5 s each, so the suite runs six): several
# services and a dependency, configs + secrets (one external), two networks (one
# internal), a global service, a stateful service with reservations, unmapped settings.
SWARM_CASES = (
    "web-db-cache",
    "secrets-configs",
    "multi-network",
    "global-service",
    "stateful-db",
    "unmappable",
)


@pytest.fixture
def namespace(kube_api: KubeApiServer) -> Iterator[str]:
    name = f"conv-{uuid.uuid4().hex[:8]}"
    with contextlib.closing(kube_api.api_client()) as api:
        core = k8s.CoreV1Api(api)
        core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
        yield name
        with contextlib.suppress(k8s.ApiException):
            core.delete_namespace(name)


@pytest.mark.parametrize("case", NAMES)
async def test_kubernetes_output_passes_server_side_apply_dry_run(
    case: str, kube_api: KubeApiServer, namespace: str
) -> None:
    conversion = converted(case, "kubernetes", namespace=namespace)
    adapter = KubernetesAdapter(spec_for(kube_api, namespace))
    try:
        outcome = await adapter.apply(case, conversion.files["manifests.yaml"], dry_run=True)
    finally:
        adapter.close()
    assert outcome.dry_run
    applied = sorted(f"{o.kind}/{o.name}" for o in outcome.objects)
    expected = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in conversion.objects)
    assert applied == expected
    assert {o.action for o in outcome.objects} == {"created"}


def test_every_vagrantfile_passes_vagrant_validate(vagrant_ready: str) -> None:
    files = {case: converted(case, "vagrant").files["Vagrantfile"] for case in NAMES}
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = dict(
            zip(
                files,
                pool.map(lambda t: validate_vagrantfile(t, vagrant_ready), files.values()),
                strict=True,
            )
        )
    for case, report in reports.items():
        assert report.skipped is None
        assert report.ok, (case, report.issues)


def test_vagrant_validate_reports_a_broken_file(vagrant_ready: str) -> None:
    report = validate_vagrantfile(
        'Vagrant.configure("2") do |config|\n  config.vm.boxx = 1\nend\n', vagrant_ready
    )
    assert not report.ok
    assert "boxx" in report.issues[0].problem


def runnable(document: dict[str, Any]) -> dict[str, Any]:
    """The stack file with what this engine cannot do replaced: no registry (local
    busybox image that sleeps), no IPVS (dnsrr, host-mode ports), one unlabelled node."""
    for service in document["services"].values():
        service["image"] = BUSYBOX_IMAGE
        service["command"] = ["sleep", "3600"]
        service.pop("entrypoint", None)
        service.pop("healthcheck", None)
        service.pop("user", None)
        deploy = service.setdefault("deploy", {})
        deploy["endpoint_mode"] = "dnsrr"
        deploy.pop("placement", None)
        for port in service.get("ports", []):
            port["mode"] = "host"
    return document


def wait_running(engine: DockerEngine, stack: str, services: int, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while True:
        done = engine.docker("stack", "ps", stack, "--format", "{{.Name}} {{.CurrentState}}")
        running = {
            line.split()[0].rsplit(".", 1)[0].split(".")[0]
            for line in done.stdout.splitlines()
            if " Running" in line
        }
        if len(running) >= services:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"tasks of {stack} not running: {done.stdout}")
        time.sleep(0.5)


@pytest.mark.parametrize("case", SWARM_CASES)
def test_swarm_output_deploys_on_a_real_swarm(
    case: str, swarm_engine: DockerEngine, tmp_path: Path
) -> None:
    conversion = converted(case, "swarm")
    for relative, content in conversion.files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(content)
    document = runnable(yaml.safe_load(conversion.files["docker-stack.yml"]))
    (tmp_path / "docker-stack.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    stack = f"c{uuid.uuid4().hex[:6]}"
    external = [k for k, v in (document.get("secrets") or {}).items() if v.get("external")]
    for key in external:
        (tmp_path / "ext").write_text("external value")
        swarm_engine.docker("secret", "create", key, str(tmp_path / "ext"))
    try:
        swarm_engine.docker("stack", "deploy", "-c", str(tmp_path / "docker-stack.yml"), stack)
        names = swarm_engine.docker("service", "ls", "--format", "{{.Name}}").stdout.split()
        assert sorted(n for n in names if n.startswith(stack + "_")) == sorted(
            f"{stack}_{s}" for s in document["services"]
        )
        networks = swarm_engine.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
        for key in document.get("networks") or {"default": {}}:
            assert f"{stack}_{key}" in networks
        configs = swarm_engine.docker("config", "ls", "--format", "{{.Name}}").stdout.split()
        for key in document.get("configs") or {}:
            assert f"{stack}_{key}" in configs
        secrets = swarm_engine.docker("secret", "ls", "--format", "{{.Name}}").stdout.split()
        for key, spec in (document.get("secrets") or {}).items():
            assert (key if spec.get("external") else f"{stack}_{key}") in secrets
        wait_running(swarm_engine, stack, len(document["services"]))
    finally:
        swarm_engine.docker("stack", "rm", stack, check=False)
        for key in external:
            swarm_engine.docker("secret", "rm", key, check=False)
