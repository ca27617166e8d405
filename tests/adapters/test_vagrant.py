"""The Vagrant adapter, its Vagrantfile generator and tools, against real vagrant.

VM providers cannot run here (no libvirt, no boxes): their Vagrantfiles are generated and
checked with `vagrant validate`. The docker provider runs for real against the test
engine: up, status, the published port, logs, a changed service, halt, destroy, and a
failing deploy that is undone.
"""

from __future__ import annotations

import base64
import contextlib
import re
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.infra.availability import unavailable
from tests.infra.docker_engine import BUSYBOX_IMAGE, DockerEngine
from tools.adapters import vagrantfile as vf
from tools.adapters.factory import AdapterOptions, build_adapter
from tools.adapters.vagrant import VagrantAdapter
from tools.base import Caller, ConsumedApproval, ToolContext
from tools.stack import Service, Stack, dump_compose, load_stack
from tools.targets import TargetKind, TargetSpec, VagrantConnection
from tools.vagrant_tools import (
    VAGRANT_TOOLS,
    vagrant_destroy,
    vagrant_status,
    vagrant_up,
    vagrant_validate,
)
from windflow.errors import (
    ApprovalError,
    InvalidInput,
    NotFound,
    OrchestratorError,
    TargetUnreachable,
)

pytestmark = pytest.mark.vagrant

# Quotes, Ruby interpolation in all three forms, a backslash, newlines, the bytes that end
# a Ruby script early (NUL, ^D, ^Z), a shell command substitution and non-ASCII text.
HOSTILE = "a\"b'c #{`touch /tmp/wf-pwned`} #@x #$y \\ $(id)\nend\n\x00\x04\x1a é ☃ 😀"
HOSTILE_NO_NUL = HOSTILE.replace("\x00", "")  # the kernel's argv/env cannot carry NUL


def pwned() -> bool:
    """Whether any hostile value was executed (its payload touches this file)."""
    return Path("/tmp/wf-pwned").exists()


def shell_syntax_ok(script: str) -> bool:
    return subprocess.run(["sh", "-n", "-c", script], check=False).returncode == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def target(connection: dict[str, Any], name: str = "vagrant-test") -> TargetSpec:
    return TargetSpec(
        id=f"t-{name}",
        org_id="org",
        name=name,
        kind=TargetKind.VAGRANT,
        environment="dev",
        connection=connection,
    )


def docker_adapter(engine: DockerEngine, root: Path) -> VagrantAdapter:
    return VagrantAdapter(
        target({"provider": "docker"}), workdir_root=root, docker_host=engine.host
    )


def two_services(port: int, greeting: str = "v1", web_command: str | None = None) -> str:
    command = web_command or f"echo {greeting} > /tmp/greeting; exec httpd -f -p 8080 -h /var/www"
    return f"""
services:
  db:
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo db ready; exec httpd -f -p 8081 -h /var/www"]
    volumes: ["data:/data"]
    stop_grace_period: 1s
    stop_signal: SIGKILL
  web:
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "{command}"]
    ports: ["127.0.0.1:{port}:8080"]
    depends_on: [db]
    stop_grace_period: 1s
    stop_signal: SIGKILL
    labels:
      tier: front
volumes:
  data: {{}}
"""


def crashing_web(port: int) -> str:
    """web dies after vagrant saw it running: WindFlow's own check must catch that."""
    return two_services(port, web_command="echo broken; sleep 0.5; exit 3")


def containers_of(engine: DockerEngine, stack: str) -> list[Any]:
    with contextlib.closing(engine.client()) as client:
        return list(
            client.containers.list(all=True, filters={"label": f"{vf.STACK_LABEL}={stack}"})
        )


@contextlib.asynccontextmanager
async def cleanup(adapter: VagrantAdapter, engine: DockerEngine, stack: str) -> AsyncIterator[None]:
    """Destroy the stack whatever happened; fall back to the engine if vagrant cannot."""
    try:
        yield
    finally:
        with contextlib.suppress(OrchestratorError, TargetUnreachable):
            await adapter.remove(stack, remove_volumes=True)
        with contextlib.closing(engine.client()) as client:
            for container in client.containers.list(
                all=True, filters={"label": f"{vf.STACK_LABEL}={stack}"}
            ):
                container.remove(force=True)
            for network in client.networks.list(names=[vf.network_name(stack)]):
                network.remove()


