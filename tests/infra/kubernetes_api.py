"""A real Kubernetes control plane for tests: etcd, kube-apiserver, controller-manager
and scheduler built from Debian's source (tests/setup-engines.sh). No kubelet runs, so
pods stay Pending; tests write pod status through the status subresource instead."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from kubernetes import client as k8s

CACHE = Path(os.environ.get("WINDFLOW_ENGINE_CACHE", Path.home() / ".cache/windflow-engines"))
BIN = CACHE / "kubernetes" / "bin"


class ControlPlaneError(RuntimeError):
    pass


def missing_prerequisite() -> str | None:
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        if not (BIN / name).exists():
            return f"{BIN / name} is missing (run tests/setup-engines.sh)"
    for tool in ("etcd", "openssl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (run tests/setup-engines.sh)"
    return None


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class KubeApiServer:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="wfk-"))
        self.token = secrets.token_hex(16)
        self.port = _port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.processes: list[subprocess.Popen[bytes]] = []

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.root / f"{name}.log").open("wb")
        self.processes.append(
            subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        )

    def _kubeconfig(self) -> Path:
        path = self.root / "kubeconfig"
        path.write_text(
            f"""apiVersion: v1
kind: Config
clusters: [{{name: t, cluster: {{server: "{self.url}", insecure-skip-tls-verify: true}}}}]
users: [{{name: admin, user: {{token: "{self.token}"}}}}]
contexts: [{{name: t, context: {{cluster: t, user: admin}}}}]
current-context: t
"""
        )
        return path

    def start(self, timeout: float = 60.0) -> None:
        root = self.root
        client_port, peer_port = _port(), _port()
        (root / "tokens.csv").write_text(f"{self.token},admin,admin-uid,system:masters\n")
        subprocess.run(
            ["openssl", "genrsa", "-out", str(root / "sa.key"), "2048"],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                "openssl",
                "rsa",
                "-in",
                str(root / "sa.key"),
                "-pubout",
                "-out",
                str(root / "sa.pub"),
            ],
            check=True,
            capture_output=True,
        )
        self._spawn(
            "etcd",
            [
                "etcd",
                "--name",
                "t",
                "--data-dir",
                str(root / "etcd"),
                "--listen-client-urls",
                f"http://127.0.0.1:{client_port}",
                "--advertise-client-urls",
                f"http://127.0.0.1:{client_port}",
                "--listen-peer-urls",
                f"http://127.0.0.1:{peer_port}",
                "--initial-advertise-peer-urls",
                f"http://127.0.0.1:{peer_port}",
                "--initial-cluster",
                f"t=http://127.0.0.1:{peer_port}",
            ],
        )
        self._spawn(
            "kube-apiserver",
            [
                str(BIN / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{client_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.port}",
                f"--cert-dir={root / 'certs'}",
                f"--token-auth-file={root / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                f"--service-account-key-file={root / 'sa.pub'}",
                f"--service-account-signing-key-file={root / 'sa.key'}",
                "--service-account-issuer=https://kubernetes.default.svc",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--allow-privileged=true",
                # Without a token controller pods would wait for service account tokens.
                "--disable-admission-plugins=ServiceAccount",
            ],
        )
        self._wait_ready(timeout)
        kubeconfig = self._kubeconfig()
        self._spawn(
            "kube-controller-manager",
            [
                str(BIN / "kube-controller-manager"),
                f"--kubeconfig={kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={_port()}",
                "--leader-elect=false",
                "--controllers=*,-serviceaccount-token",
                # 1.20 also opens an insecure port on 0.0.0.0:10252 unless told not to.
                "--port=0",
            ],
        )
        self._spawn(
            "kube-scheduler",
            [
                str(BIN / "kube-scheduler"),
                f"--kubeconfig={kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={_port()}",
                "--leader-elect=false",
                "--port=0",
            ],
        )
        time.sleep(1.0)
        for process in self.processes:
            if process.poll() is not None:
                raise ControlPlaneError(f"a control plane process exited: {self.logs()}")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {self.token}"}
        while True:
            for process in self.processes:
                if process.poll() is not None:
                    raise ControlPlaneError(f"a control plane process exited: {self.logs()}")
            try:
                ready = httpx.get(f"{self.url}/readyz", headers=headers, verify=False, timeout=2)
                namespace = httpx.get(
                    f"{self.url}/api/v1/namespaces/default",
                    headers=headers,
                    verify=False,
                    timeout=2,
                )
                if ready.status_code == 200 and namespace.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"kube-apiserver not ready: {self.logs()}")
            time.sleep(0.3)

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}"
            for log in sorted(self.root.glob("*.log"))
        )

    def api_client(self) -> k8s.ApiClient:
        configuration = k8s.Configuration()
        configuration.host = self.url
        configuration.verify_ssl = False
        configuration.api_key = {"authorization": f"Bearer {self.token}"}
        return k8s.ApiClient(configuration)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)
