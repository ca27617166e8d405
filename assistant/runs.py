"""Runs: starting one in a conversation, resuming it after an approval, and ending it.

One thread per conversation (the checkpointer's thread id is the conversation id). A thread
has at most one run at a time: a run in progress, or one waiting for an approval, must end
before the next message starts another. Every run ends with ``run_finished`` unless it is
waiting for a human, and its usage and outcome are stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from assistant.context import AgentState, RunDeps
from assistant.events import EventHub, EventLog, RunEmitter
from windflow.errors import Conflict, InvalidInput, WindFlowError

log = logging.getLogger("windflow.assistant")


@dataclass(frozen=True)
class RunOwner:
    """Whose run it is: tools act with this user's role, whoever approves."""

    org_id: str
    user_id: str
    conversation_id: str
    role: str  # the effective role the run started with (the ceiling for all its steps)


class RunStore(Protocol):
    async def create_run(self, owner: RunOwner, model: str | None) -> str: ...

    async def set_status(self, run_id: str, status: str) -> None: ...

    async def finish_run(
        self, run_id: str, *, status: str, steps: int, usage: dict[str, Any], error: str | None
    ) -> None: ...

    async def add_message(
        self, conversation_id: str, role: str, content: str, meta: dict[str, Any]
    ) -> None: ...

    async def unfinished(self) -> list[tuple[str, RunOwner]]:
        """Runs recorded as running or waiting: (run id, owner)."""
        ...


DepsFactory = Callable[[RunOwner, RunEmitter], Awaitable[RunDeps]]


