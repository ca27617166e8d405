"""``windflow ask`` and ``windflow chat``: talk to the assistant from a terminal.

The CLI is a client of the API like the chat UI and the bots: it sends a message, follows
the run's events over SSE, and decides approvals through the approval API, so RBAC,
policies and the audit log apply exactly as everywhere else.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.prompt import Confirm, Prompt
from rich.syntax import Syntax

from assistant.events import RunEvent
from channels.render import Transcript, plan_text, render
from cli.client import ServerUnreachable, WindFlowClient
from windflow.errors import AuthenticationFailed, InvalidInput, PermissionDenied, WindFlowError
from windflow.settings import Settings


class Exit(IntEnum):
    DONE = 0
    FAILED = 1
    USAGE = 2
    AUTH = 3
    UNREACHABLE = 4
    APPROVAL = 5


RUN_ENDS = ("run_finished", "approval_required")

ServerOption = Annotated[
    str | None,
    typer.Option("--server", help="Server URL (default: settings server_url, WINDFLOW_SERVER_URL)"),
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", help="API token (default: settings api_token, WINDFLOW_API_TOKEN)"),
]
EmbeddedOption = Annotated[
    bool,
    typer.Option(
        "--embedded", help="Start the server in this process on the local data dir (no --server)"
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print events as JSON lines, then one result object")
]
YesOption = Annotated[
    bool,
    typer.Option(
        "--yes", "-y", help="Approve non-destructive changes; destructive ones are refused"
    ),
]


class Session:
    """One conversation driven from the terminal: prints events, decides approvals."""

    def __init__(
        self, client: WindFlowClient, *, as_json: bool, auto_yes: bool, console: Console
    ) -> None:
        self.client = client
        self.as_json = as_json
        self.auto_yes = auto_yes
        self.console = console
        self.conversation: str | None = None

    def ask(self, text: str) -> Exit:
        if self.conversation is None:
            self.conversation = self.client.create_conversation(text[:80])
        after = self.client.last_seq(self.conversation)
        run_id = self.client.send(self.conversation, text)
        transcript = Transcript()
        outcome = "failed"
        code: Exit | None = None
        while code is None:
            last = self._follow(after, transcript)
            after = last.seq
            if last.type == "run_finished":
                outcome = str(last.payload.get("outcome") or "failed")
                code = Exit.DONE if outcome == "succeeded" else Exit.FAILED
            else:
                code = self._approval(last)
        self._finish(run_id, outcome, code, transcript)
        return code

    def _follow(self, after: int, transcript: Transcript) -> RunEvent:
        assert self.conversation is not None
        last: RunEvent | None = None
        with self._spinner():
            for event in self.client.stream(self.conversation, after, RUN_ENDS):
                last = event
                transcript.add(event)
                self._show(event)
        if last is None:
            raise ServerUnreachable("the event stream ended before the run did")
        return last

    @contextmanager
    def _spinner(self) -> Iterator[None]:
        if self.as_json or not self.console.is_terminal:
            yield
            return
        with self.console.status("thinking…", spinner="dots"):
            yield

    def _show(self, event: RunEvent) -> None:
        if self.as_json:
            print(event.model_dump_json(), flush=True)
            return
        message = render(event)
        if message is None or message.kind in ("answer", "done", "approval", "progress"):
            return  # the answer is printed once at the end; plans by _approval
        style = {"tool": "cyan", "decision": "magenta", "error": "red"}[message.kind]
        self.console.print(message.text, style=style, markup=False, highlight=False)

    def _approval(self, event: RunEvent) -> Exit | None:
        """Decide (or not) a change waiting for approval: None to follow the run on."""
        approval_id = str(event.payload.get("approval_id"))
        approval = self.client.approval(approval_id)
        risk = str(approval.get("risk") or "mutate")
        if not self.as_json:
            self._show_plan(event, approval)
        if self.auto_yes:
            if risk == "destructive":
                self._say(
                    f"--yes does not approve destructive changes: approval {approval_id} "
                    "stays pending; run without --yes to decide it at the prompt, or in the UI."
                )
                return Exit.APPROVAL
            if not self.client.can_decide(approval_id):
                self._say(f"your role may not decide approval {approval_id}; it stays pending.")
                return Exit.APPROVAL
            self.client.decide(approval_id, True, "approved with --yes from the CLI")
            return None
        if not self.client.can_decide(approval_id):
            self._say(f"Approval {approval_id} waits for someone whose role may decide it.")
            return Exit.APPROVAL
        if self.as_json or not self.console.is_terminal:
            self._say(f"approval {approval_id} is pending; decide it with --yes or in the UI.")
            return Exit.APPROVAL
        if Confirm.ask("Approve?", console=self.console, default=False):
            self.client.decide(approval_id, True, "approved at the CLI prompt")
            return None
        self.client.decide(approval_id, False, "declined at the CLI prompt")
        self.console.print("Declined; nothing was changed.", style="yellow")
        return Exit.APPROVAL

    def _show_plan(self, event: RunEvent, approval: dict[str, Any]) -> None:
        plan = approval.get("plan") or event.payload.get("plan") or {}
        where = f" on {event.payload['target']}" if event.payload.get("target") else ""
        self.console.rule(
            f"Approval needed: {approval.get('tool')}{where} (risk {approval.get('risk')})"
        )
        self.console.print(Markdown(plan_text({**plan, "diff": ""})))
        if plan.get("diff"):
            self.console.print(Syntax(str(plan["diff"]), "diff", theme="ansi_dark"))

    def _say(self, text: str) -> None:
        if self.as_json:
            print(json.dumps({"type": "notice", "text": text}), flush=True)
        else:
            self.console.print(text, style="yellow", markup=False)

    def _finish(self, run_id: str, outcome: str, code: Exit, transcript: Transcript) -> None:
        if self.as_json:
            result = {
                "type": "result",
                "conversation_id": self.conversation,
                "run_id": run_id,
                "outcome": outcome if code != Exit.APPROVAL else "waiting",
                "answer": transcript.answer,
                "exit_code": int(code),
            }
            print(json.dumps(result), flush=True)
            return
        if transcript.answer:
            self.console.print(Markdown(transcript.answer))
        if code == Exit.FAILED:
            self.console.print(f"The run ended: {outcome}.", style="red")


def _exit_code(exc: WindFlowError) -> Exit:
    if isinstance(exc, ServerUnreachable):
        return Exit.UNREACHABLE
    if isinstance(exc, (AuthenticationFailed, PermissionDenied)):
        return Exit.AUTH
    if isinstance(exc, InvalidInput):
        return Exit.USAGE
    return Exit.FAILED


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def embedded_server(settings: Settings) -> Iterator[str]:
    """The app ``windflow serve`` runs, in this process on a free 127.0.0.1 port."""
    import uvicorn

    from api.app import create_app

    port = _free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ServerUnreachable("the embedded WindFlow server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def connect(server: str | None, token: str | None, embedded: bool) -> Iterator[WindFlowClient]:
    settings = Settings()
    raw_token = token or (settings.api_token.get_secret_value() if settings.api_token else None)
    if not raw_token:
        raise AuthenticationFailed(
            "no API token",
            hint="pass --token or set WINDFLOW_API_TOKEN; create one with `windflow token create`",
        )
    if embedded:
        if server:
            raise InvalidInput("--embedded and --server exclude each other")
        with embedded_server(settings) as url, WindFlowClient(url, raw_token) as client:
            yield client
        return
    url = server or settings.server_url or f"http://{settings.host}:{settings.port}"
    with WindFlowClient(url, raw_token) as client:
        yield client


def _fail(exc: WindFlowError, as_json: bool) -> typer.Exit:
    code = _exit_code(exc)
    if as_json:
        print(json.dumps({"type": "error", "error": str(exc), "exit_code": int(code)}))
    else:
        Console(stderr=True).print(
            f"Error: {exc}", style="red", markup=False, highlight=False, soft_wrap=True
        )
    return typer.Exit(int(code))


def ask_command(
    question: Annotated[str, typer.Argument(help="What to ask or ask for, in plain words")],
    server: ServerOption = None,
    token: TokenOption = None,
    embedded: EmbeddedOption = False,
    as_json: JsonOption = False,
    yes: YesOption = False,
) -> None:
    """Ask the assistant once and stream its answer; prompt for approvals inline.

    Tool calls are printed as they happen; a change waiting for approval shows its plan
    and diff and asks "Approve? \\[y/N]" when your role may decide it. --yes approves
    non-destructive changes only; --json prints events as JSON lines and a final result.

    Exit codes: 0 done | 1 run failed or change denied | 2 bad input or usage |
    3 authentication error (token missing, invalid or not allowed) |
    4 server unreachable | 5 approval pending or declined.
    """
    if not question.strip():
        Console(stderr=True).print("Error: the question is empty", style="red")
        raise typer.Exit(int(Exit.USAGE))
    try:
        with connect(server, token, embedded) as client:
            session = Session(client, as_json=as_json, auto_yes=yes, console=Console())
            code = session.ask(question)
    except WindFlowError as exc:
        raise _fail(exc, as_json) from exc
    raise typer.Exit(int(code))


def chat_command(
    server: ServerOption = None,
    token: TokenOption = None,
    embedded: EmbeddedOption = False,
    yes: YesOption = False,
) -> None:
    """An interactive conversation: each line is a message; the context carries over.

    Type `exit` or press Ctrl-D to leave. Exit codes as for `windflow ask`.
    """
    console = Console()
    try:
        with connect(server, token, embedded) as client:
            session = Session(client, as_json=False, auto_yes=yes, console=console)
            while True:
                try:
                    text = Prompt.ask("[bold]you[/bold]", console=console)
                except EOFError:
                    break
                if text.strip() in ("exit", "quit"):
                    break
                if text.strip():
                    session.ask(text)
    except WindFlowError as exc:
        raise _fail(exc, False) from exc
