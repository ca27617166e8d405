"""Model access through LiteLLM: streaming, timeouts, retries with backoff, fallbacks, cost.

``litellm`` costs about two seconds and 180 MB to import, so it is imported on first use,
with the local cost map (no network at import). Every failure the caller sees is a
``ModelError`` saying which models were tried and why they failed.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any, Protocol

from windflow.errors import ModelError
from windflow.settings import Settings

TokenSink = Callable[[str], Awaitable[None]]
Message = dict[str, Any]


@cache
def litellm_module() -> ModuleType:
    """LiteLLM, imported once with its bundled cost map (it downloads one otherwise)."""
    # LiteLLM reads this flag from the process environment at import; nothing else here does.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    return litellm


@dataclass(frozen=True)
class ToolCallRequest:
    id: str
    name: str
    arguments: str  # raw JSON text as the model sent it; parsed by the graph, errors reported


@dataclass
class Usage:
    prompt: int = 0
    completion: int = 0
    cost_usd: float | None = None

    def add(self, other: Usage) -> None:
        self.prompt += other.prompt
        self.completion += other.completion
        if other.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + other.cost_usd

    def as_payload(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "completion": self.completion, "cost_usd": self.cost_usd}


@dataclass(frozen=True)
class ModelTurn:
    text: str
    tool_calls: tuple[ToolCallRequest, ...]
    usage: Usage
    model: str


@dataclass(frozen=True)
class ModelSpec:
    model: str
    api_base: str | None = None
    api_key: str | None = None
    timeout_seconds: float = 60.0
    retries: int = 2
    backoff_seconds: float = 1.0
    fallbacks: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings, org_slug: str | None = None) -> ModelSpec | None:
        """The model for an organization, or None for no-model mode."""
        model = settings.llm_org_models.get(org_slug or "") or settings.llm_model
        if not model:
            return None
        return cls(
            model=model,
            api_base=settings.llm_api_base,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
            timeout_seconds=settings.llm_timeout_seconds,
            retries=settings.llm_retries,
            backoff_seconds=settings.llm_retry_backoff_seconds,
            fallbacks=tuple(settings.llm_fallback_models),
        )


class ModelClient(Protocol):
    name: str

    async def complete(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]], on_token: TokenSink
    ) -> ModelTurn: ...

    def count_tokens(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> int: ...


def _retryable(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, TimeoutError | openai.APITimeoutError | openai.APIConnectionError):
        return True
    if isinstance(exc, openai.RateLimitError | openai.InternalServerError):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and status >= 500


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


class LiteLLMClient:
    """A ``ModelClient`` for any LiteLLM model string."""

    def __init__(self, spec: ModelSpec, sleep: Callable[[float], Awaitable[None]] | None = None):
        self.spec = spec
        self.name = spec.model
        self._sleep = sleep or asyncio.sleep

    def count_tokens(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> int:
        litellm = litellm_module()
        count: int = litellm.token_counter(
            model=self.spec.model, messages=list(messages), tools=list(tools) or None
        )
        return count

    async def complete(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]], on_token: TokenSink
    ) -> ModelTurn:
        import openai

        failures: list[str] = []
        for model in (self.spec.model, *self.spec.fallbacks):
            for attempt in range(self.spec.retries + 1):
                try:
                    async with asyncio.timeout(self.spec.timeout_seconds):
                        return await self._stream(model, messages, tools, on_token)
                except (TimeoutError, openai.APIError, ModelError) as exc:
                    failures.append(f"{model} (attempt {attempt + 1}): {_describe(exc)}")
                    if not _retryable(exc) or attempt == self.spec.retries:
                        break
                    await self._sleep(self.spec.backoff_seconds * 2**attempt)
        raise ModelError(
            "the model could not answer: " + "; ".join(failures),
            hint="check WINDFLOW_LLM_MODEL, WINDFLOW_LLM_API_BASE and the API key, "
            "or configure WINDFLOW_LLM_FALLBACK_MODELS",
            details={"attempts": failures},
        )

    async def _stream(
        self,
        model: str,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        on_token: TokenSink,
    ) -> ModelTurn:
        litellm = litellm_module()
        kwargs: dict[str, Any] = {
            "model": model,
            "messages": list(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            "timeout": self.spec.timeout_seconds,
            "num_retries": 0,  # retries are ours, with backoff and fallbacks
        }
        if tools:
            kwargs["tools"] = list(tools)
        if self.spec.api_base:
            kwargs["api_base"] = self.spec.api_base
        if self.spec.api_key:
            kwargs["api_key"] = self.spec.api_key
        response = await litellm.acompletion(**kwargs)
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        usage = Usage()
        async for chunk in response:
            reported = getattr(chunk, "usage", None)
            if reported is not None and getattr(reported, "prompt_tokens", None):
                usage.prompt = int(reported.prompt_tokens or 0)
                usage.completion = int(reported.completion_tokens or 0)
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            if delta is None:
                continue
            if delta.content:
                text.append(delta.content)
                await on_token(delta.content)
            for call in delta.tool_calls or ():
                slot = calls.setdefault(call.index or 0, {"id": "", "name": "", "arguments": ""})
                slot["id"] = call.id or slot["id"]
                if call.function is not None:
                    slot["name"] += call.function.name or ""
                    slot["arguments"] += call.function.arguments or ""
        answer = "".join(text)
        if not usage.prompt:
            usage.prompt = self.count_tokens(messages, tools)
            usage.completion = litellm.token_counter(model=model, text=answer) if answer else 0
        usage.cost_usd = self._cost(model, usage)
        tool_calls = tuple(
            ToolCallRequest(id=c["id"] or f"call_{i}", name=c["name"], arguments=c["arguments"])
            for i, c in sorted(calls.items())
        )
        for call_request in tool_calls:
            if not call_request.name:
                raise ModelError(f"{model} sent a tool call without a name")
        return ModelTurn(text=answer, tool_calls=tool_calls, usage=usage, model=model)

    def _cost(self, model: str, usage: Usage) -> float | None:
        """Cost from LiteLLM's local price map; None for models it has no price for."""
        litellm = litellm_module()
        known = [m for m in (model, model.split("/", 1)[-1]) if m in litellm.model_cost]
        if not known:
            return None
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=known[0], prompt_tokens=usage.prompt, completion_tokens=usage.completion
        )
        return float(prompt_cost + completion_cost)


def parse_arguments(call: ToolCallRequest) -> dict[str, Any]:
    """The model's JSON arguments as a dict, or a ``ModelError`` that says what is wrong."""
    if not call.arguments.strip():
        return {}
    try:
        value = json.loads(call.arguments)
    except json.JSONDecodeError as exc:
        raise ModelError(
            f"the arguments of {call.name} are not valid JSON ({exc.msg} at {exc.pos})",
            hint="send the arguments as one JSON object",
        ) from exc
    if not isinstance(value, dict):
        raise ModelError(
            f"the arguments of {call.name} must be a JSON object",
            hint="send the arguments as one JSON object",
        )
    return value