# --- generation and `vagrant validate` -----------------------------------------------------


def test_ruby_literals_round_trip_through_real_ruby(vagrant_ready: str) -> None:
    ruby = shutil.which("ruby")
    if ruby is None:
        unavailable("ruby", "vagrant's ruby is not on PATH")
    values = [HOSTILE, "", "#", "\\", '"', "#{1+1}", "\u2028", "tab\there"]
    program = "".join(f'print({vf.ruby_str(v)}); print("\\u{{0}}SEP")\n' for v in values)
    done = subprocess.run([ruby, "-e", program], capture_output=True, check=True)
    assert done.stdout.decode().split("\x00SEP")[:-1] == values
    assert not pwned()


@pytest.mark.parametrize("provider", ["libvirt", "virtualbox"])
async def test_vm_vagrantfile_with_provisioning_validates(
    vagrant_ready: str, tmp_path: Path, provider: str
) -> None:
    stack = load_stack(
        """
services:
  web:
    image: nginx:1.27
    ports: ["8080:80", "9000"]
    environment: {GREETING: hello}
  db:
    image: postgres:16
    volumes: ["data:/var/lib/postgresql/data", "./init:/docker-entrypoint-initdb.d"]
volumes:
  data: {}
""",
        name="blog",
    )
    connection = {"provider": provider, "cpus": 3, "memory_mb": 3072, "private_ip": "10.9.8.7"}
    adapter = VagrantAdapter(target(connection), workdir_root=tmp_path)
    rendered = vf.render(stack, VagrantConnection(**connection))
    text = rendered.text
    assert 'm.vm.box = "debian/bookworm64"' in text
    assert 'm.vm.hostname = "blog"' in text
    assert 'm.vm.network "private_network", ip: "10.9.8.7"' in text
    assert 'm.vm.network "forwarded_port", guest: 8080, host: 8080, host_ip: "127.0.0.1"' in text
    assert f'm.vm.provider "{provider}" do |p|\n      p.cpus = 3\n      p.memory = 3072' in text
    assert 'm.vm.provision "shell", name: "windflow-stack"' in text
    # Unmappable settings are reported, not dropped.
    assert any("port 9000 has no published port" in w for w in rendered.warnings)
    assert any("./init" in w or "init is relative" in w for w in rendered.warnings)

    script = vf.provision_script(stack)
    assert "apt-get install -y -q docker.io" in script
    assert "up -d --remove-orphans" in script and "/opt/windflow/blog/compose.yaml" in script
    assert shell_syntax_ok(script)
    payload = re.search(r"echo '([A-Za-z0-9+/=]+)' \| base64 -d", script)
    assert payload is not None
    assert base64.b64decode(payload.group(1)).decode() == dump_compose(stack)

    result = await adapter.validate(stack)
    assert result.valid, result.message
    assert result.problems == []
    if not result.provider_checked:
        assert any(f"the {provider} provider is not usable" in w for w in result.warnings)


async def test_hostile_names_and_values_in_a_vm_vagrantfile_validate(
    vagrant_ready: str, tmp_path: Path
) -> None:
    stack = Stack(
        name=f"evil{HOSTILE}",
        services={
            f"svc{HOSTILE}": Service(
                name=f"svc{HOSTILE}",
                image=f"img{HOSTILE}",
                command=["sh", "-c", HOSTILE],
                environment={"H": HOSTILE},
            )
        },
    )
    connection = {"provider": "libvirt", "private_ip": "192.168.56.9"}
    adapter = VagrantAdapter(target(connection), workdir_root=tmp_path)
    result = await adapter.validate(stack)
    assert result.valid, result.message
    rendered = vf.render(stack, VagrantConnection(**connection))
    assert vf.ruby_str(f"img{HOSTILE}") not in rendered.text  # it travels in base64
    assert "#{" not in rendered.text.replace("\\#{", "")
    machine = rendered.machines[0].name
    assert re.fullmatch(r"[a-z0-9-]+", machine)
    script = vf.provision_script(stack)
    assert shell_syntax_ok(script)
    assert not pwned()
    # Target settings are values too: a hostile box is escaped, and reported as no box.
    boxed = vf.render(stack, VagrantConnection(provider="virtualbox", box=f"box{HOSTILE}"))
    assert vf.ruby_str(f"box{HOSTILE}") in boxed.text
    assert any(p.startswith("box ") for p in boxed.problems)


