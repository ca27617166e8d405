"""API latency and footprint against a real uvicorn process over loopback.

    .venv/bin/python -m bench.api [--requests 3000] [--concurrency 50]

Prints p50/p95/p99 and requests/s for GET /targets and POST /stacks with 50 concurrent
clients, seconds from process start to /ready, and the server's idle RSS, with and
without the assistant libraries (LiteLLM, LangGraph) imported into the server.
Targets on the 2-core reference machine: p95 <= 20 ms, ready <= 3 s, RSS <= 384 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from bench.common import Server, percentiles, rss_mb, start_server

COMPOSE = """
services:
  web:
    image: nginx:1.27
    ports: ["127.0.0.1:8080:80"]
    depends_on: [api]
  api:
    image: ghcr.io/example/api:1.4.2
    environment:
      DATABASE_URL: postgres://db/app
  db:
    image: postgres:16
    volumes: [pgdata:/var/lib/postgresql/data]
volumes:
  pgdata: {}
"""


async def load(
    server: Server,
    send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    requests: int,
    concurrency: int,
) -> tuple[dict[str, float], float, int]:
    latencies: list[float] = []
    errors = 0
    remaining = requests
    headers = {"Authorization": f"Bearer {server.token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=server.url, headers=headers, limits=limits) as client:

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                response = await send(client)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code >= 400:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return percentiles(latencies), requests / elapsed, errors


async def measure(server: Server, requests: int, concurrency: int) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        headers = {"Authorization": f"Bearer {server.token}"}
        for i in range(20):
            await client.post(
                "/targets",
                headers=headers,
                json={"name": f"host-{i}", "kind": "docker", "environment": "dev"},
            )

    def get_targets(client: httpx.AsyncClient) -> Awaitable[httpx.Response]:
        return client.get("/targets")

    def post_stack(client: httpx.AsyncClient) -> Awaitable[httpx.Response]:
        return client.post(
            "/stacks", json={"name": f"s-{uuid.uuid4().hex[:12]}", "compose_source": COMPOSE}
        )

    await load(server, get_targets, 200, concurrency)  # warm-up
    for label, send in (("GET /targets", get_targets), ("POST /stacks", post_stack)):
        stats, rate, errors = await load(server, send, requests, concurrency)
        print(
            f"  {label:<14} p50 {stats['p50']:6.1f} ms  p95 {stats['p95']:6.1f} ms  "
            f"p99 {stats['p99']:6.1f} ms  {rate:7.0f} req/s  errors {errors}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    options = parser.parse_args()
    for with_libs in (False, True):
        with tempfile.TemporaryDirectory() as data:
            server = start_server(Path(data), with_assistant_libs=with_libs)
            try:
                time.sleep(1.0)
                idle = rss_mb(server.process.pid)
                label = "with LiteLLM + LangGraph loaded" if with_libs else "API only"
                print(
                    f"server ({label}): ready in {server.ready_seconds:.2f} s, "
                    f"idle RSS {idle:.0f} MB"
                )
                asyncio.run(measure(server, options.requests, options.concurrency))
                print(f"  RSS after load {rss_mb(server.process.pid):.0f} MB")
            finally:
                server.stop()


if __name__ == "__main__":
    main()
