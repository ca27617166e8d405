"""diagnose_service: from status, logs and events to findings a human can act on."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.infra.docker_engine import BUSYBOX_IMAGE, DockerEngine
from tools.adapters.docker_host import DockerHostAdapter
from tools.adapters.protocol import LogLines, OrchestratorEvent, ServiceStatus, StackStatus
from tools.base import Caller, ConsumedApproval, ToolContext
from tools.diagnosis import Diagnosis, diagnose, diagnose_service
from tools.stack import load_stack
from tools.targets import TargetKind, TargetSpec
from windflow.errors import InvalidInput, NotFound

STACK = "shop"


def status(**api: Any) -> StackStatus:
    fields: dict[str, Any] = {"name": "api", "state": "running", "running": 1, **api}
    return StackStatus(
        stack=STACK,
        services=[ServiceStatus(**fields), ServiceStatus(name="db", state="running", running=1)],
    )


def logs(*lines: str) -> LogLines:
    return LogLines(resource=f"{STACK}/api", lines=list(lines))


def event(action: str, message: str = "", resource: str = f"{STACK}-api-1") -> OrchestratorEvent:
    return OrchestratorEvent(
        time=datetime(2025, 1, 1, 12, 0, tzinfo=UTC),
        type="container",
        action=action,
        resource=resource,
        message=message,
    )


def codes(diagnosis: Diagnosis) -> dict[str, str]:
    return {f.code: f.severity for f in diagnosis.findings}


def run(
    svc: StackStatus, lines: LogLines | None = None, events: list[OrchestratorEvent] | None = None
) -> Diagnosis:
    return diagnose(svc, "api", lines, events or [])


def test_a_healthy_service_says_so_and_nothing_else() -> None:
    result = run(status(health="healthy"), logs("listening on :8080"))
    assert result.healthy and result.state == "running"
    assert [(f.code, f.severity) for f in result.findings] == [("healthy", "info")]
    assert "nothing needs attention" in result.summary
    assert result.log_excerpt == ["listening on :8080"]


def test_a_crash_loop_names_the_missing_variable_as_the_cause() -> None:
    result = run(
        status(state="failed", running=0, restarts=5, exit_code=1),
        logs("starting api v2.1", "FATAL: DATABASE_URL is not set", "starting api v2.1"),
    )
    assert not result.healthy
    assert codes(result) == {
        "missing_env": "critical",
        "crash_loop": "critical",
        "exit_nonzero": "critical",
    }
    assert result.findings[0].code == "missing_env", "causes come before symptoms"
    missing = result.findings[0]
    assert "DATABASE_URL" in missing.title and "DATABASE_URL" in missing.suggestion
    assert missing.evidence == ["FATAL: DATABASE_URL is not set"]
    assert "crash-looping" in result.summary and "DATABASE_URL" in result.summary
    assert result.summary.count(". ") == 1, "two sentences"


def test_exits_between_restarts_are_a_crash_loop_even_while_briefly_running() -> None:
    deaths = [event("start"), *[event("die", "exitCode=2, image=x") for _ in range(3)]]
    result = run(status(restarts=2), logs("usage: api [--port N]"), deaths)
    assert codes(result)["crash_loop"] == "critical"
    assert "code 2" in next(f.title for f in result.findings if f.code == "exit_nonzero")
    assert not result.healthy


def test_old_restarts_of_a_now_stable_service_are_only_a_warning() -> None:
    result = run(status(restarts=4))
    assert codes(result) == {"crash_loop": "warning", "healthy": "info"}
    assert result.healthy


def test_events_of_other_services_are_not_counted() -> None:
    others = [event("die", "exitCode=1", resource=f"{STACK}-api-admin-1") for _ in range(5)]
    others += [event("die", "exitCode=1", resource=f"{STACK}-db-1") for _ in range(5)]
    assert codes(run(status(), None, others)) == {"healthy": "info"}


@pytest.mark.parametrize(
    ("svc", "events", "title"),
    [
        (status(state="failed", running=0, exit_code=137), [], "most likely out of memory"),
        (status(state="failed", running=0, message="killed: out of memory"), [], "too much"),
        (status(state="failed", running=0), [event("oom"), event("die", "exitCode=137")], "too"),
    ],
)
def test_out_of_memory(svc: StackStatus, events: list[OrchestratorEvent], title: str) -> None:
    result = run(svc, None, events)
    (oom,) = [f for f in result.findings if f.code == "oom_killed"]
    assert oom.severity == "critical" and title in oom.title
    assert "limits.memory" in oom.suggestion
    assert "exit_nonzero" not in codes(result)


@pytest.mark.parametrize(
    ("code", "meaning"),
    [
        (1, "general error"),
        (126, "cannot be executed"),
        (127, "not found"),
        (139, "segmentation fault"),
        (143, "SIGTERM"),
        (135, "signal 7"),
    ],
)
def test_exit_codes_are_explained(code: int, meaning: str) -> None:
    result = run(status(state="failed", running=0, exit_code=code))
    (finding,) = [f for f in result.findings if f.code == "exit_nonzero"]
    assert finding.severity == "critical" and meaning in finding.title
    assert f"exit code {code}" in finding.evidence


def test_a_failing_healthcheck() -> None:
    svc = status(health="unhealthy", message="health probe: exit 1: curl: (7) Failed")
    result = run(svc, None, [event("health_status: unhealthy")])
    assert codes(result)["unhealthy"] == "critical" and not result.healthy
    assert "health probe: exit 1: curl: (7) Failed" in result.findings[0].evidence


DOWN = {"state": "failed", "running": 0, "exit_code": 1}


@pytest.mark.parametrize(
    ("code", "line", "in_title"),
    [
        ("port_conflict", "listen tcp 0.0.0.0:8080: bind: address already in use", "in use"),
        ("port_conflict", "Bind for 0.0.0.0:80 failed: port is already allocated", "in use"),
        (
            "connection_refused",
            "dial tcp 10.0.3.7:5432: connect: connection refused",
            "10.0.3.7:5432",
        ),
        ("connection_refused", "Error: connect ECONNREFUSED db:6379", "db:6379"),
        ("permission_denied", "open /data/app.sqlite: Permission denied", "Permission"),
        ("not_found", "exec /app/start.sh: no such file or directory", "not found"),
        ("not_found", "ModuleNotFoundError: No module named 'flask'", "not found"),
        ("missing_env", "Error: environment variable SECRET_KEY is required", "SECRET_KEY"),
        ("missing_env", "PORT must be set", "PORT"),
        ("config_error", 'nginx: [emerg] unknown directive "lisen" in default.conf:2', "invalid"),
        ("config_error", "yaml: line 3: mapping values are not allowed here", "invalid"),
        ("image_pull_failed", "Error response: pull access denied for acme/api", "pulled"),
    ],
)
def test_log_patterns_name_the_cause(code: str, line: str, in_title: str) -> None:
    result = run(status(**DOWN), logs("booting", line.upper() if code == "not_found" else line))
    (finding,) = [f for f in result.findings if f.code == code]
    assert finding.severity == "critical" and in_title in finding.title
    assert finding.evidence and finding.suggestion
    assert result.findings[0].code == code, "the cause leads, before exit_nonzero"


def test_image_pull_errors_come_from_the_status_message_too() -> None:
    svc = status(state="pending", running=0, message="No such image: ghcr.io/acme/api:9.9")
    result = run(svc)
    assert codes(result)["image_pull_failed"] == "critical"
    assert "No such image: ghcr.io/acme/api:9.9" in result.findings[0].evidence


def test_localhost_refusals_explain_that_localhost_is_the_container() -> None:
    result = run(status(**DOWN), logs("connect ECONNREFUSED 127.0.0.1:5432"))
    (finding,) = [f for f in result.findings if f.code == "connection_refused"]
    assert "service name" in finding.suggestion


def test_words_like_required_alone_are_not_a_missing_variable() -> None:
    result = run(status(**DOWN), logs("error: authentication is required"))
    assert "missing_env" not in codes(result)


def test_log_problems_of_a_running_service_are_warnings() -> None:
    result = run(status(health="healthy"), logs("retrying: connection refused (db:5432)"))
    assert codes(result) == {"connection_refused": "warning", "healthy": "info"}
    assert result.healthy and "connection refused" in result.summary


def test_evidence_is_bounded_and_redacted() -> None:
    secret = "hunter2-Very-Secret"
    lines = [f"attempt {i}: connection refused" for i in range(50)]
    lines += [
        f"connecting to postgres://shop:{secret}@db:5432/shop: connection refused",
        f"DB_PASSWORD={secret} rejected: connection refused " + "x" * 1000,
    ]
    result = run(status(**DOWN), logs(*lines))
    (finding,) = [f for f in result.findings if f.code == "connection_refused"]
    assert len(finding.evidence) == 5 and all(len(e) <= 300 for e in finding.evidence)
    assert finding.title == "Cannot connect to db:5432 (connection refused)"
    assert len(result.log_excerpt) == 20 and all(len(e) <= 300 for e in result.log_excerpt)
    assert secret not in result.model_dump_json()


def test_a_finished_job_and_a_starting_service_are_not_problems() -> None:
    done = run(status(state="exited", running=0, exit_code=0))
    assert codes(done) == {"completed": "info"} and not done.healthy
    starting = run(status(state="starting", health="starting"))
    assert codes(starting) == {"starting": "info"}


def test_an_unknown_service_is_not_found_with_the_services_listed() -> None:
    with pytest.raises(NotFound) as caught:
        run(StackStatus(stack=STACK, services=[ServiceStatus(name="db", state="running")]))
    assert caught.value.hint == "services: db"


def test_the_tool_is_a_strict_read_tool_on_compose_targets() -> None:
    assert (diagnose_service.risk, diagnose_service.permission) == ("read", "targets:read")
    assert diagnose_service.targets == {TargetKind.DOCKER, TargetKind.SWARM, TargetKind.VAGRANT}
    assert diagnose_service.parse({"stack": "shop", "service": "api"}).log_tail == 80
    for bad in (
        {"stack": "shop", "service": "api", "log_tail": 501},
        {"stack": "shop", "service": "api", "log_tail": 0},
        {"stack": "shop", "service": "api", "since": 5},
        {"stack": "Shop!", "service": "api"},
    ):
        with pytest.raises(InvalidInput):
            diagnose_service.parse(bad)


# --- against a real Docker engine ------------------------------------------------------


class NoLedger:
    async def consume(self, **_: object) -> ConsumedApproval:
        raise AssertionError("a read tool never consumes an approval")


@pytest.fixture
async def docker_ctx(docker_engine: DockerEngine) -> AsyncIterator[ToolContext]:
    spec = TargetSpec(
        id="t1",
        org_id="o1",
        name="docker-local",
        kind=TargetKind.DOCKER,
        environment="dev",
        connection={"host": docker_engine.host},
    )
    adapter = DockerHostAdapter(spec, health_timeout=30)
    yield ToolContext(caller=Caller("u1", "o1"), target=spec, adapter=adapter, ledger=NoLedger())
    adapter.close()


async def test_diagnoses_a_real_crash_loop_on_docker(docker_ctx: ToolContext) -> None:
    adapter: DockerHostAdapter = docker_ctx.adapter
    name = f"diag{uuid.uuid4().hex[:8]}"
    compose = f"""
services:
  api:
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo booting; echo 'FATAL: DATABASE_URL is not set' >&2; exit 1"]
    restart: always
"""
    try:
        await adapter.deploy(load_stack(compose, name=name))
        deadline = time.monotonic() + 60
        while (await adapter.status(name)).services[0].restarts < 3:
            assert time.monotonic() < deadline, "the container did not restart 3 times in 60 s"
            await asyncio.sleep(0.3)

        args = diagnose_service.parse({"stack": name, "service": "api", "log_tail": 50})
        result = await diagnose_service.execute(docker_ctx, args)

        assert not result.healthy
        found = codes(result)
        assert {"crash_loop", "exit_nonzero", "missing_env"} <= set(found), result
        assert found["crash_loop"] == found["missing_env"] == "critical"
        assert "code 1" in next(f.title for f in result.findings if f.code == "exit_nonzero")
        assert "DATABASE_URL" in result.summary
        assert "FATAL: DATABASE_URL is not set" in result.log_excerpt

        with pytest.raises(NotFound, match="no service web") as missing:
            await diagnose_service.execute(
                docker_ctx, diagnose_service.parse({"stack": name, "service": "web"})
            )
        assert missing.value.hint == "services: api"
    finally:
        await adapter.remove(name)