async def test_settings_the_docker_provider_cannot_express_are_refused(
    vagrant_ready: str, docker_engine: DockerEngine, tmp_path: Path
) -> None:
    stack = load_stack(
        """
services:
  app:
    build: .
  worker:
    image: x:1
    deploy: {replicas: 3, placement: {constraints: ["node.role==manager"]}}
    environment: [FROM_SERVER]
    volumes: ["./data:/data"]
""",
        name="bad",
    )
    adapter = docker_adapter(docker_engine, tmp_path)
    rendered = vf.render(stack, adapter.settings)
    assert any("app: builds an image" in p for p in rendered.problems)
    assert any("worker: 3 replicas" in p for p in rendered.problems)
    assert any("FROM_SERVER" in p for p in rendered.problems)
    assert any("./data is relative" in p for p in rendered.problems)
    assert any("placement apply to Swarm only" in w for w in rendered.warnings)
    with pytest.raises(InvalidInput) as refused:
        await adapter.preview(stack)
    assert "3 replicas" in refused.value.message
    with pytest.raises(InvalidInput):
        await adapter.deploy(stack)
    assert not adapter.project_dir("bad").exists()
    with pytest.raises(OrchestratorError, match="machines do not scale"):
        await adapter.scale("bad", "worker", 3)
    assert await adapter.events("bad", since_seconds=60) == []


# --- the docker provider, for real -----------------------------------------------------------


