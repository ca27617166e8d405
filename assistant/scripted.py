"""A scripted model at the LiteLLM boundary, for tests and benchmarks.

It is a real LiteLLM custom provider: the assistant calls ``litellm.acompletion`` exactly
as it would for OpenAI or Ollama, and LiteLLM's streaming wrapper turns the script into
chunks. Each step answers one model call; the requests are recorded; a test ends with
``assert_complete()`` so a script with unused steps fails.

    model = ScriptedModel(call("saved_stack", name="blog"), say("Done."))
    settings = Settings(llm_model=model.install())
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from assistant.model import litellm_module

_instances = itertools.count(1)


@dataclass(frozen=True)
class ScriptedCall:
    name: str
    arguments: dict[str, Any]
    raw: str | None = None  # to send malformed JSON on purpose


@dataclass(frozen=True)
class Step:
    text: str = ""
    calls: tuple[ScriptedCall, ...] = ()
    error: str | None = None
    status: int = 500
    delay_seconds: float = 0.0


def say(text: str) -> Step:
    """The model answers with text (streamed word by word)."""
    return Step(text=text)


def call(tool_name: str, /, **arguments: Any) -> Step:
    """The model calls one tool."""
    return Step(calls=(ScriptedCall(tool_name, arguments),))


def calls(*steps: Step, text: str = "") -> Step:
    """The model calls several tools in one turn."""
    return Step(text=text, calls=tuple(c for s in steps for c in s.calls))


def raw_call(name: str, raw_arguments: str) -> Step:
    """The model calls a tool with arguments that may not even be JSON."""
    return Step(calls=(ScriptedCall(name, {}, raw=raw_arguments),))


def fail(message: str, status: int = 500) -> Step:
    """The provider fails this call (500s are retried, 4xx are not)."""
    return Step(error=message, status=status)


def stall(seconds: float, then: Step | None = None) -> Step:
    """The provider takes this long before answering (to exercise timeouts)."""
    base = then or say("")
    return Step(
        text=base.text,
        calls=base.calls,
        error=base.error,
        status=base.status,
        delay_seconds=seconds,
    )


@dataclass
class Request:
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.tools]

    @property
    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return str(message.get("content") or "")
        return ""


def _handler_base() -> type:
    from litellm.llms.custom_llm import CustomLLM

    base: type = CustomLLM
    return base


def _error(message: str, status: int) -> Exception:
    from litellm.llms.custom_llm import CustomLLMError

    return CustomLLMError(status_code=status, message=message)


class ScriptedModel:
    """Answers model calls from a script, one step per call."""

    def __init__(self, *steps: Step) -> None:
        self.provider = f"windflow-scripted-{next(_instances)}"
        self.steps: deque[Step] = deque(steps)
        self.requests: list[Request] = []
        self._handler: Any = None

    @property
    def model_name(self) -> str:
        return f"{self.provider}/scripted"

    def script(self, *steps: Step) -> None:
        self.steps.extend(steps)

    def install(self) -> str:
        """Register with LiteLLM; returns the model string to configure."""
        litellm = litellm_module()
        if self._handler is None:
            self._handler = _make_handler(self)
            litellm.custom_provider_map.append(
                {"provider": self.provider, "custom_handler": self._handler}
            )
        return self.model_name

    def uninstall(self) -> None:
        litellm = litellm_module()
        litellm.custom_provider_map[:] = [
            item for item in litellm.custom_provider_map if item["provider"] != self.provider
        ]
        self._handler = None

    def assert_complete(self) -> None:
        if self.steps:
            left = ", ".join(_describe(s) for s in self.steps)
            raise AssertionError(f"{len(self.steps)} scripted model steps were not used: {left}")

    def next_step(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Step:
        self.requests.append(Request(messages=json.loads(json.dumps(messages)), tools=tools))
        if not self.steps:
            raise _error(
                f"the script has no step left for model call {len(self.requests)}", status=400
            )
        return self.steps.popleft()


def _describe(step: Step) -> str:
    if step.error:
        return f"fail({step.error!r})"
    if step.calls:
        return "call(" + ", ".join(c.name for c in step.calls) + ")"
    return f"say({step.text[:30]!r})"


def _chunks(step: Step, turn: int) -> Iterator[dict[str, Any]]:
    words = step.text.split(" ") if step.text else []
    for i, word in enumerate(words):
        piece = word if i == len(words) - 1 else word + " "
        yield {"text": piece, "tool_use": None, "is_finished": False, "finish_reason": "",
               "usage": None, "index": 0}  # fmt: skip
    for i, scripted in enumerate(step.calls):
        arguments = scripted.raw if scripted.raw is not None else json.dumps(scripted.arguments)
        yield {
            "text": "",
            "tool_use": {
                "id": f"call_{turn}_{i + 1}",  # unique in a run, as providers' ids are
                "type": "function",
                "function": {"name": scripted.name, "arguments": arguments},
                "index": i,
            },
            "is_finished": False,
            "finish_reason": "",
            "usage": None,
            "index": 0,
        }
    completion = max(1, len(words) + 8 * len(step.calls))
    yield {
        "text": "",
        "tool_use": None,
        "is_finished": True,
        "finish_reason": "tool_calls" if step.calls else "stop",
        "usage": {"prompt_tokens": 100, "completion_tokens": completion,
                  "total_tokens": 100 + completion},
        "index": 0,
    }  # fmt: skip


def _make_handler(model: ScriptedModel) -> Any:
    base = _handler_base()

    class ScriptedHandler(base):  # type: ignore[misc, valid-type]
        async def astreaming(self, *args: Any, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
            messages = kwargs.get("messages") or (args[1] if len(args) > 1 else [])
            tools = (kwargs.get("optional_params") or {}).get("tools") or []
            step = model.next_step(list(messages), list(tools))
            if step.delay_seconds:
                await asyncio.sleep(step.delay_seconds)
            if step.error:
                raise _error(step.error, step.status)
            for chunk in _chunks(step, len(model.requests)):
                yield chunk

        async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
            raise _error("the scripted model only streams; call with stream=True", 400)

    return ScriptedHandler()
