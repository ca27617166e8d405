"""Guardrail overhead per tool call, and the wall time of a 3-service deploy.

    .venv/bin/python -m bench.tools [--calls 500]

Starts its own Docker engine (as the tests do; needs root and tests/setup-engines.sh).
The guardrail path (parse, RBAC, audit write) is timed beyond the adapter's own time by
wrapping the real adapter and subtracting what it spent. Target: p95 <= 2 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from api.app import create_app
from api.db.models import Target
from api.db.repo import identity, resources
from bench.common import percentiles
from guardrails.rbac import Principal, Role
from tests.adapters.test_docker_host import compose, free_port
from tests.infra.docker_engine import DockerEngine
from tools.adapters.docker_host import DockerHostAdapter
from tools.stack import load_stack
from tools.stack_tools import stack_status
from windflow.settings import Settings


class TimedAdapter:
    """Forwards to the real adapter and adds up the time spent inside it."""

    def __init__(self, inner: DockerHostAdapter) -> None:
        self.inner = inner
        self.spent = 0.0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not callable(target):
            return target

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await target(*args, **kwargs)
            finally:
                self.spent += time.perf_counter() - started

        return timed


async def run(calls: int, engine: DockerEngine) -> None:
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(
            _env_file=None,
            data_dir=Path(data),
            environment="test",
            secret_key="bench-secret-key-for-windflow-benchmarks-01234",
            database_url=f"sqlite+aiosqlite:///{data}/bench.db",
            rate_limit_tool_calls_per_minute=1_000_000,  # measures the path, not the limit
        )
        app = create_app(settings)
        state = app.state.windflow
        async with app.router.lifespan_context(app):
            async with state.db.transaction() as session:
                org = await identity.create_org(session, "bench", "Bench")
                user = await identity.create_user(session, "ops@example.com")
                await identity.set_membership(session, org.id, user.id, "operator")
                target = await resources.add_target(
                    session,
                    Target(
                        org_id=org.id, name="local", kind="docker", connection={"host": engine.host}
                    ),
                )
                spec = state.tooling.spec(target)
            principal = Principal(user_id=user.id, roles={org.id: Role.OPERATOR})
            adapter = DockerHostAdapter(spec)
            stack = load_stack(compose(free_port()), name=f"bench{uuid.uuid4().hex[:6]}")

            started = time.perf_counter()
            await adapter.deploy(stack)
            deploy_seconds = time.perf_counter() - started

            timed = TimedAdapter(adapter)
            ctx = state.tooling.context(user_id=user.id, org_id=org.id, target=spec, adapter=timed)
            overhead_ms: list[float] = []
            for _ in range(calls):
                timed.spent = 0.0
                began = time.perf_counter()
                result = await state.tooling.gate.call(
                    stack_status, ctx, principal, {"stack": stack.name}
                )
                total = time.perf_counter() - began
                assert result.status == "ok", result
                overhead_ms.append((total - timed.spent) * 1000)
            await adapter.remove(stack.name)
        stats = percentiles(overhead_ms)
        print(
            f"guardrail path per read call (beyond adapter time, {calls} calls, SQLite audit): "
            f"p50 {stats['p50']:.2f} ms  p95 {stats['p95']:.2f} ms  p99 {stats['p99']:.2f} ms"
        )
        print(
            f"3-service deploy (healthcheck + depends_on) on the local engine: "
            f"{deploy_seconds:.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=500)
    options = parser.parse_args()
    engine = DockerEngine()
    engine.start()
    try:
        asyncio.run(run(options.calls, engine))
    finally:
        engine.stop()


if __name__ == "__main__":
    main()