async def test_docker_provider_lifecycle(
    vagrant_ready: str, docker_engine: DockerEngine, tmp_path: Path
) -> None:
    home_vagrant = Path.home() / ".vagrant.d"
    home_before = home_vagrant.exists() and home_vagrant.stat().st_mtime
    port = free_port()
    adapter = docker_adapter(docker_engine, tmp_path)
    stack = load_stack(two_services(port), name="shop")
    # A hostile value travels as an environment value, a label and a command argument.
    stack.services["db"].environment["H"] = HOSTILE_NO_NUL
    stack.services["db"].labels["note"] = HOSTILE_NO_NUL
    stack.services["db"].command = [*(stack.services["db"].command or []), HOSTILE_NO_NUL]
    async with cleanup(adapter, docker_engine, "shop"):
        preview = await adapter.preview(stack)
        assert [(c.action, c.resource) for c in preview.changes] == [
            ("create", "network windflow-shop"),
            ("create", "db"),
            ("create", "web"),
        ]
        assert 'd.image = "windflow-test/busybox:1"' in preview.diff

        outcome = await adapter.deploy(stack)
        assert outcome.created == ["db", "web"]
        status = await adapter.status("shop")
        assert [(s.name, s.state) for s in status.services] == [
            ("db", "running"),
            ("web", "running"),
        ]
        async with httpx.AsyncClient() as http:
            page = await http.get(f"http://127.0.0.1:{port}/index.html", timeout=5)
        assert page.text == "windflow test page\n"

        (db,) = [c for c in containers_of(docker_engine, "shop") if c.name.endswith("-db")]
        assert f"H={HOSTILE_NO_NUL}" in db.attrs["Config"]["Env"]
        assert db.labels["note"] == HOSTILE_NO_NUL
        assert db.labels[vf.STACK_LABEL] == "shop"
        assert db.attrs["Config"]["Cmd"][-1] == HOSTILE_NO_NUL
        assert [m["Name"] for m in db.attrs["Mounts"]] == ["shop_data"]
        assert not pwned()
        (web,) = [c for c in containers_of(docker_engine, "shop") if c.name.endswith("-web")]
        # Services share the stack's network and find each other by service name.
        reached = web.exec_run(["wget", "-qO-", "http://db:8081/index.html"])
        assert reached.exit_code == 0 and b"windflow test page" in reached.output

        logs = await adapter.logs("shop", "db", tail=20, since_seconds=None)
        assert "db ready" in logs.lines
        inventory = await adapter.inventory()
        assert {(w.stack, w.name, w.kind) for w in inventory.workloads} == {
            ("shop", "db", "container"),
            ("shop", "web", "container"),
        }

        # Same stack again: nothing to do. One service changed: only it is replaced.
        assert {c.action for c in (await adapter.preview(stack)).changes} == {"noop"}
        changed = load_stack(two_services(port, greeting="v2"), name="shop")
        changed.services["db"] = stack.services["db"]
        preview = await adapter.preview(changed)
        assert [(c.action, c.resource) for c in preview.changes] == [
            ("noop", "db"),
            ("recreate", "web"),
        ]
        assert "-" in preview.diff and "echo v2" in preview.diff
        outcome = await adapter.deploy(changed)
        assert (outcome.recreated, outcome.unchanged) == (["web"], ["db"])
        (web,) = [c for c in containers_of(docker_engine, "shop") if c.name.endswith("-web")]
        assert web.exec_run(["cat", "/tmp/greeting"]).output == b"v2\n"

        # A change that fails: the new web is destroyed, the previous one comes back.
        vagrantfile = adapter.project_dir("shop") / "Vagrantfile"
        before = vagrantfile.read_text()
        broken = load_stack(crashing_web(port), name="shop")
        broken.services["db"] = stack.services["db"]
        with pytest.raises(OrchestratorError) as failed:
            await adapter.deploy(broken)
        assert "web stopped right after it started (exit code 3)" in failed.value.message
        assert "restored the previous Vagrantfile" in failed.value.message
        assert vagrantfile.read_text() == before
        (web,) = [c for c in containers_of(docker_engine, "shop") if c.name.endswith("-web")]
        assert web.exec_run(["cat", "/tmp/greeting"]).output == b"v2\n"

        halted = await adapter.halt("shop")
        assert {s.state for s in halted.services} == {"exited"}

        removed = await adapter.remove("shop", remove_volumes=True)
        assert removed.removed == ["db", "web"]
        assert containers_of(docker_engine, "shop") == []
        with contextlib.closing(docker_engine.client()) as client:
            assert client.volumes.list(filters={"name": "shop_data"}) == []
            assert client.networks.list(names=[vf.network_name("shop")]) == []
        assert not adapter.project_dir("shop").exists()
        assert (await adapter.status("shop")).services == []
    assert (tmp_path / ".vagrant.d").is_dir()
    assert (home_vagrant.exists() and home_vagrant.stat().st_mtime) == home_before


async def test_a_failed_first_deploy_destroys_what_it_created(
    vagrant_ready: str, docker_engine: DockerEngine, tmp_path: Path
) -> None:
    adapter = docker_adapter(docker_engine, tmp_path)
    async with cleanup(adapter, docker_engine, "undo"):
        with pytest.raises(OrchestratorError) as failed:
            await adapter.deploy(load_stack(crashing_web(free_port()), name="undo"))
        assert "web stopped right after it started (exit code 3): broken" in failed.value.message
        assert "destroyed the 2 machine(s) it had created" in failed.value.message
        assert containers_of(docker_engine, "undo") == []
        assert not adapter.project_dir("undo").exists()
        with contextlib.closing(docker_engine.client()) as client:
            assert client.networks.list(names=[vf.network_name("undo")]) == []


# --- clear errors ------------------------------------------------------------------------------


