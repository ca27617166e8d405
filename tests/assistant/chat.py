"""Talking to the assistant over the API the way a client does: send, then read events."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from guardrails.rbac import Role
from tests.api.harness import ApiHarness, SeededOrg


class Chat:
    def __init__(self, api: ApiHarness, org: SeededOrg, role: Role = Role.OPERATOR) -> None:
        self.api = api
        self.org = org
        self.role = role
        self.seen: dict[str, int] = {}

    async def conversation(self, title: str = "") -> str:
        response = await self.api.client.post(
            "/conversations", headers=self.org.headers(self.role), json={"title": title}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def send(self, conversation: str, text: str) -> str:
        response = await self.api.client.post(
            f"/conversations/{conversation}/messages",
            headers=self.org.headers(self.role),
            json={"text": text},
        )
        assert response.status_code == 202, response.text
        return str(response.json()["run_id"])

    async def events(self, conversation: str, after: int = 0) -> list[dict[str, Any]]:
        response = await self.api.client.get(
            f"/conversations/{conversation}/events?after={after}",
            headers=self.org.headers(self.role),
        )
        assert response.status_code == 200, response.text
        return list(response.json())

    async def wait_for(
        self, conversation: str, event_type: str, within: float = 60.0
    ) -> dict[str, Any]:
        """The next event of this type after those already waited for."""
        deadline = time.monotonic() + within
        after = self.seen.get(conversation, 0)
        while time.monotonic() < deadline:
            for event in await self.events(conversation, after):
                after = event["seq"]
                if event["type"] == event_type:
                    self.seen[conversation] = after
                    return event
                if event["type"] == "run_finished":
                    history = await self.events(conversation)
                    raise AssertionError(
                        f"the run finished before any {event_type} event: "
                        + "; ".join(f"{e['type']} {e['payload']}" for e in history)
                    )
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {event_type} event within {within} s in {conversation}")

    async def decide(self, approval_id: str, approve: bool, reason: str = "") -> dict[str, Any]:
        verb = "approve" if approve else "deny"
        response = await self.api.client.post(
            f"/approvals/{approval_id}/{verb}",
            headers=self.org.headers(Role.ADMIN),
            json={"reason": reason or None},
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def answer(self, conversation: str) -> str:
        """The text of the last assistant message stored in the conversation."""
        response = await self.api.client.get(
            f"/conversations/{conversation}/messages?limit=200",
            headers=self.org.headers(self.role),
        )
        assert response.status_code == 200, response.text
        replies = [m for m in response.json()["items"] if m["role"] == "assistant"]
        assert replies, "the assistant has not answered"
        return str(replies[-1]["content"])
