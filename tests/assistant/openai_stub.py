"""An OpenAI-compatible chat completions server on 127.0.0.1, scripted per test.

It speaks the wire format LiteLLM's OpenAI provider uses: JSON bodies, server-sent event
streams of ``chat.completion.chunk`` objects with tool-call argument fragments, a final
usage chunk and ``[DONE]``. Every request body is recorded.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass(frozen=True)
class Reply:
    text: str = ""
    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass
class OpenAIStub:
    port: int
    replies: deque[Reply] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    failing_models: set[str] = field(default_factory=set)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _chunk(self, model: str, delta: dict[str, Any], finish: str | None = None) -> str:
        body = {
            "id": "chatcmpl-stub",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n"

    def _stream(self, model: str, reply: Reply) -> Iterator[str]:
        yield self._chunk(model, {"role": "assistant", "content": ""})
        words = reply.text.split(" ") if reply.text else []
        for i, word in enumerate(words):
            yield self._chunk(model, {"content": word if i == len(words) - 1 else word + " "})
        if reply.tool:
            arguments = json.dumps(reply.arguments)
            half = len(arguments) // 2
            first = {"index": 0, "id": "call_stub_1", "type": "function"}
            first["function"] = {"name": reply.tool, "arguments": arguments[:half]}
            yield self._chunk(model, {"tool_calls": [first]})
            rest = {"index": 0, "function": {"arguments": arguments[half:]}}
            yield self._chunk(model, {"tool_calls": [rest]})
        yield self._chunk(model, {}, "tool_calls" if reply.tool else "stop")
        usage = {"prompt_tokens": 321, "completion_tokens": 12, "total_tokens": 333}
        yield f"data: {json.dumps({'id': 'chatcmpl-stub', 'object': 'chat.completion.chunk', 'created': int(time.time()), 'model': model, 'choices': [], 'usage': usage})}\n\n"  # noqa: E501
        yield "data: [DONE]\n\n"

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        model = str(body.get("model"))
        if model in self.failing_models:
            return JSONResponse(
                {"error": {"message": f"{model} is overloaded", "type": "server_error"}},
                status_code=503,
            )
        if not self.replies:
            return JSONResponse({"error": {"message": "no scripted reply left"}}, 400)
        reply = self.replies.popleft()
        if not body.get("stream"):
            return JSONResponse({"error": {"message": "this stub only streams"}}, 400)
        return StreamingResponse(self._stream(model, reply), media_type="text/event-stream")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningStub:
    """The stub served by uvicorn in a background thread for the test's duration."""

    def __init__(self) -> None:
        self.stub = OpenAIStub(port=_free_port())
        app = Starlette(
            routes=[Route("/v1/chat/completions", self.stub.completions, methods=["POST"])]
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.stub.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> OpenAIStub:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise AssertionError("the OpenAI stub did not start")
            time.sleep(0.02)
        return self.stub

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