@dataclass
class Assistant:
    graph: CompiledStateGraph[Any, Any, Any, Any]
    events: EventLog
    hub: EventHub
    runs: RunStore
    deps_for: DepsFactory
    max_message_chars: int = 20_000
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _cancel_reasons: dict[str, str] = field(default_factory=dict)

    def _config(self, thread_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": thread_id}}

    async def waiting_on(self, thread_id: str) -> str | None:
        """The approval id the thread's run waits for, if any."""
        snapshot = await self.graph.aget_state(self._config(thread_id))
        for pending in snapshot.interrupts:
            value = pending.value
            if isinstance(value, dict) and value.get("approval_id"):
                return str(value["approval_id"])
        return None

    def busy(self, thread_id: str) -> bool:
        task = self._tasks.get(thread_id)
        return task is not None and not task.done()

    async def start(self, owner: RunOwner, text: str) -> str:
        """Start a run for a user's message; returns the run id. Events tell the rest."""
        text = text.strip()
        if not text:
            raise InvalidInput("the message is empty", hint="say what you need")
        if len(text) > self.max_message_chars:
            raise InvalidInput(
                f"the message has {len(text):,} characters; the limit is "
                f"{self.max_message_chars:,}",
                hint="send a shorter message, or save large files as a stack",
            )
        thread = owner.conversation_id
        # The approval first: a run that has just asked for one is still settling.
        waiting = await self.waiting_on(thread)
        if waiting is not None:
            raise Conflict(
                f"this conversation waits for approval {waiting}",
                hint="approve or deny it in the approval queue first",
            )
        if self.busy(thread):
            raise Conflict(
                "a run is already in progress in this conversation",
                hint="wait for it to finish, then send the message again",
            )
        run_id = await self.runs.create_run(owner, None)
        await self.runs.add_message(thread, "user", text, {"run_id": run_id})
        emitter = RunEmitter(self.events, self.hub, thread, run_id)
        await emitter.emit("run_started", {"run_id": run_id, "user_id": owner.user_id})
        initial: AgentState = {
            "run_id": run_id,
            "request": text,
            "queue": [],
            "awaiting": None,
            "decision": None,
            "steps": 0,
            "usage": {},
            "answer": None,
            "outcome": "running",
            "snippets": [],
        }
        self._spawn(thread, self._drive(owner, emitter, initial))
        return run_id

    async def resume(self, owner: RunOwner, approval_id: str, status: str) -> bool:
        """Continue the run that waits for this approval; False if none does."""
        thread = owner.conversation_id
        await self.wait(thread)  # the run may still be settling into its wait here
        if await self.waiting_on(thread) != approval_id:
            return False
        snapshot = await self.graph.aget_state(self._config(thread))
        run_id = str(snapshot.values.get("run_id"))
        await self.runs.set_status(run_id, "running")
        emitter = RunEmitter(self.events, self.hub, thread, run_id)
        command: Command[Any] = Command(resume={"approval_id": approval_id, "status": status})
        self._spawn(thread, self._drive(owner, emitter, command))
        return True

    async def cancel(self, owner: RunOwner, expire: Callable[[str], Awaitable[None]]) -> str:
        """Stop the conversation's run: a running one now, a waiting one by expiring its
        approval (through ``expire``) and letting it finish without acting.

        A change already executing is not interrupted halfway: it completes and is
        recorded; the run ends after it.
        """
        thread = owner.conversation_id
        task = self._tasks.get(thread)
        if task is not None and not task.done():
            self._cancel_reasons[thread] = f"cancelled by {owner.user_id}"
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if self._cancel_reasons.pop(thread, None) is None:
                return "cancelled"  # the graph was stopped and the run ended as cancelled
            # The cancel landed after the graph had stopped (at its approval wait, or done):
            # a waiting run is cancelled through its approval below, like any waiting run.
        waiting = await self.waiting_on(thread)
        if waiting is None:
            raise Conflict(
                "no run is in progress in this conversation", hint="there is nothing to cancel"
            )
        await expire(waiting)
        snapshot = await self.graph.aget_state(self._config(thread))
        run_id = str(snapshot.values.get("run_id"))
        await self.runs.set_status(run_id, "running")
        emitter = RunEmitter(self.events, self.hub, thread, run_id)
        command: Command[Any] = Command(resume={"approval_id": waiting, "cancel": True})
        self._spawn(thread, self._drive(owner, emitter, command))
        await self.wait(thread)
        return "cancelled"

    async def recover(self) -> int:
        """After a start: runs the previous process left running are ended as failed.

        A run that waits for an approval is a checkpoint and stays waiting; one that had
        proposed a change and stopped just before waiting continues into that wait; one
        that was in the middle of any other step cannot be trusted to continue, so it ends
        with a message that says where to look for what completed. Embedded mode
        has one process; with several, run this only where runs execute.
        """
        ended = 0
        for run_id, owner in await self.runs.unfinished():
            if self.busy(owner.conversation_id):
                continue
            if await self.waiting_on(owner.conversation_id) is not None:
                await self.runs.set_status(run_id, "waiting")
                continue
            snapshot = await self.graph.aget_state(self._config(owner.conversation_id))
            if tuple(snapshot.next) == ("approve",):
                # It had proposed a change and stopped just before waiting for the decision:
                # continuing from the checkpoint only enters that wait.
                emitter = RunEmitter(self.events, self.hub, owner.conversation_id, run_id)
                self._spawn(owner.conversation_id, self._drive(owner, emitter, None))
                continue
            error = (
                "the server stopped during this run; check the deployments and the audit "
                "log for what completed before it stopped"
            )
            emitter = RunEmitter(self.events, self.hub, owner.conversation_id, run_id)
            await emitter.emit("error", {"code": "interrupted", "message": error})
            await self.runs.finish_run(run_id, status="failed", steps=0, usage={}, error=error)
            answer = f"The run stopped: {error}."
            await self.runs.add_message(
                owner.conversation_id, "assistant", answer, {"run_id": run_id, "outcome": "failed"}
            )
            await emitter.emit("message", {"role": "assistant", "text": answer, "final": True})
            await emitter.emit(
                "run_finished", {"run_id": run_id, "outcome": "failed", "steps": 0, "usage": {}}
            )
            ended += 1
        return ended

    async def wait(self, thread_id: str) -> None:
        """Until the thread's current task (if any) has ended; for tests and shutdown."""
        task = self._tasks.get(thread_id)
        if task is not None:
            await asyncio.shield(task)

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def _spawn(self, thread: str, work: Awaitable[None]) -> None:
        async def runner() -> None:
            await work

        task = asyncio.create_task(runner(), name=f"windflow-run-{thread}")
        self._tasks[thread] = task
        task.add_done_callback(lambda t: self._forget(thread, t))

    def _forget(self, thread: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(thread) is task:
            del self._tasks[thread]

    async def _drive(self, owner: RunOwner, emitter: RunEmitter, graph_input: Any) -> None:
        config = self._config(owner.conversation_id)
        error: str | None = None
        try:
            deps = await self.deps_for(owner, emitter)
            await self.graph.ainvoke(graph_input, config, context=deps)
        except WindFlowError as exc:
            error = exc.message
            await emitter.emit("error", {"code": exc.code, "message": exc.message})
        except asyncio.CancelledError:
            reason = self._cancel_reasons.pop(owner.conversation_id, None)
            if reason is None:
                # The process is stopping: leave the run as it is. The checkpoint decides
                # at the next start (recover): still waiting for its approval, or failed.
                raise
            error = f"the run was cancelled ({reason})"
            await self.runs.finish_run(
                emitter.run_id, status="cancelled", steps=0, usage={}, error=error
            )
            await emitter.emit("message", {"role": "assistant", "text": error, "final": True})
            await emitter.emit(
                "run_finished", {"run_id": emitter.run_id, "outcome": "cancelled", "usage": {}}
            )
            raise
        except Exception as exc:  # a bug: record it on the run, keep the traceback in the log
            log.exception("run %s failed", emitter.run_id)
            error = f"internal error ({type(exc).__name__}); the run was stopped"
            await emitter.emit("error", {"code": "internal_error", "message": error})
        settling = asyncio.ensure_future(self._settle(owner, emitter, error))
        try:
            await asyncio.shield(settling)
        except asyncio.CancelledError:
            await settling  # what happened is recorded in full before the cancel goes on
            raise

    async def _settle(self, owner: RunOwner, emitter: RunEmitter, error: str | None) -> None:
        snapshot = await self.graph.aget_state(self._config(owner.conversation_id))
        values: dict[str, Any] = dict(snapshot.values or {})
        if error is None and snapshot.interrupts:
            await self.runs.set_status(emitter.run_id, "waiting")
            return
        outcome = "failed" if error is not None else str(values.get("outcome") or "succeeded")
        answer = values.get("answer") if error is None else None
        if error is not None:
            answer = f"The run stopped: {error}. Nothing else was changed."
        usage = dict(values.get("usage") or {})
        if answer:
            await self.runs.add_message(
                owner.conversation_id,
                "assistant",
                str(answer),
                {"run_id": emitter.run_id, "model": values.get("model"), "outcome": outcome},
            )
            if error is not None or outcome != "succeeded":
                await emitter.emit("message", {"role": "assistant", "text": answer, "final": True})
        steps = int(values.get("steps") or 0)
        await self.runs.finish_run(
            emitter.run_id, status=outcome, steps=steps, usage=usage, error=error
        )
        await emitter.emit(
            "run_finished",
            {
                "run_id": emitter.run_id,
                "outcome": outcome,
                "steps": steps,
                "usage": usage,
                "model": values.get("model"),
            },
        )
