"""A real Docker engine for tests: its own dockerd, socket, data root and busybox image."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import docker
from docker.errors import DockerException

BUSYBOX_IMAGE = "windflow-test/busybox:1"
BUSYBOX_BINARY = Path("/bin/busybox")


class EngineError(RuntimeError):
    pass


def missing_prerequisite() -> str | None:
    if os.geteuid() != 0:
        return "dockerd needs root"
    for binary in ("dockerd", "containerd", "runc"):
        if shutil.which(binary) is None:
            return f"{binary} is not installed (run tests/setup-engines.sh)"
    if not BUSYBOX_BINARY.exists() or not _is_static(BUSYBOX_BINARY):
        return "busybox-static is not installed (run tests/setup-engines.sh)"
    return None


def _is_static(binary: Path) -> bool:
    """The image has no libc: only a statically linked busybox runs in it."""
    done = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    return "not a dynamic executable" in done.stdout + done.stderr


def _busybox_rootfs() -> bytes:
    """A tar of a minimal root filesystem: static busybox plus a link per applet."""
    applets = subprocess.run(
        [str(BUSYBOX_BINARY), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in ("bin", "tmp", "etc", "var", "var/www", "proc", "sys", "dev", "root"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        tar.add(str(BUSYBOX_BINARY), arcname="bin/busybox")
        for applet in applets:
            if applet == "busybox":
                continue
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        for name, content in (
            ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"),
            ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
            ("var/www/index.html", "windflow test page\n"),
        ):
            data = content.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class DockerEngine:
    """Starts dockerd in a private directory; ``stop`` kills it and removes everything."""

    def __init__(self) -> None:
        # Unix socket paths are limited to ~108 bytes: keep the directory short.
        self.root = Path(tempfile.mkdtemp(prefix="wfd-", dir="/tmp"))
        self.socket = self.root / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.root / "dockerd.log"

    def start(self, timeout: float = 30.0) -> None:
        command = [
            "dockerd",
            "--data-root",
            str(self.root / "data"),
            "--exec-root",
            str(self.root / "exec"),
            "--pidfile",
            str(self.root / "dockerd.pid"),
            "-H",
            self.host,
            "--storage-driver=vfs",
        ]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise EngineError(f"dockerd exited: {self.log.read_text()[-2000:]}")
            try:
                with contextlib.closing(self.client()) as client:
                    client.ping()
                break
            except DockerException:
                if time.monotonic() > deadline:
                    raise EngineError(
                        f"dockerd not ready: {self.log.read_text()[-2000:]}"
                    ) from None
                time.sleep(0.1)
        self._import_busybox()

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host, timeout=60)

    def _import_busybox(self) -> None:
        with contextlib.closing(self.client()) as client:
            client.api.import_image_from_data(
                _busybox_rootfs(),
                repository=BUSYBOX_IMAGE.split(":")[0],
                tag=BUSYBOX_IMAGE.split(":")[1],
                changes=['CMD ["/bin/sh"]', "ENV PATH=/bin", "WORKDIR /"],
            )

    def swarm_init(self) -> None:
        with contextlib.closing(self.client()) as client:
            if client.info().get("Swarm", {}).get("LocalNodeState") != "active":
                client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")

    def swarm_leave(self) -> None:
        with contextlib.closing(self.client()) as client, contextlib.suppress(DockerException):
            client.swarm.leave(force=True)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(DockerException), contextlib.closing(self.client()) as client:
                for container in client.containers.list(all=True):
                    with contextlib.suppress(DockerException):
                        container.remove(force=True)
            self.swarm_leave()
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        subprocess.run(
            [
                "sh",
                "-c",
                f"grep -o ' {self.root}[^ ]*' /proc/mounts | sort -r | xargs -r umount -l",
            ],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)
