"""Cut non-streaming requests that take too long, with a 504 problem document.

Event streams (SSE), the audit export and the execution of an approved change are left
alone: the first two are long by design, and a change must not be stopped halfway (it
completes and is recorded, as when a run is cancelled).
"""

from __future__ import annotations

import asyncio
import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNBOUNDED = re.compile(r"(/stream$|^/audit/export$|^/approvals/[^/]+/execute$)")


def is_unbounded(path: str, accept: str) -> bool:
    return bool(UNBOUNDED.search(path)) or "text/event-stream" in accept


class RequestTimeoutMiddleware:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept = dict(scope.get("headers") or []).get(b"accept", b"").decode("latin-1")
        if is_unbounded(scope.get("path", ""), accept):
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            async with asyncio.timeout(self.seconds):
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            {
                "type": "https://windflow.dev/problems/timeout",
                "title": "Request timeout",
                "status": 504,
                "detail": f"the request took longer than {self.seconds:g} s and was stopped",
                "code": "timeout",
                "hint": "retry later, narrow the request, "
                "or raise WINDFLOW_REQUEST_TIMEOUT_SECONDS",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 504,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
