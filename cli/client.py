"""An HTTP client of a WindFlow server for the CLI: conversations, SSE run events, approvals.

Failures become WindFlowError subclasses with the exit code the CLI documents:
2 bad input, 3 authentication/authorization, 4 server unreachable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from assistant.events import RunEvent
from windflow.errors import AuthenticationFailed, InvalidInput, WindFlowError

# A run waits on the engine (image pulls) and on people; the stream sends heartbeats.
STREAM_READ_TIMEOUT = 120.0


class ServerUnreachable(WindFlowError):
    """The WindFlow server did not answer at all (down, wrong URL, network)."""

    code = "server_unreachable"
    title = "Server unreachable"


class ServerError(WindFlowError):
    """The server answered with an error that is not the caller's input or credentials."""

    code = "server_error"


class WindFlowClient:
    def __init__(self, server_url: str, token: str, *, timeout: float = 30.0) -> None:
        self.server_url = server_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.server_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WindFlowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServerUnreachable(
                f"cannot reach the WindFlow server at {self.server_url}: {exc}",
                hint="check --server (or WINDFLOW_SERVER_URL) and that `windflow serve` runs",
            ) from exc
        _raise_for(response)
        return response.json() if response.content else None

    # --- conversations and runs ---
    def create_conversation(self, title: str = "") -> str:
        return str(self._request("POST", "/conversations", json={"title": title[:200]})["id"])

    def send(self, conversation_id: str, text: str) -> str:
        body = self._request(
            "POST", f"/conversations/{conversation_id}/messages", json={"text": text}
        )
        return str(body["run_id"])

    def last_seq(self, conversation_id: str) -> int:
        last = 0
        while True:
            page = self._request(
                "GET",
                f"/conversations/{conversation_id}/events",
                params={"after": last, "limit": 1000},
            )
            if not page:
                return last
            last = int(page[-1]["seq"])

    def stream(
        self, conversation_id: str, after: int, end_on: tuple[str, ...]
    ) -> Iterator[RunEvent]:
        """The conversation's events after ``after`` until one of ``end_on`` (SSE)."""
        params: dict[str, int | list[str]] = {"after": after, "end_on": list(end_on)}
        timeout = httpx.Timeout(30.0, read=STREAM_READ_TIMEOUT)
        try:
            with self._http.stream(
                "GET", f"/conversations/{conversation_id}/stream", params=params, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for(response)
                data: list[str] = []
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        data.append(line[5:].lstrip())
                    elif line == "" and data:
                        yield RunEvent.model_validate_json("\n".join(data))
                        data = []
        except httpx.TransportError as exc:
            raise ServerUnreachable(
                f"lost the event stream from {self.server_url}: {exc}",
                hint="the run goes on on the server; read it with the conversation's events",
            ) from exc

    # --- approvals ---
    def approval(self, approval_id: str) -> dict[str, Any]:
        return dict(self._request("GET", f"/approvals/{approval_id}"))

    def can_decide(self, approval_id: str) -> bool:
        """Whether this caller's role may decide the approval (the queue's own filter)."""
        page = self._request(
            "GET", "/approvals", params={"status": "pending", "decidable": "true", "limit": 200}
        )
        return any(item["id"] == approval_id for item in page["items"])

    def decide(self, approval_id: str, approve: bool, reason: str | None = None) -> dict[str, Any]:
        verb = "approve" if approve else "deny"
        return dict(
            self._request("POST", f"/approvals/{approval_id}/{verb}", json={"reason": reason})
        )


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        problem = response.json()
    except json.JSONDecodeError:
        problem = {}
    detail = str(problem.get("detail") or response.text or response.reason_phrase)
    hint = problem.get("hint")
    if response.status_code in (401, 403):
        raise AuthenticationFailed(
            f"the server refused the credentials ({response.status_code}): {detail}",
            hint="check --token (or WINDFLOW_API_TOKEN) and the server URL; "
            "create a token with `windflow token create`",
        )
    if response.status_code in (400, 404, 409, 413, 422):
        raise InvalidInput(detail, hint=hint)
    raise ServerError(f"the server answered {response.status_code}: {detail}", hint=hint)
