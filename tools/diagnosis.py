"""Why is this service not working? A deterministic reading of status, logs and events.

No model is involved: :func:`diagnose` applies fixed rules (restart counts, exit codes,
health, well-known log messages), so the same evidence always gives the same answer and the
assistant can build on findings instead of re-reading raw logs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal, NamedTuple

from pydantic import BaseModel, Field

from guardrails.redaction import redact_text
from tools.adapters.protocol import LogLines, OrchestratorEvent, ServiceStatus, StackStatus
from tools.base import ToolContext, tool
from tools.knowledge_tools import record_incident
from tools.stack_tools import STACK_TARGETS, ServiceRef, stack_adapter
from windflow.errors import NotFound, OrchestratorError

Severity = Literal["critical", "warning", "info"]
SEVERITY_RANK: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}
MAX_EVIDENCE = 5
MAX_LINE = 300
EXCERPT_LINES = 20
EVENTS_WINDOW = 3600
CRASH_LOOP_RESTARTS = 3
STATE_PHRASES = {"failed": "failing", "exited": "stopped", "unknown": "in an unknown state"}
EXIT_MEANINGS: dict[int, str] = {
    1: "the application reported a general error",
    2: "invalid arguments or shell misuse",
    126: "the command exists but cannot be executed (permissions, or not a binary)",
    127: "the command was not found in the image (check command, entrypoint and PATH)",
    130: "interrupted (SIGINT)",
    134: "aborted (SIGABRT), often a failed assertion or a crash in native code",
    137: "killed (SIGKILL), usually by the out-of-memory killer",
    139: "segmentation fault (SIGSEGV): the program crashed",
    143: "terminated (SIGTERM), usually a normal stop or a redeploy",
    255: "a fatal error with an out-of-range exit status",
}


class Finding(BaseModel):
    code: str = Field(description="Stable slug, e.g. crash_loop, oom_killed, missing_env")
    severity: Severity
    title: str
    evidence: list[str] = Field(default_factory=list, description="Quoted log/event lines")
    suggestion: str


class Diagnosis(BaseModel):
    stack: str
    service: str
    state: str
    healthy: bool
    summary: str = Field(description="What is wrong and what to do, in one or two sentences")
    findings: list[Finding] = Field(description="Most severe first; causes before symptoms")
    log_excerpt: list[str] = Field(default_factory=list, description="The newest log lines")


class DiagnoseInput(ServiceRef):
    log_tail: int = Field(default=80, ge=1, le=500, description="Log lines to examine")


class _LogRule(NamedTuple):
    """A log message that names a root cause; patterns are matched case-insensitively."""

    code: str
    pattern: str
    title: str
    suggestion: str


_LOG_RULES = [
    _LogRule(
        "missing_env",
        r"must be set|is not set|not set\b|is required|is missing|is undefined|is empty|"
        r"not defined|missing (required )?env|(required|undefined|unset) env",
        "A required environment variable is missing",
        "set it under environment: of the service and redeploy",
    ),
    _LogRule(
        "port_conflict",
        r"address already in use|eaddrinuse|port is already allocated|failed to bind|"
        r"bind(ing)? .{0,60}failed|cannot assign requested address",
        "The port is already in use",
        "another process or container holds the port: publish a different host port, or stop "
        "whatever uses it",
    ),
    _LogRule(
        "connection_refused",
        r"connection refused|econnrefused|could not connect to server",
        "A dependency refuses connections",
        "the service it connects to is not listening: check that it runs and is healthy, "
        "address it by its service name, and add depends_on with condition: service_healthy",
    ),
    _LogRule(
        "permission_denied",
        r"permission denied|eacces|operation not permitted|read-only file system",
        "Permission denied",
        "check the owner and mode of mounted files against the container's user:, and that "
        "the volume is not mounted read-only where the app writes",
    ),
    _LogRule(
        "not_found",
        r"no such file or directory|enoent|executable file not found|command not found|"
        r"cannot find module|no module named|modulenotfounderror|: not found$",
        "A file, module or command was not found",
        "check the paths in command/entrypoint, mounted volumes and config, and that the image "
        "contains the program",
    ),
    _LogRule(
        "config_error",
        r"syntax error|parse error|error parsing|invalid config|configuration error|"
        r"config(uration)? file .{0,60}(invalid|error)|unknown (directive|option|field|flag)|"
        r"failed to (load|parse|read) config|yaml: |json: cannot unmarshal|\[emerg\]",
        "The configuration is invalid",
        "fix the configuration named in the log line (file, line or key), then redeploy",
    ),
    _LogRule(
        "image_pull_failed",
        r"pull access denied|manifest unknown|manifest for \S+ not found|no such image|"
        r"repository does not exist|failed to pull|error pulling|errimagepull|imagepullbackoff|"
        r"toomanyrequests",
        "The image could not be pulled",
        "check the image name and tag, that it exists in the registry, and that the target is "
        "logged in to a private registry",
    ),
]
_PATTERNS = {rule.code: re.compile(rule.pattern, re.IGNORECASE) for rule in _LOG_RULES}
# Causes explain symptoms; within one severity they are listed first.
_SYMPTOMS = {"crash_loop", "exit_nonzero", "unhealthy", "degraded", "pending", "no_known_cause"}
_ADDRESS = re.compile(r"((?:\[[0-9a-f:.]+\]|[a-z0-9][a-z0-9_.-]*):\d{2,5})\b", re.IGNORECASE)
_LOCALHOST = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|\[::1\]):", re.IGNORECASE)
_UPPER_NAME = re.compile(r"\b[A-Z][A-Z0-9_]{2,}\b")
# Upper-case words of log lines that are levels or acronyms, not variable names.
_NOT_VARIABLES = {"FATAL", "ERROR", "WARN", "WARNING", "INFO", "DEBUG", "CRITICAL", "PANIC", "ENV"}
_ENV_WORDS = re.compile(r"\b(env|environment|variable|var)\b", re.IGNORECASE)
_EXIT_IN_EVENT = re.compile(r"exit_?code[=: ]+(\d+)", re.IGNORECASE)


def _clean(line: str) -> str:
    text = redact_text(line.strip())
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 3] + "..."


def _evidence(lines: Iterable[str]) -> list[str]:
    """The newest distinct lines: a crash loop repeats one message many times."""
    seen: dict[str, None] = {}
    for cleaned in (_clean(line) for line in lines):
        if cleaned:
            seen.pop(cleaned, None)
            seen[cleaned] = None
    return list(seen)[-MAX_EVIDENCE:]


def _finding(
    code: str, severity: Severity, title: str, suggestion: str, evidence: Iterable[str] = ()
) -> Finding:
    return Finding(
        code=code,
        severity=severity,
        title=title,
        evidence=_evidence(evidence),
        suggestion=suggestion,
    )


def _concerns(event: OrchestratorEvent, stack: str, service: str) -> bool:
    # Docker names containers stack-service-N, Swarm services stack_service and tasks
    # stack_service.N.id; "web" must not match "web-admin".
    pattern = rf"^(?:{re.escape(stack)}[-_])?{re.escape(service)}(?:$|[-.]\d)"
    return re.match(pattern, event.resource) is not None


def _event_line(event: OrchestratorEvent) -> str:
    when = event.time.strftime("%H:%M:%S ") if event.time else ""
    detail = f" ({event.message})" if event.message else ""
    return f"{when}{event.type} {event.action} {event.resource}{detail}"


def _exit_meaning(code: int) -> str:
    if code in EXIT_MEANINGS:
        return EXIT_MEANINGS[code]
    return f"killed by signal {code - 128}" if 128 < code < 160 else "the application failed"


def _variables(line: str) -> list[str]:
    return [n for n in _UPPER_NAME.findall(line) if n not in _NOT_VARIABLES]


def _log_finding(rule: _LogRule, matched: list[str], severity: Severity) -> Finding:
    title, suggestion = rule.title, rule.suggestion
    # Names and addresses for the title come from redacted text: "user:1234@db:5432" must
    # not turn a password into an address.
    cleaned = [_clean(line) for line in matched]
    if rule.code == "missing_env":
        names = list(dict.fromkeys(n for line in cleaned for n in _variables(line)))
        # DATABASE_URL is a likelier variable than HTTP when a line has both.
        names = [n for n in names if "_" in n] or names
        if names:
            names = names[:3]
            title = f"Environment variable {', '.join(names)} is not set"
            suggestion = (
                f"set it under environment: of the service ({names[0]}: ${{{names[0]}}}, "
                "with the value passed at deploy time) and redeploy"
            )
    elif rule.code == "connection_refused":
        addresses = [a for line in cleaned for a in _ADDRESS.findall(line)]
        if addresses:
            title = f"Cannot connect to {addresses[-1]} (connection refused)"
            if _LOCALHOST.match(addresses[-1]):
                suggestion = (
                    f"{addresses[-1]} is the container itself: address the other service by "
                    "its service name instead of localhost, and check that it runs"
                )
    return _finding(rule.code, severity, title, suggestion, matched)


def _symptoms(
    svc: ServiceStatus, events: list[OrchestratorEvent], crashing: bool, down: bool
) -> list[Finding]:
    findings: list[Finding] = []
    deaths = [e for e in events if e.action == "die"]
    died = [_event_line(e) for e in deaths]
    message = svc.message or ""
    if crashing:
        recent = f", {len(deaths)} exits in the last hour" if deaths else ""
        findings.append(
            _finding(
                "crash_loop",
                "critical",
                f"Crash loop: restarted {svc.restarts} times{recent}",
                "the container exits soon after each start: fix the cause shown in the logs; "
                "restarting it again will not help",
                [f"restarts: {svc.restarts}", *died],
            )
        )
    elif svc.restarts >= CRASH_LOOP_RESTARTS:
        findings.append(
            _finding(
                "crash_loop",
                "warning",
                f"Restarted {svc.restarts} times, none in the last hour",
                "it is stable now; look at older logs if the restarts worry you",
            )
        )
    exit_code = svc.exit_code
    for event in reversed(deaths if exit_code is None else []):
        found = _EXIT_IN_EVENT.search(event.message)
        if found:
            exit_code = int(found.group(1))
            break
    ooms = [_event_line(e) for e in events if e.action == "oom"]
    oom_said = any(s in message.lower() for s in ("oomkilled", "out of memory"))
    if exit_code == 137 or ooms or oom_said:
        title = (
            "Killed for using too much memory"
            if ooms or oom_said
            else "Killed with SIGKILL (exit 137), most likely out of memory"
        )
        findings.append(
            _finding(
                "oom_killed",
                "critical",
                title,
                "raise deploy.resources.limits.memory, or lower the app's memory use "
                "(heap size, workers, caches)",
                [*ooms, message],
            )
        )
    elif exit_code not in (None, 0):
        findings.append(
            _finding(
                "exit_nonzero",
                "critical" if down else "warning",
                f"Exited with code {exit_code}: {_exit_meaning(exit_code)}",
                "read the last log lines before the exit; they name the failure",
                [f"exit code {exit_code}", *died],
            )
        )
    failing_probes = [_event_line(e) for e in events if "unhealthy" in e.action]
    if svc.health == "unhealthy" or (failing_probes and svc.health != "healthy"):
        findings.append(
            _finding(
                "unhealthy",
                "critical",
                "The healthcheck fails",
                "run the healthcheck command by hand in the container; check the port and "
                "path it probes, and give start_period enough time",
                [message, *failing_probes],
            )
        )
    if svc.state == "degraded":
        findings.append(
            _finding(
                "degraded",
                "warning",
                f"Only {svc.running} of {svc.desired} replicas run",
                "read the failing replicas' logs; a host port or a container_name allows one "
                "replica only",
                [message],
            )
        )
    if svc.state == "pending":
        findings.append(
            _finding(
                "pending",
                "warning",
                "No replica has been scheduled",
                "check placement constraints and that nodes have the resources the service "
                "reserves",
                [message],
            )
        )
    return findings


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


def _summary(svc: ServiceStatus, healthy: bool, crashing: bool, findings: list[Finding]) -> str:
    problems = [f for f in findings if f.severity != "info"]
    if healthy:
        also = f", but {_lower(problems[0].title)}" if problems else "; nothing needs attention"
        return f"{svc.name} is running and healthy ({svc.running}/{svc.desired} replicas){also}."
    causes = [f for f in problems if f.code not in _SYMPTOMS]
    # The phrase for the state already says what these findings would.
    if crashing:
        phrase, implied = "crash-looping", "crash_loop"
    elif svc.health == "unhealthy":
        phrase, implied = "running but unhealthy", "unhealthy"
    else:
        phrase, implied = STATE_PHRASES.get(svc.state, svc.state), ""
    symptoms = [f for f in problems if f.code in _SYMPTOMS and f.code != implied]
    first = f"{svc.name} is {phrase}"
    if symptoms:
        first += " (" + "; ".join(_lower(f.title) for f in symptoms[:2]) + ")"
    if causes:
        return f"{first}. Likely cause: {_lower(causes[0].title)}; {causes[0].suggestion}."
    if problems:
        return f"{first}. {problems[0].suggestion[:1].upper()}{problems[0].suggestion[1:]}."
    return f"{first}."


def diagnose(
    status: StackStatus,
    service: str,
    logs: LogLines | None,
    events: list[OrchestratorEvent],
) -> Diagnosis:
    """Explain the state of one service from its status, newest logs and recent events."""
    svc = next((s for s in status.services if s.name == service), None)
    if svc is None:
        names = ", ".join(s.name for s in status.services)
        raise NotFound(
            f"stack {status.stack} has no service {service}",
            hint=f"services: {names}" if names else "the stack has no services: is it deployed?",
        )
    mine = [e for e in events if _concerns(e, status.stack, service)]
    lines = logs.lines if logs else []
    deaths = sum(e.action == "die" for e in mine)
    running = svc.state in ("running", "starting")
    # Between exits a crash-looping container is "running" for a moment, so exits count too;
    # restarts are lifetime totals and need a recent exit or a stopped service to mean a loop.
    crashing = (
        deaths >= CRASH_LOOP_RESTARTS
        or (svc.restarts >= CRASH_LOOP_RESTARTS and (deaths > 0 or not running))
        or (svc.state == "failed" and svc.restarts > 0)
    )
    completed = svc.state == "exited" and svc.exit_code == 0 and not crashing
    down = (crashing or not running or svc.running < svc.desired) and not completed
    findings = _symptoms(svc, mine, crashing, down)
    texts = [*lines, svc.message or "", *(e.message for e in mine)]
    for rule in _LOG_RULES:
        matched = [t for t in texts if t and _PATTERNS[rule.code].search(t)]
        if rule.code == "missing_env":
            # "authentication is required" is no variable; "PORT is required" names one.
            matched = [t for t in matched if _ENV_WORDS.search(t) or _variables(t)]
        if matched:
            findings.append(_log_finding(rule, matched, "critical" if down else "warning"))
    healthy = (
        not down
        and svc.state == "running"
        and svc.health in ("healthy", "none")
        and not any(f.severity == "critical" for f in findings)
    )
    if healthy:
        replicas = [f"{svc.running}/{svc.desired} replicas running"]
        findings.append(
            _finding("healthy", "info", "Running and healthy", "nothing to do", replicas)
        )
    elif completed:
        findings.append(
            _finding(
                "completed", "info", "Ran to completion (exit code 0)", "nothing to do for a job"
            )
        )
    elif svc.state == "starting":
        findings.append(
            _finding(
                "starting", "info", "Still starting", "diagnose again once start_period has passed"
            )
        )
    elif all(f.severity == "info" for f in findings):
        findings.append(
            _finding(
                "no_known_cause",
                "warning",
                "No known failure pattern found",
                "read the log excerpt, or fetch more lines with service_logs",
                [svc.message or ""],
            )
        )
    findings.sort(key=lambda f: (SEVERITY_RANK[f.severity], f.code in _SYMPTOMS))
    return Diagnosis(
        stack=status.stack,
        service=service,
        state=svc.state,
        healthy=healthy,
        summary=_summary(svc, healthy, crashing, findings),
        findings=findings,
        log_excerpt=[_clean(line) for line in lines[-EXCERPT_LINES:]],
    )


@tool(risk="read", permission="targets:read", targets=STACK_TARGETS)
async def diagnose_service(ctx: ToolContext, args: DiagnoseInput) -> Diagnosis:
    """Diagnose why a service of a deployed stack is failing, crashing or unhealthy.

    Reads the service's status, its newest log lines and the last hour of orchestrator
    events, and returns findings with a stable code (crash_loop, oom_killed, exit_nonzero,
    unhealthy, missing_env, port_conflict, connection_refused, permission_denied, not_found,
    config_error, image_pull_failed), quoted evidence and a concrete suggestion, most severe
    first, plus a one-line summary. Use it before restarting or redeploying a broken service.
    """
    adapter = stack_adapter(ctx)
    status = await adapter.status(args.stack)
    if not any(s.name == args.service for s in status.services):
        return diagnose(status, args.service, None, [])  # raises NotFound naming the services
    # Logs and events enrich the diagnosis; without them the status still says a lot.
    logs: LogLines | None
    try:
        logs = await adapter.logs(args.stack, args.service, tail=args.log_tail, since_seconds=None)
    except (OrchestratorError, NotFound):
        logs = None
    try:
        events = await adapter.events(args.stack, since_seconds=EVENTS_WINDOW)
    except OrchestratorError:
        events = []
    found = diagnose(status, args.service, logs, events)
    if not found.healthy:
        await record_incident(
            ctx,
            subject=f"{args.stack}/{args.service}",
            title=f"{args.stack}/{args.service}: {found.summary[:120]}",
            text=_incident_text(found),
            tags=[f.code for f in found.findings],
        )
    return found


def _incident_text(found: Diagnosis) -> str:
    lines = [f"# Incident: {found.stack}/{found.service}", "", found.summary, ""]
    for finding in found.findings:
        lines.append(f"- {finding.severity} {finding.code}: {finding.title}. {finding.suggestion}")
        lines.extend(f"  > {line}" for line in finding.evidence[:3])
    return "\n".join(lines)
