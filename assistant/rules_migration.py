"""No-model turns for "move the blog stack from docker-1 to swarm-1".

The order is fixed and every change waits for its own approval: plan, deploy the
converted stack on the destination, verify it, then (with the data and traffic notes in
front of the approver) remove the old stack, and verify again. A failed or denied step
ends the run with the old stack still serving.
"""

from __future__ import annotations

import re
from typing import Any

from assistant.rules_common import Done, failure_text
from tools.targets import TargetSpec

MIGRATE_WORDS = frozenset({"move", "migrate", "migration", "transfer", "relocate"})
_STACK = re.compile(
    r"\b(?:stack\s+(?!from\b|to\b)([a-z0-9][a-z0-9_-]{0,62})|"
    r"(?!(?:the|my|our|a|this|that|move|migrate|transfer|relocate)\b)"
    r"([a-z0-9][a-z0-9_-]{0,62})\s+stack)\b"
)
Step = str | tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], str]


def _target_at(text: str, start: int, targets: list[TargetSpec]) -> TargetSpec | None:
    """The target whose name follows position ``start`` first (longest name on ties)."""
    best: tuple[int, int, TargetSpec] | None = None
    for target in targets:
        found = re.compile(rf"(?<![\w-]){re.escape(target.name.lower())}(?![\w-])").search(
            text, start
        )
        if found is not None:
            key = (found.start(), -len(target.name))
            if best is None or key < best[:2]:
                best = (key[0], key[1], target)
    return best[2] if best else None


def route(request: str, targets: list[TargetSpec]) -> tuple[TargetSpec | None, TargetSpec | None]:
    """(source, destination) from "... from A to B" or "... to B from A"."""
    text = request.lower()
    source = destination = None
    origin = re.search(r"\bfrom\b", text)
    if origin:
        source = _target_at(text, origin.end(), targets)
    for onto in re.finditer(r"\b(?:to|onto|into)\b", text):
        found = _target_at(text, onto.end(), targets)
        if found is not None and found is not source:
            destination = found
            break
    return source, destination


def stack_named(request: str) -> str | None:
    found = _STACK.search(request.lower())
    return (found.group(1) or found.group(2)) if found else None


def _first(done: list[Done], name: str) -> Done | None:
    return next((d for d in done if d.name == name), None)


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def _plan_text(plan: dict[str, Any]) -> str:
    problems = plan.get("incompatibilities", [])
    lines = [
        f"Migration of `{plan['stack']}` from `{plan['source']}` ({plan['source_kind']}) to "
        f"`{plan['destination']}` ({plan['destination_kind']}):"
    ]
    if problems:
        lines.append("What does not carry over:")
        lines.append(
            _bullets(
                [
                    f"{'**blocking** ' if p.get('blocking') else ''}"
                    f"{p.get('service') or 'stack'} `{p['field']}`: {p['reason']}"
                    for p in problems
                ]
            )
        )
    return "\n".join(lines)


def migrate(request: str, targets: list[TargetSpec], done: list[Done]) -> Step:
    source, destination = route(request, targets)
    stack = stack_named(request)
    if source is None or destination is None or stack is None:
        listed = ", ".join(f"`{t.name}` ({t.kind.value})" for t in targets) or "none yet"
        return (
            "Say which stack to move and where, for example: "
            '"move the blog stack from docker-1 to swarm-1". '
            f"Targets: {listed}."
        )
    plan = _first(done, "plan_migration")
    if plan is None:
        return "plan_migration", {
            "target": source.name,
            "stack": stack,
            "to_target": destination.name,
        }
    if not plan.ok:
        return failure_text(plan)
    data = plan.data
    if not data.get("ready"):
        return _plan_text(data) + "\n\nFix the blocking items and ask again; nothing changed."
    moved = _first(done, "migrate_stack")
    if moved is None:
        first = data["steps"][0]
        return (
            "migrate_stack",
            {"target": destination.name, **first["arguments"]},
            _plan_text(data) + f"\n\nStep 1: deploy it on `{destination.name}` "
            f"(`{source.name}` keeps running).",
        )
    if not moved.ok:
        return (
            f"`{stack}` was not deployed on `{destination.name}`; it still runs on "
            f"`{source.name}`. " + failure_text(moved)
        )
    checks = [d for d in done if d.name == "verify_migration"]
    if not checks:
        return "verify_migration", {
            "target": destination.name,
            "stack": stack,
            "from_target": source.name,
            "wait_seconds": 60,
        }
    verified = checks[0]
    if not verified.ok or not verified.data.get("ok"):
        reason = verified.data.get("summary") if verified.ok else failure_text(verified)
        return (
            f"The migrated stack is not healthy on `{destination.name}`: {reason}. "
            f"`{source.name}` still serves `{stack}`; nothing was removed."
        )
    removal = _first(done, "remove_stack")
    if removal is None:
        return (
            "remove_stack",
            {"target": source.name, "stack": stack, "remove_volumes": False},
            f"{verified.data['summary']}.\n\nBefore approving the removal of `{stack}` "
            f"from `{source.name}`:\n"
            + _bullets(data.get("data_notes", []) + data.get("switch_notes", []))
            + "\n\nDeny the removal to keep both running; its volumes are kept either way.",
        )
    if not removal.ok:
        return (
            f"`{stack}` runs on `{destination.name}` and still on `{source.name}`: the "
            "removal did not happen. " + failure_text(removal)
        )
    if len(checks) < 2:
        return "verify_migration", {
            "target": destination.name,
            "stack": stack,
            "from_target": source.name,
            "wait_seconds": 0,
        }
    final = checks[1]
    state = final.data.get("summary") if final.ok else failure_text(final)
    return (
        f"Moved `{stack}` from `{source.name}` to `{destination.name}`. {state}. "
        f"The old volumes on `{source.name}` were kept; delete them once the data is checked."
    )
