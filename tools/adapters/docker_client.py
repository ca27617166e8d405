"""One connection to a Docker engine, shared by the Docker host and Swarm adapters.

The client is created on first use and checked with a ping under a short timeout (so an
unreachable engine is reported quickly), then given a long one for real work (pulls,
stops with a grace period). Blocking SDK calls run in worker threads, and the SDK's
errors become WindFlow's: ``TargetUnreachable`` or ``OrchestratorError``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import docker
from docker.errors import APIError, DockerException
from requests.exceptions import RequestException

from tools.targets import TargetSpec
from windflow.errors import InvalidInput, OrchestratorError, TargetUnreachable, WindFlowError

T = TypeVar("T")


class EngineConnection:
    def __init__(self, target: TargetSpec, host: str | None, *, refused_by: str) -> None:
        self.target = target
        self.host = host
        self.refused_by = refused_by
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()

    def client(self) -> docker.DockerClient:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> docker.DockerClient:
        if self.target.connection.get("tls_verify") or self.target.secrets:
            raise InvalidInput(
                f"target {self.target.name}: TLS client certificates are not supported yet",
                hint="reach the engine through ssh://USER@HOST or a unix socket instead",
            )
        client: docker.DockerClient | None = None
        try:
            client = (
                docker.DockerClient(
                    base_url=self.host, timeout=10, use_ssh_client=self.host.startswith("ssh://")
                )
                if self.host
                else docker.from_env(timeout=10)
            )
            client.ping()
            client.api.timeout = 120
        except (DockerException, RequestException) as exc:
            if client is not None:
                client.close()
            reason = str(exc)[:300]
            if self.host and self.host.startswith("unix://"):
                socket = Path(self.host.removeprefix("unix://"))
                if not socket.exists():
                    reason = f"the socket {socket} does not exist"
            raise TargetUnreachable(
                f"cannot reach the Docker engine of target {self.target.name} at "
                f"{self.host or 'the default Docker socket'}: {reason}",
                hint="check that dockerd runs there and that the target's host setting is "
                "right (unix:///var/run/docker.sock, tcp://HOST:2375 or ssh://USER@HOST)",
            ) from exc
        return client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    async def run(self, work: Callable[[], T]) -> T:
        def guarded() -> T:
            try:
                return work()
            except WindFlowError:
                raise
            except APIError as exc:
                raise OrchestratorError(
                    f"{self.refused_by} of {self.target.name} refused: {exc.explanation or exc}",
                    hint="read the engine's message; fix the stack or the engine and retry",
                ) from exc
            except (DockerException, RequestException) as exc:
                raise TargetUnreachable(
                    f"the Docker engine of {self.target.name} failed to answer: {exc}",
                    hint="check that dockerd is running and reachable, then retry",
                ) from exc

        return await asyncio.to_thread(guarded)
