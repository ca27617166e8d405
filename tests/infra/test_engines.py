"""The real engines of tests/infra work: containers serve on 127.0.0.1, swarm schedules,
Kubernetes reconciles Deployments, vagrant's docker provider drives the test engine, and
stopping an engine leaves nothing behind on the host."""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from docker.types import ServiceMode
from kubernetes import client as k8s

from tests.infra import vagrant_env
from tests.infra.availability import require
from tests.infra.docker_engine import BUSYBOX_IMAGE, INDEX_PAGE, REQUIRED_APPLETS, DockerEngine
from tests.infra.docker_engine import missing_prerequisite as missing_docker
from tests.infra.kubernetes_api import KubeApiServer
from tests.infra.processes import free_port, mounts_under, processes_using
from tests.infra.vagrant_env import VagrantDocker

T = TypeVar("T")
# The control plane's certificate is self-signed; the clients here skip verification.
unverified_tls = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def wait_for(probe: Callable[[], T | None], timeout: float = 30, what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):
            value = probe()
            if value:
                return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


# --- availability -------------------------------------------------------------------------------
def test_require_skips_locally_and_fails_in_ci() -> None:
    with pytest.raises(pytest.skip.Exception, match="thing unavailable: gone"):
        require("thing", "gone", ci=False)
    with pytest.raises(pytest.fail.Exception, match="CI=true and thing is unavailable: gone"):
        require("thing", "gone", ci=True)


# --- Docker ------------------------------------------------------------------------------------
def test_busybox_container_serves_on_loopback(docker_engine: DockerEngine) -> None:
    port = free_port()
    with contextlib.closing(docker_engine.client()) as client:
        container = client.containers.run(
            BUSYBOX_IMAGE,
            ["httpd", "-f", "-p", "80", "-h", "/var/www"],
            ports={"80/tcp": ("127.0.0.1", port)},
            name=unique("web"),
            detach=True,
        )
        try:

            def fetch() -> str:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2) as r:
                    return str(r.read().decode())

            assert wait_for(fetch, 15, "httpd on 127.0.0.1") == INDEX_PAGE
        finally:
            container.remove(force=True)


def test_image_has_the_applets_tests_use(docker_engine: DockerEngine) -> None:
    script = "for a in " + " ".join(REQUIRED_APPLETS) + "; do [ -x /bin/$a ] || echo $a; done"
    with contextlib.closing(docker_engine.client()) as client:
        output = client.containers.run(BUSYBOX_IMAGE, ["sh", "-c", script], remove=True)
        env = client.containers.run(BUSYBOX_IMAGE, ["env"], remove=True).decode()
    assert output.decode() == ""
    assert "PATH=/bin" in env.splitlines()


def test_ports_published_without_an_address_stay_on_loopback(docker_engine: DockerEngine) -> None:
    with contextlib.closing(docker_engine.client()) as client:
        container = client.containers.run(
            BUSYBOX_IMAGE, ["sleep", "60"], ports={"80/tcp": None}, detach=True
        )
        try:
            container.reload()
            bindings = container.attrs["NetworkSettings"]["Ports"]["80/tcp"]
            assert {binding["HostIp"] for binding in bindings} == {"127.0.0.1"}
        finally:
            container.remove(force=True)


def test_containers_reach_each_other_by_name_on_a_user_network(
    docker_engine: DockerEngine,
) -> None:
    with contextlib.closing(docker_engine.client()) as client:
        network = client.networks.create(unique("net"), driver="bridge")
        server_name = unique("server")
        server = client.containers.run(
            BUSYBOX_IMAGE,
            ["httpd", "-f", "-p", "8080", "-h", "/var/www"],
            name=server_name,
            network=network.name,
            detach=True,
        )
        try:
            # No `wget -T`: busybox-static 1.35's wget segfaults with a timeout option.
            fetch = f"wget -qO- http://{server_name}:8080/"
            script = f"for i in 1 2 3 4 5; do {fetch} && exit 0; sleep 0.3; done; exit 1"
            output = client.containers.run(
                BUSYBOX_IMAGE, ["sh", "-c", script], network=network.name, remove=True
            )
            assert output.decode() == INDEX_PAGE
            network.reload()
            subnet = network.attrs["IPAM"]["Config"][0]["Subnet"]
            assert docker_engine.slot is not None
            assert subnet.startswith(f"10.{docker_engine.slot.number}."), subnet
        finally:
            server.remove(force=True)
            network.remove()


def test_swarm_service_runs_two_replicas(swarm_engine: DockerEngine) -> None:
    with contextlib.closing(swarm_engine.client()) as client:
        service = client.services.create(
            BUSYBOX_IMAGE,
            ["sleep", "3600"],
            name=unique("svc"),
            mode=ServiceMode("replicated", 2),
            init=True,  # `sleep` as PID 1 ignores SIGTERM: without an init, stop takes 10 s
        )
        try:

            def running() -> list[dict[str, Any]]:
                tasks = service.tasks(filters={"desired-state": "running"})
                live = [task for task in tasks if task["Status"]["State"] == "running"]
                return live if len(live) == 2 else []

            tasks = wait_for(running, 60, "2 running tasks")
            assert len({task["Status"]["ContainerStatus"]["ContainerID"] for task in tasks}) == 2
        finally:
            service.remove()
        wait_for(
            lambda: (
                not client.containers.list(
                    filters={"label": f"com.docker.swarm.service.id={service.id}"}
                )
            ),
            30,
            "the service's containers to go",
        )
        assert client.nodes.list()[0].attrs["Status"]["Addr"] == swarm_engine.swarm_address