async def test_missing_vagrant_and_unreachable_engine_are_clear(
    vagrant_ready: str, docker_engine: DockerEngine, tmp_path: Path
) -> None:
    stack = load_stack(two_services(free_port()), name="err")
    missing = VagrantAdapter(
        target({"provider": "docker"}),
        workdir_root=tmp_path,
        docker_host=docker_engine.host,
        vagrant_binary="/nonexistent/vagrant",
    )
    check = await missing.check()
    assert not check.reachable and "vagrant is not installed" in check.detail
    with pytest.raises(TargetUnreachable) as error:
        await missing.deploy(stack)
    assert "vagrant is not installed" in error.value.message and error.value.hint

    nowhere = VagrantAdapter(
        target({"provider": "docker"}),
        workdir_root=tmp_path,
        docker_host=f"unix://{tmp_path}/no-engine.sock",
    )
    check = await nowhere.check()
    assert not check.reachable and "does not answer" in check.detail and check.version
    with pytest.raises(TargetUnreachable) as error:
        await nowhere.deploy(stack)
    assert "no-engine.sock" in error.value.message and error.value.hint
    assert not nowhere.project_dir("err").exists()

    healthy = await docker_adapter(docker_engine, tmp_path).check()
    assert healthy.reachable and healthy.version and healthy.version.startswith("2.")

    vm = VagrantAdapter(target({"provider": "libvirt"}), workdir_root=tmp_path)
    with pytest.raises(OrchestratorError, match="need SSH"):
        await vm.logs("err", "web", tail=10, since_seconds=None)
    with pytest.raises(NotFound):
        await vm.halt("err")


# --- tools --------------------------------------------------------------------------------------


class RefusingLedger:
    """No approval exists in these tests: any attempt to consume one fails."""

    async def consume(self, **_: Any) -> ConsumedApproval:
        raise ApprovalError("no approval in this test")


@pytest.fixture
def tool_ctx(docker_engine: DockerEngine, tmp_path: Path) -> Iterator[ToolContext]:
    spec = target({"provider": "docker"}, name="tools")
    adapter = build_adapter(
        spec, AdapterOptions(default_docker_host=docker_engine.host, vagrant_root=tmp_path)
    )
    assert isinstance(adapter, VagrantAdapter)
    yield ToolContext(
        caller=Caller(user_id="u", org_id="org"),
        target=spec,
        adapter=adapter,
        ledger=RefusingLedger(),
    )


async def test_vagrant_tools(vagrant_ready: str, tool_ctx: ToolContext) -> None:
    assert {t.name: (t.risk, t.permission) for t in VAGRANT_TOOLS} == {
        "vagrant_status": ("read", "targets:read"),
        "vagrant_validate": ("read", "targets:read"),
        "vagrant_up": ("mutate", "deployments:execute"),
        "vagrant_halt": ("mutate", "deployments:execute"),
        "vagrant_destroy": ("destructive", "deployments:execute"),
    }
    for item in VAGRANT_TOOLS:
        assert item.targets == {TargetKind.VAGRANT} and item.description
        assert item.function_schema()["function"]["parameters"]["additionalProperties"] is False
    with pytest.raises(InvalidInput):
        vagrant_status.parse({"stack": "shop", "extra": 1})

    args = {"stack": "tooled", "compose": two_services(free_port())}
    validation = await vagrant_validate.execute(tool_ctx, vagrant_validate.parse(args))
    assert validation.valid and validation.provider_checked
    plan = await vagrant_up.plan(tool_ctx, vagrant_up.parse(args))
    assert plan.summary.startswith("vagrant up stack tooled (docker provider): create")
    assert '+    m.vm.provider "docker" do |d|' in plan.diff
    assert any("apply to VM providers only" in w for w in plan.warnings)
    with pytest.raises(ApprovalError):
        await vagrant_up.execute(tool_ctx, vagrant_up.parse(args))
    status = await vagrant_status.execute(tool_ctx, vagrant_status.parse({"stack": "tooled"}))
    assert status.services == []
    with pytest.raises(NotFound):
        await vagrant_destroy.plan(tool_ctx, vagrant_destroy.parse({"stack": "tooled"}))
    assert not tool_ctx.adapter.project_dir("tooled").exists()
