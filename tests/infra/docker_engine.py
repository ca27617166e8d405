"""A real Docker engine for tests: its own dockerd, socket, data root, bridge and busybox image.

Usage::

    with DockerEngine() as engine:              # or engine.start() ... engine.stop()
        with contextlib.closing(engine.client()) as client:
            client.containers.run(BUSYBOX_IMAGE, ["echo", "hi"], remove=True)
        engine.swarm_init()                     # single-node swarm on 127.0.N.1

The daemon listens only on ``unix://<root>/docker.sock``; published ports default to
127.0.0.1 (``--ip``). Host-wide resources (bridge, subnets, swarm addresses) come from a
slot unique on the machine (see :mod:`tests.infra.hostnet`), so concurrent sessions do not
disturb each other. ``stop`` removes everything: containers, services, networks, the swarm,
the daemon (by its PID), mounts, bridges, iptables rules and the directory.

Known limits of this machine and image:

- ``sleep`` (or any program without a SIGTERM handler) as PID 1 ignores ``docker stop`` for
  10 s: pass ``init=True`` (Debian's tini) to containers and services that must stop fast.
- busybox-static 1.35's ``wget -T N`` segfaults; plain ``wget`` works.
- The kernel has no IPVS: swarm VIPs and ingress-mode published ports do not work. Use
  ``endpoint_mode="dnsrr"`` or ``tasks.NAME`` between services and ``mode="host"`` ports
  (bound to 127.0.0.1) to reach a service from the tests.
- No registry is reachable: only images built or imported locally exist.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from types import TracebackType

import docker
from docker.errors import APIError, DockerException
from docker.types import IPAMConfig, IPAMPool

from tests.infra import hostnet
from tests.infra.processes import (
    host_lock,
    kill_processes_using,
    log_tail,
    pid_alive,
    port_is_free,
    processes_using,
    remove_tree,
    spawn,
    system_path,
    terminate,
)

BUSYBOX_IMAGE = "windflow-test/busybox:1"
BUSYBOX_BINARY = Path("/bin/busybox")
ROOT_PREFIX = "wfd-"
# Every applet busybox-static has is linked; these are the ones tests may rely on.
REQUIRED_APPLETS = (
    "sh", "httpd", "sleep", "echo", "cat", "nc", "wget", "ls", "env", "ps", "kill",
    "true", "false", "mkdir", "rm", "touch", "printf", "grep", "hostname", "ip", "nslookup",
    "ping", "tail", "head", "test", "date", "id",
)  # fmt: skip
IMAGE_CHANGES = ('CMD ["/bin/sh"]', "ENV PATH=/bin", "WORKDIR /")
INDEX_PAGE = "windflow test page\n"


class EngineError(RuntimeError):
    """The engine could not be started or did not answer."""


def missing_prerequisite() -> str | None:
    """Why no engine can start here, or None."""
    if os.geteuid() != 0:
        return "dockerd needs root"
    for binary in ("dockerd", "containerd", "runc", "iptables", "ip", "docker-proxy"):
        if shutil.which(binary, path=system_path()) is None:
            return f"{binary} is not installed (run tests/setup-engines.sh)"
    if not BUSYBOX_BINARY.exists() or not _is_static(BUSYBOX_BINARY):
        return "busybox-static is not installed (run tests/setup-engines.sh)"
    missing = set(REQUIRED_APPLETS) - set(_applets())
    if missing:
        return f"{BUSYBOX_BINARY} lacks applets: {', '.join(sorted(missing))}"
    return None


def _is_static(binary: Path) -> bool:
    """The image has no libc: only a statically linked busybox runs in it."""
    with binary.open("rb") as file:
        header = file.read(4096)
    # An ELF with a PT_INTERP program header names its dynamic loader.
    return header.startswith(b"\x7fELF") and b"ld-linux" not in header


def _applets() -> list[str]:
    listing = subprocess.run(
        [str(BUSYBOX_BINARY), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    return sorted(set(listing) - {"busybox"})


def busybox_rootfs() -> bytes:
    """A tar of a minimal root filesystem: static busybox plus a symlink per applet."""
    buffer = io.BytesIO()

    def add(
        name: str, *, kind: bytes, mode: int = 0o755, data: bytes = b"", link: str = ""
    ) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.linkname = kind, mode, link
        info.size = len(data)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(data) if data else None)

    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in ("bin", "etc", "var", "var/www", "proc", "sys", "dev", "root", "usr"):
            add(directory, kind=tarfile.DIRTYPE)
        add("tmp", kind=tarfile.DIRTYPE, mode=0o1777)
        add("sbin", kind=tarfile.SYMTYPE, link="bin")
        add("usr/bin", kind=tarfile.SYMTYPE, link="../bin")
        add("usr/sbin", kind=tarfile.SYMTYPE, link="../bin")
        add("bin/busybox", kind=tarfile.REGTYPE, data=BUSYBOX_BINARY.read_bytes())
        for applet in _applets():
            add(f"bin/{applet}", kind=tarfile.SYMTYPE, link="busybox")
        for name, content in (
            ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"),
            ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
            ("etc/nsswitch.conf", "hosts: files dns\n"),
            ("var/www/index.html", INDEX_PAGE),
        ):
            add(name, kind=tarfile.REGTYPE, mode=0o644, data=content.encode())
    return buffer.getvalue()


class DockerEngine:
    """dockerd in a private directory under /tmp; ``stop`` kills it and removes everything."""

    def __init__(self, *, die_with_parent: bool = True) -> None:
        # Unix socket paths are limited to 108 bytes: keep the directory short.
        self.root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX, dir="/tmp"))
        self.token = secrets.token_hex(4)
        self.socket = self.root / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.log = self.root / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.slot: hostnet.Slot | None = None
        self.die_with_parent = die_with_parent
        self.timings: dict[str, float] = {}

    # --- life cycle ---------------------------------------------------------------------------
    def __enter__(self) -> DockerEngine:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        """Start dockerd, wait until it answers, import the busybox image."""
        if self.process is not None:
            return
        started = time.monotonic()
        reap_stale_engines()
        with host_lock():
            self.slot = hostnet.allocate_slot(self.token)
            self._write_owner()
        slot = self.slot
        (self.root / "daemon.json").write_text("{}\n")  # ignore /etc/docker/daemon.json
        command = [
            "dockerd",
            "--config-file", str(self.root / "daemon.json"),
            "--data-root", str(self.root / "data"),
            "--exec-root", str(self.root / "exec"),
            "--pidfile", str(self.root / "dockerd.pid"),
            "-H", self.host,
            "--storage-driver=vfs",
            f"--bridge={slot.bridge}",
            "--default-address-pool", f"base={slot.local_pool},size=24",
            "--ip=127.0.0.1",
            f"--swarm-default-advertise-addr={slot.loopback}",
        ]  # fmt: skip
        self.process = spawn(
            command,
            self.log,
            die_with_parent=self.die_with_parent,
            env={**os.environ, "PATH": system_path()},
        )
        self._write_owner()
        self._wait_ready(started + timeout)
        self.timings["daemon"] = time.monotonic() - started
        step = time.monotonic()
        self.import_busybox()
        self.timings["image"] = time.monotonic() - step

    def _write_owner(self) -> None:
        owner = {
            "owner_pid": os.getpid(),
            "daemon_pid": self.process.pid if self.process else None,
            "slot": self.slot.to_json() if self.slot else None,
        }
        (self.root / "owner.json").write_text(json.dumps(owner))

    def _wait_ready(self, deadline: float) -> None:
        assert self.process is not None
        while True:
            if self.process.poll() is not None:
                raise EngineError(f"dockerd exited ({self.process.returncode}):\n{self.logs()}")
            try:
                with contextlib.closing(self.client(timeout=5)) as client:
                    client.ping()
                return
            except DockerException:
                if time.monotonic() > deadline:
                    raise EngineError(f"dockerd not ready:\n{self.logs()}") from None
                time.sleep(0.1)

    def logs(self) -> str:
        return log_tail(self.log)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def client(self, timeout: int = 60) -> docker.DockerClient:
        """A new SDK client for this engine (close it: ``contextlib.closing``)."""
        return docker.DockerClient(base_url=self.host, timeout=timeout)

    def env(self) -> dict[str, str]:
        """This process' environment with ``DOCKER_HOST`` pointing at the engine."""
        return {**os.environ, "DOCKER_HOST": self.host}

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the docker CLI against this engine."""
        return subprocess.run(
            ["docker", *args], env=self.env(), capture_output=True, text=True, check=check
        )

    def import_busybox(self) -> None:
        repository, tag = BUSYBOX_IMAGE.rsplit(":", 1)
        with contextlib.closing(self.client()) as client:
            client.api.import_image_from_data(
                busybox_rootfs(), repository=repository, tag=tag, changes=list(IMAGE_CHANGES)
            )
            client.images.get(BUSYBOX_IMAGE)

    # --- swarm -------------------------------------------------------------------------------
    @property
    def swarm_address(self) -> str:
        """The loopback address the swarm advertises and listens on (127.0.N.1)."""
        if self.slot is None:
            raise EngineError("the engine is not started")
        return self.slot.loopback

    def swarm_active(self) -> bool:
        with contextlib.closing(self.client()) as client:
            return client.info().get("Swarm", {}).get("LocalNodeState") == "active"

    def swarm_init(self, timeout: float = 30.0) -> None:
        """Make the engine a single-node swarm manager (idempotent).

        The swarm listens on ``127.0.N.1:2377`` and gossips on ``127.0.N.1:7946`` (7946
        cannot be changed: a per-engine loopback address keeps concurrent swarms apart).
        VXLAN uses a free UDP data path port; the kernel binds that one on all addresses.
        """
        if self.slot is None:
            raise EngineError("the engine is not started")
        if self.swarm_active():
            return
        slot = self.slot
        with host_lock(), contextlib.closing(self.client()) as client:
            if not client.networks.list(names=["docker_gwbridge"]):
                client.networks.create(
                    "docker_gwbridge",
                    driver="bridge",
                    ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=slot.gwbridge_subnet)]),
                    options={
                        "com.docker.network.bridge.name": slot.gwbridge,
                        "com.docker.network.bridge.enable_icc": "false",
                        "com.docker.network.bridge.enable_ip_masquerade": "true",
                    },
                )
            client.swarm.init(
                advertise_addr=slot.loopback,
                listen_addr=f"{slot.loopback}:2377",
                data_path_port=_data_path_port(slot),
                default_addr_pool=[slot.overlay_pool],
                subnet_size=24,
            )
        deadline = time.monotonic() + timeout
        with contextlib.closing(self.client()) as client:
            while True:
                nodes = client.nodes.list()
                if nodes and nodes[0].attrs.get("Status", {}).get("State") == "ready":
                    break
                if time.monotonic() > deadline:
                    raise EngineError(f"swarm node not ready:\n{self.logs()}")
                time.sleep(0.1)
        if "error in agentInit" in self.logs():
            raise EngineError(f"swarm networking failed to start:\n{self.logs()}")

    def swarm_leave(self) -> None:
        """Remove services, configs and secrets, leave the swarm, drop docker_gwbridge."""
        if not self.running:
            return
        with contextlib.closing(self.client()) as client:
            if client.info().get("Swarm", {}).get("LocalNodeState") == "active":
                for service in client.services.list():
                    with contextlib.suppress(DockerException):
                        service.remove()
                # Do not wait for tasks to stop gracefully (`sleep` ignores SIGTERM as PID 1).
                for container in client.containers.list(
                    all=True, filters={"label": "com.docker.swarm.task.id"}
                ):
                    with contextlib.suppress(DockerException):
                        container.remove(force=True)
                with contextlib.suppress(DockerException):
                    client.swarm.leave(force=True)
            for network in client.networks.list(names=["docker_gwbridge"]):
                # Its endpoints go away with the swarm's containers; retry a little.
                for _ in range(50):
                    try:
                        network.remove()
                        break
                    except APIError:
                        time.sleep(0.1)

    # --- cleanup -----------------------------------------------------------------------------
    def reset(self) -> None:
        """Remove every container, service, volume and user network (keep the image)."""
        if not self.running:
            return
        with contextlib.closing(self.client()) as client:
            if client.info().get("Swarm", {}).get("LocalNodeState") == "active":
                for service in client.services.list():
                    with contextlib.suppress(DockerException):
                        service.remove()
            for container in client.containers.list(all=True):
                with contextlib.suppress(DockerException):
                    container.remove(force=True, v=True)
            for network in client.networks.list():
                if network.name in ("bridge", "host", "none", "ingress", "docker_gwbridge"):
                    continue
                with contextlib.suppress(DockerException):
                    network.remove()
            with contextlib.suppress(DockerException):
                client.volumes.prune()

    def stop(self) -> None:
        """Remove what the engine holds, stop dockerd by its PID and clean the host."""
        if self.running:
            with contextlib.suppress(DockerException, OSError):
                self.reset()
            with contextlib.suppress(DockerException, OSError):
                self.swarm_leave()
        if self.process is not None:
            terminate(self.process, timeout=30)
        kill_processes_using(self.root)
        _clean_host(self.root, self.slot)


def _data_path_port(slot: hostnet.Slot) -> int:
    """A UDP port for this swarm's VXLAN traffic (4789 may belong to another engine)."""
    for port in (47000 + slot.number, *range(47300, 47500)):
        if port_is_free(port, "0.0.0.0", udp=True):
            return port
    raise EngineError("no free UDP port for the swarm data path")


def _clean_host(root: Path, slot: hostnet.Slot | None) -> None:
    remove_tree(root / "exec")
    remove_tree(root / "data")
    if slot is not None:
        with host_lock():
            hostnet.release_slot(slot)
    remove_tree(root)


def reap_stale_engines() -> None:
    """Clean what engines of dead test sessions left (never touches a live process).

    A session killed with SIGKILL takes its dockerd along (parent-death signal), but the
    directory, mounts, bridges and iptables rules stay; the next engine removes them.
    """
    for owner_file in Path("/tmp").glob(f"{ROOT_PREFIX}*/owner.json"):
        root = owner_file.parent
        try:
            owner = json.loads(owner_file.read_text())
        except (OSError, ValueError):
            continue
        pids = [owner.get("owner_pid"), owner.get("daemon_pid")]
        if any(isinstance(pid, int) and pid_alive(pid) for pid in pids):
            continue
        if processes_using(root):
            continue
        slot_data = owner.get("slot")
        slot = hostnet.Slot.from_json(slot_data) if isinstance(slot_data, dict) else None
        _clean_host(root, slot)
