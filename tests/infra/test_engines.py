"""The test engines themselves work: a container serves HTTP on 127.0.0.1, swarm schedules."""

from __future__ import annotations

import contextlib
import socket
import time

import httpx

from tests.infra.docker_engine import BUSYBOX_IMAGE, DockerEngine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_busybox_container_serves_on_loopback(docker_engine: DockerEngine) -> None:
    port = _free_port()
    with contextlib.closing(docker_engine.client()) as client:
        container = client.containers.run(
            BUSYBOX_IMAGE,
            ["httpd", "-f", "-p", "80", "-h", "/var/www"],
            ports={"80/tcp": ("127.0.0.1", port)},
            detach=True,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    response = httpx.get(f"http://127.0.0.1:{port}/index.html", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            assert response.text == "windflow test page\n"
        finally:
            container.remove(force=True)
