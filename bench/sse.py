"""SSE fan-out and the chat UI's first load.

    .venv/bin/python -m bench.sse [--streams 200] [--conversations 20]

- A WindFlow server process with a model behind a local OpenAI-compatible server (no
  network). ``--conversations`` conversations each get ``streams / conversations`` SSE
  subscribers; then a run starts in every conversation. For every event each subscriber
  receives, the delay is receipt time minus the event's ``at`` (stamped when it was
  appended to the log). Target: p95 <= 100 ms. The server's RSS is read from /proc.
- The UI's first load in headless Chromium: time to the load event and the bytes
  transferred. Targets: <= 1 s and <= 300 KB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import Server, percentiles, rss_mb, start_server
from tests.assistant.openai_stub import Reply, RunningStub
from tests.infra.browser import CHROMIUM, CHROMIUM_ARGS

ANSWER = " ".join(f"word{i}" for i in range(60))


async def subscriber(
    http: httpx.AsyncClient,
    server: Server,
    conversation: str,
    ready: asyncio.Event,
    delays: list[float],
) -> int:
    received = 0
    headers = {"Authorization": f"Bearer {server.token}"}
    path = f"/conversations/{conversation}/stream?end_on=run_finished"
    async with http.stream("GET", path, headers=headers) as response:
        ready.set()
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            at = datetime.fromisoformat(event["at"])
            delays.append((datetime.now(UTC) - at).total_seconds() * 1000)
            received += 1
    return received


async def fan_out(server: Server, streams: int, conversations: int) -> None:
    headers = {"Authorization": f"Bearer {server.token}"}
    limits = httpx.Limits(max_connections=streams + 50, max_keepalive_connections=streams + 50)
    async with httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as http:
        ids = []
        for _ in range(conversations):
            created = await http.post("/conversations", headers=headers, json={})
            created.raise_for_status()
            ids.append(created.json()["id"])
        delays: list[float] = []
        readies: list[asyncio.Event] = []
        tasks = []
        for i in range(streams):
            ready = asyncio.Event()
            readies.append(ready)
            conversation = ids[i % conversations]
            tasks.append(asyncio.create_task(subscriber(http, server, conversation, ready, delays)))
        await asyncio.gather(*(r.wait() for r in readies))
        connected_rss = rss_mb(server.process.pid)
        started = time.perf_counter()
        for conversation in ids:
            sent = await http.post(
                f"/conversations/{conversation}/messages",
                headers=headers,
                json={"text": "say something long"},
            )
            sent.raise_for_status()
        counts = await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        peak_rss = rss_mb(server.process.pid)
    stats = percentiles(delays)
    print(f"{streams} SSE streams over {conversations} conversations, one run each:")
    print(
        f"  {sum(counts)} events delivered in {elapsed:.1f} s; emit -> receipt delay "
        f"p50 {stats['p50']:.1f} ms, p95 {stats['p95']:.1f} ms, p99 {stats['p99']:.1f} ms "
        "(target p95 <= 100 ms)"
    )
    print(f"  server RSS: {connected_rss:.0f} MB with streams open, {peak_rss:.0f} MB after runs")


async def first_load(server: Server) -> None:
    if not await asyncio.to_thread(Path(CHROMIUM).exists):
        print(f"UI first load: skipped, {CHROMIUM} is not installed")
        return
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        loads: list[float] = []
        sizes: list[int] = []
        for _ in range(5):
            context = await browser.new_context()
            page = await context.new_page()
            started = time.perf_counter()
            await page.goto(server.url + "/", wait_until="load")
            loads.append((time.perf_counter() - started) * 1000)
            transferred: Any = await page.evaluate(
                "() => performance.getEntriesByType('navigation').concat("
                "performance.getEntriesByType('resource'))"
                ".reduce((sum, e) => sum + (e.transferSize || e.encodedBodySize || 0), 0)"
            )
            sizes.append(int(transferred))
            await context.close()
        await browser.close()
    print(
        f"UI first load (fresh browser context, 5 times): median {sorted(loads)[2]:.0f} ms, "
        f"max {max(loads):.0f} ms; {max(sizes) / 1024:.0f} KB transferred "
        "(targets <= 1 s, <= 300 KB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--conversations", type=int, default=20)
    args = parser.parse_args()
    with RunningStub() as stub, tempfile.TemporaryDirectory() as tmp:
        stub.replies.extend(Reply(text=ANSWER) for _ in range(args.conversations))
        server = start_server(
            Path(tmp),
            with_assistant_libs=True,
            extra_env={
                "WINDFLOW_LLM_MODEL": "openai/bench-model",
                "WINDFLOW_LLM_API_BASE": stub.api_base,
                "WINDFLOW_LLM_API_KEY": "sk-bench-not-a-key",
            },
        )
        try:
            asyncio.run(fan_out(server, args.streams, args.conversations))
            asyncio.run(first_load(server))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
