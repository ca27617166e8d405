"""API latency and footprint against a real uvicorn process over loopback.

    .venv/bin/python -m bench.api [--requests 3000] [--concurrency 50] [--rate 1]

Prints p50/p95/p99 and requests/s for GET /targets and POST /stacks with 50 concurrent
clients, seconds from process start to /ready, and the server's idle RSS, with and
without the assistant libraries (LiteLLM, LangGraph) imported into the server, once the
knowledge base (on by default) has finished loading.
Targets on the 2-core reference machine: p95 <= 20 ms, ready <= 3 s, RSS <= 384 MB.

Two loads, because a latency figure means nothing without the load it was taken under:

- *saturation*: 50 clients each sending its next request as soon as the previous one is
  answered. This measures the server's capacity (requests/s); latency there is just
  50 / capacity (Little's law), whatever the server does.
- *paced*: 50 clients each sending ``--rate`` requests per second on a fixed schedule
  (open loop: a slow answer does not delay the next request, so queueing shows). This is
  the latency 50 active users see, and what the p95 target is about.
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

    async with httpx.AsyncClient(
        base_url=server.url, headers=headers, limits=limits, timeout=60
    ) as client:

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


async def paced(
    server: Server,
    send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    seconds: float,
    clients: int,
    rate: float,
) -> tuple[dict[str, float], float, int]:
    """Each client sends ``rate`` requests per second on schedule, answered or not."""
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {server.token}"}
    limits = httpx.Limits(max_connections=clients * 4, max_keepalive_connections=clients * 4)
    async with httpx.AsyncClient(
        base_url=server.url, headers=headers, limits=limits, timeout=30
    ) as client:

        async def one() -> None:
            nonlocal errors
            started = time.perf_counter()
            response = await send(client)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code >= 400:
                errors += 1

        async def user(offset: float) -> None:
            pending: list[asyncio.Task[None]] = []
            await asyncio.sleep(offset)
            began = time.perf_counter()
            sent = 0
            while time.perf_counter() - began < seconds:
                pending.append(asyncio.create_task(one()))
                sent += 1
                await asyncio.sleep(max(0.0, began + sent / rate - time.perf_counter()))
            await asyncio.gather(*pending)

        began = time.perf_counter()
        await asyncio.gather(*(user(i / (clients * rate)) for i in range(clients)))
        elapsed = time.perf_counter() - began
    return percentiles(latencies), len(latencies) / elapsed, errors


def report(label: str, stats: dict[str, float], rate: float, errors: int) -> None:
    print(
        f"  {label:<32} p50 {stats['p50']:6.1f} ms  p95 {stats['p95']:6.1f} ms  "
        f"p99 {stats['p99']:6.1f} ms  {rate:7.0f} req/s  errors {errors}"
    )


def wait_for_knowledge(server: Server, timeout: float = 300.0) -> float:
    """Seconds until the knowledge base answers (it loads in the background)."""
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {server.token}"}
    while time.perf_counter() - started < timeout:
        answer = httpx.get(
            f"{server.url}/knowledge/search", params={"q": "docker"}, headers=headers, timeout=30
        )
        if answer.status_code != 503:
            return time.perf_counter() - started
        time.sleep(0.5)
    raise RuntimeError(f"the knowledge base did not load within {timeout:.0f} s")


async def measure(server: Server, requests: int, concurrency: int, rate: float) -> None:
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
        stats, done, errors = await load(server, send, requests, concurrency)
        report(f"{label}, saturation", stats, done, errors)
        stats, done, errors = await paced(server, send, requests / (concurrency * rate),
                                          concurrency, rate)  # fmt: skip
        report(f"{label}, {concurrency} x {rate:g} req/s", stats, done, errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rate", type=float, default=1.0, help="requests/s per paced client")
    options = parser.parse_args()
    for with_libs in (False, True):
        with tempfile.TemporaryDirectory() as data:
            server = start_server(Path(data), with_assistant_libs=with_libs)
            try:
                knowledge = wait_for_knowledge(server)
                time.sleep(1.0)
                idle = rss_mb(server.process.pid)
                label = "with LiteLLM + LangGraph loaded" if with_libs else "API only"
                print(
                    f"server ({label}): ready in {server.ready_seconds:.2f} s, knowledge "
                    f"loaded {knowledge:.1f} s later, idle RSS {idle:.0f} MB"
                )
                asyncio.run(measure(server, options.requests, options.concurrency, options.rate))
                print(f"  RSS after load {rss_mb(server.process.pid):.0f} MB")
            finally:
                server.stop()


if __name__ == "__main__":
    main()
