"""No-model mode: deterministic turns for the same graph when no model is configured.

Intent is recognised by rules; the work is done by the same tools, through the same
guardrails and approvals, and the answers come from their typed results. Each turn looks at
what this run has done so far (its tool calls and their results) and decides the next call
or the answer, so a run resumed after an approval continues where it was.
"""

from __future__ import annotations

import json
import re
from typing import Any

from assistant.context import TurnInput
from assistant.model import ModelTurn, TokenSink, ToolCallRequest, Usage
from assistant.prompt import words
from assistant.rules_common import Done, failure_text, history, pick_stack, tokens, which_stack
from assistant.rules_kubernetes import diagnose_kubernetes
from assistant.rules_migration import MIGRATE_WORDS, Step, migrate
from tools.targets import TargetKind, TargetSpec

_NO_TARGETS = "none yet (add one with `windflow target add`)"
NO_MODEL_NOTE = "_No language model is configured: this answer comes from WindFlow's rules._"

_STACK_NAMED = re.compile(r"\b(?:as|stack|named)\s+([a-z0-9][a-z0-9_-]{0,62})\b")
_FENCE = re.compile(r"```(?:ya?ml|compose)?\s*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_DIAGNOSE = frozenset(
    [
        "why",
        "diagnose",
        "crash",
        "crashloop",
        "restart",
        "keep",
        "fail",
        "broken",
        "wrong",
        "error",
        "down",
        "unhealthy",
        "debug",
        "investigate",
        "die",
        "dy",
    ]
)
_DEPLOY = {"deploy", "install", "launch", "ship", "roll", "provision", "set", "bring"}
_LINT = {"lint", "check", "review", "validate", "production", "ready", "optimize", "improve"}
_STATUS = {"status", "list", "show", "inventory", "state", "health", "running", "what"}


def compose_in(text: str) -> str | None:
    fenced = _FENCE.search(text)
    if fenced:
        return fenced.group(1)
    start = re.search(r"^(services|version|name):", text, re.MULTILINE)
    return text[start.start() :] if start else None


def _mentioned_target(text: str, targets: list[TargetSpec]) -> TargetSpec | None:
    lowered = text.lower()
    for target in sorted(targets, key=lambda t: -len(t.name)):
        if re.search(rf"(?<![\w-]){re.escape(target.name.lower())}(?![\w-])", lowered):
            return target
    return targets[0] if len(targets) == 1 else None


