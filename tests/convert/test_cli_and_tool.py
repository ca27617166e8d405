"""``windflow convert`` exit codes and output, and the assistant's convert_compose tool."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from tests.convert.cases import CASES
from tools.base import Caller, ToolContext
from tools.convert.tool import ConvertInput, convert_compose


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str) -> Ran:
    # In process: the command's own code path, without paying the CLI's import time per call.
    result = CliRunner().invoke(app, ["convert", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def test_cli_writes_files_and_exits_by_outcome(tmp_path: Path) -> None:
    clean = run_cli(
        str(CASES / "stateful-db" / "docker-compose.yml"),
        "--to",
        "k8s",
        "--out",
        str(tmp_path / "k"),
    )
    assert clean.returncode == 0, clean.stderr
    assert (tmp_path / "k" / "manifests.yaml").is_file()
    unmapped = run_cli(str(CASES / "unmappable" / "docker-compose.yml"), "--to", "swarm", "--json")
    assert unmapped.returncode == 1
    payload = json.loads(unmapped.stdout)
    found = {(u["service"], u["field"]) for u in payload["conversion"]["unmapped"]}
    assert {("app", "devices"), ("sidecar", "network_mode")} <= found
    secret = run_cli(str(CASES / "wordpress" / "docker-compose.yml"), "--to", "k8s", "--json")
    assert secret.returncode == 0  # everything maps: warnings only
    assert "wppw" not in secret.stdout and "<redacted>" in secret.stdout
    assert payload["validation"]["ok"] is True


def test_cli_bad_input_names_file_path_and_line(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(
        "services:\n  a:\n    image: x\n    depends_on: [b]\n"
        "  b:\n    image: y\n    depends_on: [a]\n"
    )
    cycle = run_cli(str(compose), "--to", "helm")
    assert cycle.returncode == 2
    assert f"{compose}:4 services.a.depends_on" in cycle.stderr
    compose.write_text("services:\n  a:\n    image: x\n    portz: [1]\n")
    unknown = run_cli(str(compose), "--to", "kubernetes")
    assert unknown.returncode == 2 and f"{compose}:4 services.a.portz" in unknown.stderr
    compose.write_text("services:\n  a: [\n")
    broken = run_cli(str(compose), "--to", "vagrant")
    assert broken.returncode == 2 and str(compose) in broken.stderr
    assert run_cli(str(compose), "--to", "nomad").returncode == 2


async def test_tool_returns_files_unmapped_validation_and_hides_secrets() -> None:
    compose = (CASES / "wordpress" / "docker-compose.yml").read_text()
    ctx = ToolContext(caller=Caller("u1", "o1"), target=None, adapter=None, ledger=None)  # type: ignore[arg-type]
    for target in ("kubernetes", "helm", "swarm", "vagrant"):
        out = await convert_compose.execute(
            ctx, ConvertInput(compose=compose, to=target, name="wp")
        )
        assert out.validation.ok or out.validation.skipped
        assert "wppw" not in json.dumps(out.files), target
    assert convert_compose.risk == "read" and convert_compose.permission == "stacks:read"
