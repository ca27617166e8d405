"""The planner that asks a language model (through LiteLLM) for the next turn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assistant.context import Message, TurnInput
from assistant.model import ModelClient, ModelTurn, TokenSink
from assistant.prompt import Offer, PromptBudget

HISTORY_MESSAGES = 40


def _history(given: TurnInput) -> list[Message]:
    """This run in full, plus as much of the earlier thread as fits, never starting mid-turn."""
    earlier = given.messages[: len(given.messages) - len(given.run_messages)]
    room = max(0, HISTORY_MESSAGES - len(given.run_messages))
    kept = earlier[-room:] if room else []
    while kept and kept[0].get("role") != "user":
        kept = kept[1:]  # a tool result without the call that asked for it is invalid
    return [*kept, *given.run_messages]


class ModelPlanner:
    def __init__(
        self,
        client: ModelClient,
        budget_tokens: int,
        on_offer: Callable[[Offer], None] | None = None,
    ) -> None:
        self.client = client
        self.name: str | None = client.name
        self.budget = PromptBudget(budget_tokens, client.count_tokens)
        self._on_offer = on_offer

    def offer(self, given: TurnInput) -> Offer:
        return self.budget.offer(
            given.tools, given.targets, given.role, given.request, given.snippets
        )

    async def turn(self, given: TurnInput, on_token: TokenSink) -> ModelTurn:
        offer = self.offer(given)
        if self._on_offer is not None:
            self._on_offer(offer)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": offer.system},
            *_history(given),
        ]
        return await self.client.complete(messages, offer.tools, on_token)