class RulesPlanner:
    """A ``Planner`` without a model."""

    name: str | None = None

    async def turn(self, given: TurnInput, on_token: TokenSink) -> ModelTurn:
        done = history(given.run_messages)
        step = self.next_step(given, done)
        if isinstance(step, str):
            text = f"{step}\n\n{NO_MODEL_NOTE}"
            return ModelTurn(text=text, tool_calls=(), usage=Usage(), model="")
        name, arguments, *preface = step  # a proposal may come with a word for the approver
        call = ToolCallRequest(
            id=f"rule_{len(done) + 1}", name=name, arguments=json.dumps(arguments)
        )
        return ModelTurn(text="".join(preface), tool_calls=(call,), usage=Usage(), model="")

    def next_step(self, given: TurnInput, done: list[Done]) -> Step:
        request = given.request
        said = words(request)
        target = _mentioned_target(request, given.targets)
        compose = compose_in(request)
        if compose is not None and not (said & _DEPLOY and target):
            return self.lint(compose, done)
        if said & MIGRATE_WORDS:
            return migrate(request, given.targets, done)
        if said & _DIAGNOSE:
            return self.diagnose(request, target, given.targets, done)
        if said & _DEPLOY:
            return self.deploy(request, compose, target, given.targets, done)
        if said & _STATUS and target is not None:
            return self.status(request, target, done)
        if said & _LINT and compose is None:
            return "Paste the compose file in a ```yaml block and I will review it."
        return self.from_knowledge(given) or self.help(given)

    # -- intents -------------------------------------------------------------------------

    def lint(self, compose: str, done: list[Done]) -> str | tuple[str, dict[str, Any]]:
        if not done:
            return "lint_compose", {"compose": compose}
        report = done[-1]
        if not report.ok:
            return failure_text(report)
        data = report.data
        lines = [f"**{data.get('summary', 'Review done.')}**"]
        for finding in data.get("findings", []):
            lines.append(f"- **{finding['severity']}** {finding['message']}")
            fix = str(finding.get("fix") or "").strip()
            if "\n" in fix:
                lines.append(
                    "  ```yaml\n" + "\n".join(f"  {x}" for x in fix.splitlines()) + "\n  ```"
                )
            elif fix:
                lines.append(f"  Fix: `{fix}`")
        return "\n".join(lines)

    def deploy(
        self,
        request: str,
        compose: str | None,
        target: TargetSpec | None,
        targets: list[TargetSpec],
        done: list[Done],
    ) -> str | tuple[str, dict[str, Any]]:
        if target is None:
            return _which_target(targets, "deploy to")
        deploys = [d for d in done if d.name in ("deploy_stack", "deploy_template")]
        if deploys:
            return _deploy_answer(deploys[-1], target)
        if compose is not None:
            named = _STACK_NAMED.search(request)
            stack = named.group(1) if named else "stack"
            return "deploy_stack", {"target": target.name, "stack": stack, "compose": compose}
        listing = next((d for d in done if d.name == "saved_stacks"), None)
        if listing is None:
            return "saved_stacks", {}
        if not listing.ok:
            return failure_text(listing)
        names = [s["name"] for s in listing.data.get("stacks", [])]
        wanted = next((t for t in tokens(request) if t in names), None)
        if wanted is None:
            return self.deploy_template(request, target, names, done)
        source = next((d for d in done if d.name == "saved_stack"), None)
        if source is None:
            return "saved_stack", {"name": wanted}
        if not source.ok:
            return failure_text(source)
        return "deploy_stack", {
            "target": target.name,
            "stack": wanted,
            "compose": source.data["compose"],
        }

    def deploy_template(
        self, request: str, target: TargetSpec, saved: list[str], done: list[Done]
    ) -> str | tuple[str, dict[str, Any]]:
        """No saved stack is named: a template from the marketplace may be."""
        asked = [t for t in tokens(request) if t not in _DEPLOY and t != target.name.lower()]
        search = next((d for d in done if d.name == "search_templates"), None)
        if search is None:
            return "search_templates", {"query": " ".join(asked)[:200]}
        found = search.data.get("templates", []) if search.ok else []
        named = next((t for t in found if t["id"] in asked), None)
        if named is None:
            known = ", ".join(saved) or "none saved yet"
            offers = ", ".join(f"`{t['id']}`" for t in found[:5])
            return f"Which stack should I deploy? Saved stacks: {known}." + (
                f" Templates that match: {offers}." if offers else ""
            )
        stack = _STACK_NAMED.search(request)
        return "deploy_template", {
            "target": target.name,
            "template": named["id"],
            "stack": stack.group(1) if stack else named["id"],
        }

    def diagnose(
        self, request: str, target: TargetSpec | None, targets: list[TargetSpec], done: list[Done]
    ) -> str | tuple[str, dict[str, Any]]:
        if target is None:
            return _which_target(targets, "look at")
        if target.kind is TargetKind.KUBERNETES:
            return diagnose_kubernetes(request, target, done)
        diagnosis = next((d for d in done if d.name == "diagnose_service"), None)
        if diagnosis is not None:
            return _diagnosis_answer(diagnosis, target)
        mentioned = tokens(request)
        status = next((d for d in done if d.name == "stack_status"), None)
        if status is not None:
            if not status.ok:
                return failure_text(status)
            services = status.data.get("services", [])
            chosen = next((s for s in services if s["name"] in mentioned), None) or next(
                (s for s in services if s["state"] != "running" or s.get("restarts")), None
            )
            if chosen is None:
                listed = ", ".join(s["name"] for s in services) or "none"
                return f"Every service of `{status.arguments['stack']}` looks fine ({listed})."
            return "diagnose_service", {
                "target": target.name,
                "stack": status.arguments["stack"],
                "service": chosen["name"],
            }
        inventory = next((d for d in done if d.name == "target_inventory"), None)
        if inventory is None:
            return "target_inventory", {"target": target.name}
        if not inventory.ok:
            return failure_text(inventory)
        workloads = inventory.data.get("workloads", [])
        stack = pick_stack(workloads, mentioned)
        if stack is None:
            return which_stack(target, workloads)
        return "stack_status", {"target": target.name, "stack": stack}

    def status(
        self, request: str, target: TargetSpec, done: list[Done]
    ) -> str | tuple[str, dict[str, Any]]:
        if not done:
            listing = (
                "k8s_list_workloads" if target.kind is TargetKind.KUBERNETES else "target_inventory"
            )
            return listing, {"target": target.name}
        inventory = done[-1]
        if not inventory.ok:
            return failure_text(inventory)
        workloads = inventory.data.get("workloads", [])
        if not workloads:
            return f"Nothing runs on `{target.name}` yet."
        lines = [f"What runs on `{target.name}`:"]
        for w in sorted(workloads, key=lambda w: (w.get("stack") or "", w["name"])):
            stack = f" (stack {w['stack']})" if w.get("stack") else ""
            lines.append(f"- `{w['name']}`{stack}: {w['state']}, image {w.get('image') or '?'}")
        return "\n".join(lines)

    def from_knowledge(self, given: TurnInput) -> str | None:
        """A question no other rule handles, answered with the best retrieved passages."""
        asked = words(given.request)
        relevant = [
            snippet
            for snippet in given.snippets
            if len(asked & words(str(snippet.get("text", "")))) >= min(2, len(asked))
        ]
        if not asked or not relevant:
            return None  # retrieval always ranks something; "hello" deserves the help text
        lines = ["Here is what WindFlow's documentation and runbooks say:"]
        for snippet in relevant[:3]:
            text = " ".join(str(snippet.get("text", "")).split())
            excerpt = text[:400] + ("…" if len(text) > 400 else "")
            lines.append(f"- **{snippet.get('title') or snippet.get('source')}** "
                         f"(`{snippet.get('source')}`): {excerpt}")  # fmt: skip
        return "\n".join(lines)

    def help(self, given: TurnInput) -> str:
        listed = ", ".join(f"`{t.name}` ({t.kind.value}, {t.environment})" for t in given.targets)
        return (
            "I can deploy a saved stack or a pasted compose file to a target (after a human "
            "approves the plan), diagnose a failing service, show what runs on a target, and "
            'review a compose file. For example: "deploy blog to docker-local", "why does '
            'the api container keep restarting on docker-local?", or paste a compose file in '
            f"a ```yaml block.\n\nTargets: {listed or _NO_TARGETS}."
        )