# --- Kubernetes --------------------------------------------------------------------------------
@unverified_tls
def test_deployment_gets_a_replicaset_and_pod_status_can_be_written(
    kube_api: KubeApiServer,
) -> None:
    namespace = unique("infra")
    labels = {"app": "web"}
    with contextlib.closing(kube_api.api_client()) as api:
        core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
        core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
        try:
            apps.create_namespaced_deployment(
                namespace,
                k8s.V1Deployment(
                    metadata=k8s.V1ObjectMeta(name="web", labels=labels),
                    spec=k8s.V1DeploymentSpec(
                        replicas=1,
                        selector=k8s.V1LabelSelector(match_labels=labels),
                        template=k8s.V1PodTemplateSpec(
                            metadata=k8s.V1ObjectMeta(labels=labels),
                            spec=k8s.V1PodSpec(
                                containers=[
                                    k8s.V1Container(
                                        name="web", image=BUSYBOX_IMAGE, command=["sleep", "3600"]
                                    )
                                ]
                            ),
                        ),
                    ),
                ),
            )
            replica_sets = wait_for(
                lambda: apps.list_namespaced_replica_set(namespace).to_dict()["items"],
                30,
                "a ReplicaSet",
            )
            assert replica_sets[0]["metadata"]["owner_references"][0]["name"] == "web"
            pods = wait_for(
                lambda: core.list_namespaced_pod(namespace).to_dict()["items"], 30, "a Pod"
            )
            pod: str = pods[0]["metadata"]["name"]

            def unschedulable() -> bool:
                # The scheduler ran: without a node it marks the pod unschedulable.
                status = core.read_namespaced_pod(pod, namespace).to_dict()["status"]
                return any(
                    c["type"] == "PodScheduled" and c["status"] == "False"
                    for c in status.get("conditions") or []
                )

            wait_for(unschedulable, 30, "the scheduler's verdict")
            core.patch_namespaced_pod_status(
                pod,
                namespace,
                {
                    "status": {
                        "phase": "Running",
                        "containerStatuses": [
                            {
                                "name": "web",
                                "image": BUSYBOX_IMAGE,
                                "imageID": "",
                                "ready": False,
                                "restartCount": 4,
                                "state": {
                                    "waiting": {"reason": "CrashLoopBackOff", "message": "boom"}
                                },
                            }
                        ],
                    }
                },
            )
            status = core.read_namespaced_pod_status(pod, namespace).to_dict()["status"]
            assert status["phase"] == "Running"
            (container,) = status["container_statuses"]
            assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff"
            assert container["restart_count"] == 4
        finally:
            core.delete_namespace(namespace)


@unverified_tls
def test_the_admin_token_is_required(kube_api: KubeApiServer) -> None:
    configuration = kube_api.configuration()
    configuration.api_key = {"authorization": "wrong"}
    with (
        contextlib.closing(k8s.ApiClient(configuration)) as api,
        pytest.raises(k8s.ApiException) as denied,
    ):
        k8s.CoreV1Api(api).list_namespace()
    assert denied.value.status == 401


# --- Vagrant -----------------------------------------------------------------------------------
def test_vagrant_validates_a_docker_provider_vagrantfile(
    vagrant_docker: VagrantDocker, tmp_path: Path
) -> None:
    (tmp_path / "Vagrantfile").write_text(vagrant_env.docker_vagrantfile("web"))
    done = vagrant_docker.validate(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    (tmp_path / "Vagrantfile").write_text('Vagrant.configure("2") do |c|\n  c.vm.nope = 1\nend\n')
    assert vagrant_docker.validate(tmp_path).returncode != 0


def test_vagrant_docker_provider_up_status_destroy(
    vagrant_docker: VagrantDocker, docker_engine: DockerEngine, tmp_path: Path
) -> None:
    port = free_port()
    (tmp_path / "Vagrantfile").write_text(
        vagrant_env.docker_vagrantfile(
            "web",
            cmd=["httpd", "-f", "-p", "80", "-h", "/var/www"],
            ports=[f"127.0.0.1:{port}:80"],
        )
    )
    machine = vagrant_docker.machine(tmp_path)
    try:
        machine.up(provider="docker")
        assert [(s.name, s.state, s.provider) for s in machine.status()] == [
            ("web", "running", "docker")
        ]

        def fetch() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2) as r:
                return str(r.read().decode())

        assert wait_for(fetch, 15, "the machine's httpd") == INDEX_PAGE
    finally:
        machine.destroy()
    assert machine.status()[0].state == "not_created"
    assert docker_engine.docker("ps", "-aq").stdout.strip() == ""


# --- cleanup -----------------------------------------------------------------------------------
def test_a_second_engine_coexists_and_stop_leaves_nothing(
    docker_engine: DockerEngine,
) -> None:
    """Another engine (as another session would start) gets its own slot and swarm; stop
    removes its processes, mounts, bridges, iptables rules and directory."""
    reason = missing_docker()
    if reason:
        require("Docker engine", reason)
    engine = DockerEngine()
    try:
        engine.start()
        engine.swarm_init()
        assert engine.slot is not None and docker_engine.slot is not None
        assert engine.slot.number != docker_engine.slot.number
        with contextlib.closing(engine.client()) as client:
            client.networks.create(unique("net"))
            client.containers.run(BUSYBOX_IMAGE, ["sleep", "600"], detach=True, init=True)
    finally:
        engine.stop()
    slot = engine.slot
    assert slot is not None
    assert not engine.root.exists()
    assert processes_using(engine.root) == []
    assert mounts_under(engine.root) == []
    # By name only: another session may take the freed slot (and its subnet) at once.
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True)
    for name in (slot.bridge, slot.gwbridge):
        assert f" {name}:" not in links.stdout and name not in rules.stdout
    # The session's engine is untouched.
    with contextlib.closing(docker_engine.client()) as client:
        assert client.ping()
