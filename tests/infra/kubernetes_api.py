"""A real Kubernetes control plane for tests: etcd, kube-apiserver, kube-controller-manager
and kube-scheduler (v1.20, built from Debian's source by tests/setup-engines.sh).

Usage::

    with KubeApiServer() as kube:                 # or kube.start() ... kube.stop()
        with contextlib.closing(kube.api_client()) as api:
            k8s.CoreV1Api(api).list_namespace()

Everything listens on 127.0.0.1 only, on free ports; state lives in a private directory.
Authentication is a static bearer token in ``system:masters`` (RBAC on); TLS is the API
server's own self-signed certificate (clients skip verification, or trust ``ca_file``).

No kubelet runs (it would change host sysctls and iptables): Deployments get ReplicaSets
and Pods, which stay Pending; tests write pod status through the ``status`` subresource to
reproduce running or failing pods. The ServiceAccount admission plugin and the token
controller are off, so pods need no service account token.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx
from kubernetes import client as k8s

from tests.infra.processes import (
    free_port,
    log_tail,
    pid_alive,
    processes_using,
    remove_tree,
    spawn,
    terminate,
)

CACHE = Path(
    os.environ.get("WINDFLOW_ENGINE_CACHE", str(Path.home() / ".cache" / "windflow-engines"))
)
BIN = CACHE / "kubernetes" / "bin"
TOOLS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
ROOT_PREFIX = "wfk-"
PORT_CLASH = ("address already in use", "bind: ")


class ControlPlaneError(RuntimeError):
    """The control plane could not be started or did not become ready."""


def missing_prerequisite() -> str | None:
    """Why no control plane can start here, or None."""
    for name in TOOLS:
        if not os.access(BIN / name, os.X_OK):
            return f"{BIN / name} is missing (run tests/setup-engines.sh)"
    for tool in ("etcd", "openssl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (run tests/setup-engines.sh)"
    return None


class KubeApiServer:
    """etcd + kube-apiserver (+ controller-manager and scheduler) in a private directory."""

    def __init__(self, *, controllers: bool = True, die_with_parent: bool = True) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX))
        self.token = secrets.token_hex(16)
        self.controllers = controllers
        self.die_with_parent = die_with_parent
        self.port = 0
        self.url = ""
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.timings: dict[str, float] = {}

    # --- life cycle ---------------------------------------------------------------------------
    def __enter__(self) -> KubeApiServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = 120.0, attempts: int = 3) -> None:
        """Start everything and wait until Deployments would be reconciled."""
        if self.processes:
            return
        reap_stale_control_planes()
        (self.root / "owner.json").write_text(json.dumps({"owner_pid": os.getpid()}))
        for attempt in range(attempts):
            try:
                self._start_once(time.monotonic() + timeout)
                return
            except ControlPlaneError as exc:
                # Ports are picked free but bound later: another process may win the race.
                clash = any(marker in str(exc) for marker in PORT_CLASH)
                self._stop_processes()
                if not clash or attempt == attempts - 1:
                    raise
                for state in ("etcd", "certs"):
                    shutil.rmtree(self.root / state, ignore_errors=True)

    def _start_once(self, deadline: float) -> None:
        started = time.monotonic()
        root = self.root
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        (root / "tokens.csv").write_text(f"{self.token},admin,admin-uid,system:masters\n")
        if not (root / "sa.pub").exists():
            _openssl("genrsa", "-out", str(root / "sa.key"), "2048")
            _openssl("rsa", "-in", str(root / "sa.key"), "-pubout", "-out", str(root / "sa.pub"))
        client_port, peer_port = free_port(), free_port()
        self._spawn(
            "etcd",
            [
                "etcd", "--name", "t", "--data-dir", str(root / "etcd"),
                "--listen-client-urls", f"http://127.0.0.1:{client_port}",
                "--advertise-client-urls", f"http://127.0.0.1:{client_port}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
                "--initial-cluster", f"t=http://127.0.0.1:{peer_port}",
            ],
        )  # fmt: skip
        self._spawn(
            "kube-apiserver",
            [
                str(BIN / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{client_port}",
                "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
                f"--secure-port={self.port}", f"--cert-dir={root / 'certs'}",
                f"--token-auth-file={root / 'tokens.csv'}", "--authorization-mode=RBAC",
                f"--service-account-key-file={root / 'sa.pub'}",
                f"--service-account-signing-key-file={root / 'sa.key'}",
                "--service-account-issuer=https://kubernetes.default.svc",
                "--service-cluster-ip-range=10.96.0.0/16", "--allow-privileged=true",
                # No token controller runs: pods must not wait for service account tokens.
                "--disable-admission-plugins=ServiceAccount",
                "--profiling=false",
            ],
        )  # fmt: skip
        self._wait_api(deadline)
        self.timings["apiserver"] = time.monotonic() - started
        if not self.controllers:
            return
        step = time.monotonic()
        kubeconfig = str(self.write_kubeconfig())
        for name in ("kube-controller-manager", "kube-scheduler"):
            extra = (
                ["--controllers=*,-serviceaccount-token"]
                if name == "kube-controller-manager"
                else []
            )
            port = free_port()
            self._spawn(
                name,
                [
                    str(BIN / name),
                    f"--kubeconfig={kubeconfig}",
                    f"--authentication-kubeconfig={kubeconfig}",
                    f"--authorization-kubeconfig={kubeconfig}",
                    "--bind-address=127.0.0.1", f"--secure-port={port}",
                    "--port=0",  # 1.20 still opens an insecure port on 0.0.0.0 by default
                    "--leader-elect=false", "--profiling=false",
                    *extra,
                ],
            )  # fmt: skip
            self._wait_healthz(name, port, deadline)
        self.timings["controllers"] = time.monotonic() - step

    def _spawn(self, name: str, command: list[str]) -> None:
        log = self.root / f"{name}.log"
        self.processes[name] = spawn(command, log, die_with_parent=self.die_with_parent)

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise ControlPlaneError(f"{name} exited ({process.returncode}):\n{self.logs()}")

    def _wait_api(self, deadline: float) -> None:
        """Until /readyz answers and the ``default`` namespace exists."""
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.url, headers=headers, verify=False, timeout=2) as http:
            while True:
                self._check_alive()
                with contextlib.suppress(httpx.TransportError):
                    if (
                        http.get("/readyz").status_code == 200
                        and http.get("/api/v1/namespaces/default").status_code == 200
                    ):
                        return
                if time.monotonic() > deadline:
                    raise ControlPlaneError(f"kube-apiserver not ready:\n{self.logs()}")
                time.sleep(0.2)

    def _wait_healthz(self, name: str, port: int, deadline: float) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(headers=headers, verify=False, timeout=2) as http:
            while True:
                self._check_alive()
                with contextlib.suppress(httpx.TransportError):
                    if http.get(f"https://127.0.0.1:{port}/healthz").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise ControlPlaneError(f"{name} not healthy:\n{self.logs()}")
                time.sleep(0.2)

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log_tail(log, 1500)}" for log in sorted(self.root.glob("*.log"))
        )

    # --- clients -------------------------------------------------------------------------------
    @property
    def ca_file(self) -> Path:
        """The API server's self-signed certificate (usable as a CA bundle)."""
        return self.root / "certs" / "apiserver.crt"

    def kubeconfig(self, *, context: str = "windflow-test") -> str:
        """A kubeconfig for the admin token (TLS verification off)."""
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": context,
                        "cluster": {"server": self.url, "insecure-skip-tls-verify": True},
                    }
                ],
                "users": [{"name": "admin", "user": {"token": self.token}}],
                "contexts": [{"name": context, "context": {"cluster": context, "user": "admin"}}],
                "current-context": context,
            },
            indent=2,
        )

    def write_kubeconfig(self) -> Path:
        path = self.root / "kubeconfig"
        path.write_text(self.kubeconfig())
        path.chmod(0o600)
        return path

    def configuration(self, *, verify: bool = False) -> k8s.Configuration:
        configuration = k8s.Configuration()
        configuration.host = self.url
        configuration.api_key = {"authorization": self.token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        configuration.verify_ssl = verify
        if verify:
            configuration.ssl_ca_cert = str(self.ca_file)
        return configuration

    def api_client(self, *, verify: bool = False) -> k8s.ApiClient:
        """A new client authenticated as admin (close it: ``contextlib.closing``)."""
        return k8s.ApiClient(self.configuration(verify=verify))

    # --- stop ----------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return bool(self.processes) and all(p.poll() is None for p in self.processes.values())

    def _stop_processes(self) -> None:
        for process in reversed(list(self.processes.values())):
            terminate(process, timeout=15)
        self.processes.clear()

    def stop(self) -> None:
        """Stop every process this control plane started (by PID) and remove its directory."""
        self._stop_processes()
        remove_tree(self.root)


def _openssl(*args: str) -> None:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ControlPlaneError(f"openssl {args[0]} failed: {done.stderr.strip()}")


def reap_stale_control_planes() -> None:
    """Remove directories of control planes whose test session died (processes untouched)."""
    for owner_file in Path(tempfile.gettempdir()).glob(f"{ROOT_PREFIX}*/owner.json"):
        root = owner_file.parent
        try:
            owner = json.loads(owner_file.read_text())
        except (OSError, ValueError):
            continue
        pid = owner.get("owner_pid")
        if isinstance(pid, int) and pid_alive(pid):
            continue
        if processes_using(root):
            continue
        remove_tree(root)