def _which_target(targets: list[TargetSpec], verb: str) -> str:
    listed = ", ".join(f"`{t.name}`" for t in targets) or "none yet"
    return f"Which target should I {verb}? Targets: {listed}."


def _deploy_answer(done: Done, target: TargetSpec) -> str:
    stack = done.arguments.get("stack", "the stack")
    if not done.ok:
        return f"Stack `{stack}` was not deployed to `{target.name}`. " + failure_text(done)
    data = done.data
    parts = [
        f"{label} {', '.join(data[key])}"
        for key, label in (("created", "created"), ("recreated", "recreated"),
                           ("unchanged", "unchanged"), ("removed", "removed"))
        if data.get(key)
    ]  # fmt: skip
    return f"Deployed stack `{stack}` to `{target.name}`: " + ("; ".join(parts) or "no changes")


def _diagnosis_answer(done: Done, target: TargetSpec) -> str:
    if not done.ok:
        return failure_text(done)
    data = done.data
    head = (
        f"**{data.get('stack')}/{data.get('service')} on `{target.name}`**: "
        f"{data.get('summary', '')}"
    )
    lines = [head]
    for finding in data.get("findings", []):
        suggestion = str(finding.get("suggestion") or "")
        lines.append(
            f"- **{finding['severity']}** {finding['title']}. "
            f"{suggestion[:1].upper()}{suggestion[1:]}"
        )
        lines.extend(f"  > {line}" for line in finding.get("evidence", [])[:3])
    return "\n".join(lines)
