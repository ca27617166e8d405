"""Vagrant for tests: is it installed, can its docker provider drive a test engine, a smoke run.

Vagrant's docker provider shells out to the ``docker`` CLI, so every vagrant process must
get ``DOCKER_HOST`` of the :class:`~tests.infra.docker_engine.DockerEngine` it should use
(never the machine's default socket). :class:`VagrantDocker` builds that environment, with
a private ``VAGRANT_HOME`` and Vagrant's network checks (checkpoint, box updates) off.

VM providers cannot run here (no libvirt/VirtualBox, no boxes to download); their
Vagrantfiles can still be checked with ``vagrant validate``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import vagrant

from tests.infra.docker_engine import BUSYBOX_IMAGE, DockerEngine

QUIET_ENV = {
    "VAGRANT_CHECKPOINT_DISABLE": "1",  # no version check against hashicorp.com
    "VAGRANT_BOX_UPDATE_CHECK_DISABLE": "1",
    "VAGRANT_NO_COLOR": "1",
    "VAGRANT_DEFAULT_PROVIDER": "docker",
}


def vagrant_binary() -> str | None:
    return shutil.which("vagrant")


@functools.cache
def vagrant_version(binary: str) -> str | None:
    """``2.3.4`` for a vagrant that runs, None otherwise (cached: ruby starts slowly)."""
    try:
        done = subprocess.run(
            [binary, "--version"],
            env={**os.environ, **QUIET_ENV},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"Vagrant (\S+)", done.stdout)
    return found.group(1) if done.returncode == 0 and found else None


def missing_prerequisite() -> str | None:
    """Why vagrant cannot be used here, or None."""
    binary = vagrant_binary()
    if binary is None:
        return "vagrant is not installed (run tests/setup-engines.sh)"
    if vagrant_version(binary) is None:
        return f"{binary} --version fails"
    return None


def docker_provider_problem(engine: DockerEngine) -> str | None:
    """Why vagrant's docker provider cannot drive ``engine``, or None."""
    reason = missing_prerequisite()
    if reason:
        return reason
    if shutil.which("docker") is None:
        return "the docker CLI (used by vagrant's docker provider) is not installed"
    if not engine.running:
        return "the Docker engine is not running"
    done = engine.docker("version", "--format", "{{.Server.Version}}", check=False)
    if done.returncode != 0:
        return f"docker CLI cannot reach {engine.host}: {done.stderr.strip()}"
    return None


def docker_vagrantfile(
    name: str = "web",
    *,
    image: str = BUSYBOX_IMAGE,
    cmd: Sequence[str] = ("sleep", "3600"),
    ports: Sequence[str] = (),
) -> str:
    """A Vagrantfile with one docker-provider machine running ``cmd`` in ``image``."""

    def ruby(values: Sequence[str]) -> str:
        return "[" + ", ".join(_ruby_string(value) for value in values) + "]"

    return f"""Vagrant.configure("2") do |config|
  config.vm.synced_folder ".", "/vagrant", disabled: true
  config.vm.define {_ruby_string(name)} do |machine|
    machine.vm.provider "docker" do |d|
      d.image = {_ruby_string(image)}
      d.has_ssh = false
      d.remains_running = true
      d.cmd = {ruby(cmd)}
      d.ports = {ruby(ports)}
    end
  end
end
"""


def _ruby_string(value: str) -> str:
    """A single-quoted Ruby literal (no interpolation)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class VagrantDocker:
    """vagrant with its docker provider pointed at one test engine."""

    def __init__(self, engine: DockerEngine, home: Path) -> None:
        binary = vagrant_binary()
        if binary is None:
            raise RuntimeError("vagrant is not installed")
        self.binary = binary
        self.engine = engine
        self.home = home
        home.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        """The environment every vagrant process gets (DOCKER_HOST of the engine)."""
        return {
            **os.environ,
            **QUIET_ENV,
            "DOCKER_HOST": self.engine.host,
            "VAGRANT_HOME": str(self.home),
        }

    def run(
        self, root: Path, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``vagrant ARGS`` in ``root``."""
        return subprocess.run(
            [self.binary, *args],
            cwd=root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def validate(self, root: Path) -> subprocess.CompletedProcess[str]:
        # python-vagrant's validate() ignores env=: run it here.
        return self.run(root, "validate", check=False)

    def machine(self, root: Path) -> vagrant.Vagrant:
        """A python-vagrant handle on the Vagrantfile in ``root``."""
        return vagrant.Vagrant(root=str(root), env=self.env(), quiet_stdout=True, quiet_stderr=True)


@dataclass
class SmokeResult:
    validate: str
    statuses: dict[str, str] = field(default_factory=dict)
    container_running: bool = False
    timings: dict[str, float] = field(default_factory=dict)


def smoke(engine: DockerEngine, workdir: Path, *, up: bool = True) -> SmokeResult:
    """validate; then (with ``up``) up --provider=docker, status, destroy on ``engine``.

    Raises ``subprocess.CalledProcessError`` (with vagrant's output) when a step fails.
    """
    env = VagrantDocker(engine, workdir / "vagrant.d")
    project = workdir / "project"
    project.mkdir(parents=True, exist_ok=True)
    (project / "Vagrantfile").write_text(docker_vagrantfile("web"))
    step = time.monotonic()
    validated = env.validate(project)
    validated.check_returncode()
    result = SmokeResult(validate=validated.stdout.strip())
    result.timings["validate"] = time.monotonic() - step
    if not up:
        return result
    machine = env.machine(project)
    try:
        step = time.monotonic()
        machine.up(provider="docker")
        result.timings["up"] = time.monotonic() - step
        result.statuses = {status.name: status.state for status in machine.status()}
        running = engine.docker("ps", "--format", "{{.Names}}").stdout
        result.container_running = any(line.startswith("project_web") for line in running.split())
    finally:
        step = time.monotonic()
        machine.destroy()
        result.timings["destroy"] = time.monotonic() - step
    result.statuses["after destroy"] = machine.status()[0].state
    return result
