"""Helpers shared by the benchmarks: a real server process and latency statistics."""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ASSISTANT_LIBS = "import litellm, langgraph.graph, langgraph.checkpoint.sqlite; "


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    quantiles = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": quantiles[49], "p95": quantiles[94], "p99": quantiles[98]}


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    ready_seconds: float
    token: str

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


def start_server(
    data_dir: Path, *, with_assistant_libs: bool, extra_env: dict[str, str] | None = None
) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINDFLOW_")}
    env |= {"WINDFLOW_DATA_DIR": str(data_dir), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env |= extra_env or {}
    init = subprocess.run(
        [sys.executable, "-m", "cli.main", "init", "--org", "bench"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = re.search(r"API token \(shown once\): (wf_\S+)", init.stdout)
    assert token, init.stdout
    port = free_port()
    preload = ASSISTANT_LIBS if with_assistant_libs else ""
    code = (
        f"{preload}import sys; sys.argv = ['windflow', 'serve', '--port', '{port}']; "
        "from cli.main import app; app()"
    )
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode() if process.stderr else "died")
        time.sleep(0.02)
    return Server(process, url, time.perf_counter() - started, token[1])
