"""Review a compose file before it is deployed: mistakes, risky settings, missing safety nets.

Deterministic rules over the parsed stack model (plus the raw YAML where the model has
resolved something away, such as whether a value came from ``${VAR}``). A file that does
not parse is a finding, not an exception, so the caller always gets a readable report.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

from pydantic import BaseModel, Field

from guardrails.redaction import MASK, redact_text
from tools.base import ToolContext, ToolInput, tool
from tools.stack import ComposeError, Service, Stack, load_stack
from tools.stack.loader import Document, parse
from tools.stack_tools import NAME
from windflow.errors import InvalidInput

LintSeverity = Literal["error", "warning", "info"]
RANK: dict[str, int] = {"error": 0, "warning": 1, "info": 2}
# Notes (info) are suggestions: they do not lower the score.
PENALTY: dict[str, int] = {"error": 25, "warning": 6, "info": 0}
# One rule broken by many services is one habit to fix: its cost is capped.
MAX_RULE_PENALTY = 2
MAX_COMPOSE_CHARS = 200_000

_SECRET_KEY = re.compile(
    r"(passw(or)?d|\bpass\b|_pass\b|secret|token|api_?key|private_?key|access_?key|credential)",
    re.I,
)
_URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^:/@\s]+:(?P<pw>[^@/\s]+)@", re.I)
_REQUIRED_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*):?\?")
_SERVICE_PATH = re.compile(r"^services(?:\.([^.\[]+)|\[\"([^\"]+)\"\])")
_DATABASE = re.compile(
    r"postgres|mysql|mariadb|redis|valkey|mongo|memcached|cassandra|couchdb|elasticsearch|"
    r"opensearch|clickhouse|influxdb|cockroach"
)
_DB_HEALTHCHECKS = {
    "postgres": '["CMD-SHELL", "pg_isready -U postgres"]',
    "mysql": '["CMD", "mysqladmin", "ping", "-h", "127.0.0.1"]',
    "mariadb": '["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"]',
    "redis": '["CMD", "redis-cli", "ping"]',
    "valkey": '["CMD", "valkey-cli", "ping"]',
    "mongo": '["CMD", "mongosh", "--quiet", "--eval", "db.adminCommand(\'ping\')"]',
}
_DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
_SENSITIVE_PATHS = {
    "/": "whole filesystem",
    "/etc": "configuration and password files",
    "/root": "root's home and keys",
    "/proc": "process table and kernel settings",
    "/sys": "kernel and device settings",
    "/boot": "kernel and boot loader",
    "/dev": "devices",
    "/var/lib/docker": "containers and images",
    "/home": "users' files and keys",
    "/var/run": "runtime sockets",
    "/run": "runtime sockets",
}
IGNORE_LABEL = "windflow.lint.ignore"
PUBLIC_LABEL = "windflow.lint.public"


class LintInput(ToolInput):
    compose: str = Field(
        max_length=MAX_COMPOSE_CHARS, description="The complete docker-compose YAML to check"
    )
    name: str = Field(default="stack", pattern=NAME, description="Stack name used while parsing")


class LintFinding(BaseModel):
    rule: str = Field(description="Stable slug, e.g. image_unpinned, plaintext_secret")
    severity: LintSeverity
    service: str | None = None
    message: str
    fix: str = Field(description="A concrete change, often a YAML snippet")
    line: int | None = Field(default=None, description="Line in the compose file, if known")


class LintReport(BaseModel):
    stack: str
    ok: bool = Field(description="True when there is no error-level finding")
    score: int = Field(ge=0, le=100)
    summary: str
    findings: list[LintFinding]
    suppressed: list[str] = Field(
        default_factory=list,
        description="service/rule pairs silenced by a windflow.lint.ignore label",
    )


def _repository(image: str) -> str:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name[: len(name) - len(last)] + last.split(":", 1)[0]


def _database(image: str | None) -> str | None:
    base = _repository(image).rsplit("/", 1)[-1].lower() if image else ""
    found = _DATABASE.search(base)
    return found.group() if found else None


class _Secret(NamedTuple):
    service: str
    key: str
    value: str
    literal: bool
    line: int | None


def _secrets(document: Document) -> list[_Secret]:
    """Secret-looking ``environment:`` values as written, before interpolation."""
    found: list[_Secret] = []
    services = document.data.get("services")
    for name, raw in (services if isinstance(services, dict) else {}).items():
        env = raw.get("environment") if isinstance(raw, dict) else None
        if isinstance(env, dict):
            entries = [(str(k), v, k) for k, v in env.items()]
        elif isinstance(env, list):
            entries = [(*str(e).partition("=")[::2], i) for i, e in enumerate(env)]
        else:
            continue
        for key, value, where in entries:
            text = "" if value is None else str(value)
            url = _URL_PASSWORD.search(text)
            if _SECRET_KEY.search(key) and not key.upper().endswith("_FILE"):
                secret = text
            elif url is not None:
                secret = url.group("pw")
            else:
                continue
            # "$$" is a literal dollar; any other "$" means the value is interpolated.
            literal = bool(secret) and "$" not in secret.replace("$$", "")
            line = document.line_of(("services", name, "environment", where))
            found.append(_Secret(str(name), key, secret, literal, line))
    return found


def _parse_findings(error: InvalidInput) -> list[LintFinding]:
    if not isinstance(error, ComposeError):
        hint = error.hint or "see the compose specification"
        return [
            LintFinding(
                rule="invalid_compose",
                severity="error",
                message=redact_text(error.message),
                fix=hint,
            )
        ]
    findings = []
    for issue in error.issues:
        match = _SERVICE_PATH.match(issue.path or "")
        malformed = issue.problem.startswith("malformed YAML")
        # Only the problem may quote a value; redacting the path would mask the word after
        # "services.db.environment.POSTGRES_PASSWORD:".
        where = " ".join(
            part for part in (f"line {issue.line}" if issue.line else "", issue.path) if part
        )
        problem = redact_text(issue.problem)
        findings.append(
            LintFinding(
                rule="yaml_syntax" if malformed else "invalid_compose",
                severity="error",
                service=(match.group(1) or match.group(2)) if match else None,
                message=f"{where}: {problem}" if where else problem,
                fix=issue.hint or "see the compose specification for this key",
                line=issue.line,
            )
        )
    return findings


class _Rule(NamedTuple):
    severity: LintSeverity
    message: str
    fix: str


# Templates are filled with str.format from the check's fields: braces in YAML are doubled.
_RULES: dict[str, _Rule] = {
    "build_without_image": _Rule(
        "error",
        "has build: but no image:; WindFlow deploys images, it does not build them",
        "build and push the image, then name it:\n  image: registry.example.com/{service}:1.0.0",
    ),
    "build_ignored": _Rule(
        "info",
        "build: is ignored; the image {image} must exist in a registry or on the target",
        "push the image before deploying; build: can stay for local development",
    ),
    "image_unpinned": _Rule(
        "warning",
        "image {image} {why}: a redeploy may silently run another version",
        "image: {repository}:<version>   # or {repository}@sha256:<digest>",
    ),
    "missing_restart_policy": _Rule(
        "warning",
        "has no restart policy: after a crash or a host reboot it stays down",
        "restart: unless-stopped",
    ),
    "missing_healthcheck": _Rule(
        "warning",
        "has no healthcheck (unless its image defines one): a hung process looks fine and "
        "dependants cannot wait for it to be ready",
        "healthcheck:\n  test: {test}\n  interval: 10s\n  timeout: 3s\n  retries: 5\n"
        "  start_period: 20s",
    ),
    "healthcheck_disabled": _Rule(
        "info",
        "disables its healthcheck: failures only show when the process exits",
        "remove disable: true and give it a test: command",
    ),
    "missing_resource_limits": _Rule(
        "warning",
        "has no {missing} limit: one runaway container can starve the whole host",
        'deploy:\n  resources:\n    limits: {{cpus: "0.50", memory: 256M}}',
    ),
    # Alone, a missing CPU limit is a note: memory exhaustion is what takes a host down.
    "missing_cpu_limit": _Rule(
        "info",
        "has a memory limit but no CPU limit: a busy loop can slow every other service",
        'deploy:\n  resources:\n    limits: {{cpus: "0.50"}}',
    ),
    "privileged": _Rule(
        "warning",
        "runs privileged: it gets every capability and the host's devices, so whoever "
        "compromises it owns the host",
        "remove privileged: true and add only what it needs, e.g.\n  cap_add: [NET_ADMIN]",
    ),
    "host_network": _Rule(
        "warning",
        "uses the host's network: no isolation, and every port it opens is reachable",
        'remove network_mode: host and publish what is needed:\n  ports: ["127.0.0.1:8080:8080"]',
    ),
    "host_namespace": _Rule(
        "warning",
        "shares the host's {key} namespace: it sees and can signal host processes",
        "remove {key}: host",
    ),
    "docker_socket": _Rule(
        "warning",
        "mounts the Docker socket at {target}: that is root on the host, read-only or not",
        "remove the mount; if it must use Docker, put a socket proxy that allows only the "
        "API calls it needs in between",
    ),
    "container_name": _Rule(
        "warning",
        "sets container_name: it cannot be scaled and the name can clash with another stack",
        "remove container_name; containers are then named {stack}-{service}-N",
    ),
    "port_all_interfaces": _Rule(
        "info",
        "publishes port {target} on every interface (host port {published}); if only a "
        "proxy on this host needs it, bind it to 127.0.0.1",
        'ports: ["127.0.0.1:{published}:{target}"]   # or label the service '
        'windflow.lint.public: "true" when it is meant to be public',
    ),
    "runs_as_root": _Rule(
        "info",
        "sets no user: unless its image switches user, it runs as root, so a breakout "
        "starts with root's rights",
        'user: "1000:1000"   # a user the image supports',
    ),
    "writable_root_fs": _Rule(
        "info",
        "has a writable root filesystem: an intruder can change binaries and config",
        "read_only: true\ntmpfs: [/tmp]   # and volumes for what it must write",
    ),
    "privilege_escalation": _Rule(
        "info",
        "allows privilege escalation (setuid binaries can gain rights)",
        "security_opt: [no-new-privileges:true]",
    ),
    "capabilities_kept": _Rule(
        "info",
        "keeps Docker's default capabilities; most services need none of them",
        "cap_drop: [ALL]\ncap_add: [NET_BIND_SERVICE]   # only what it really needs",
    ),
    "sensitive_host_mount": _Rule(
        "warning",
        "mounts the host path {source} at {target}: it can read or change the host's {what}",
        "mount a named volume or a specific file instead of {source}",
    ),
    "obsolete_version": _Rule(
        "info",
        "the top-level version: key is obsolete and ignored by Compose",
        "remove the version: line",
    ),
    "database_port_exposed": _Rule(
        "warning",
        "publishes {db} port {target} on every interface (host port {published}): anyone who "
        "reaches the host can try to log in",
        'ports: ["127.0.0.1:{published}:{target}"]   # or drop ports: and use the service name',
    ),
}


class _Checker:
    """Rules over one parsed stack; ``document`` gives lines and the raw values."""

    def __init__(self, stack: Stack, document: Document) -> None:
        self.stack = stack
        self.document = document
        self.findings: list[LintFinding] = []
        self.jobs = {
            dependency
            for service in stack.services.values()
            for dependency, condition in service.depends_on.items()
            if condition == "service_completed_successfully"
        }

    def add(self, rule: str, svc: Service, at: str, **fields: object) -> None:
        template = _RULES[rule]
        values = {"service": svc.name, "stack": self.stack.name, "image": svc.image, **fields}
        self.findings.append(
            LintFinding(
                rule=rule,
                severity=template.severity,
                service=svc.name,
                message=f"{svc.name}: " + template.message.format(**values),
                fix=template.fix.format(**values),
                # A missing key has no line; line_of then gives the service's own line.
                line=self.document.line_of(("services", svc.name, at)),
            )
        )

    def run(self) -> list[LintFinding]:
        for svc in self.stack.services.values():
            self.image(svc)
            self.lifecycle(svc)
            self.isolation(svc)
        return self.findings

    def image(self, svc: Service) -> None:
        if svc.image is None:
            if svc.build is not None:
                self.add("build_without_image", svc, "build")
            return
        if svc.build is not None:
            self.add("build_ignored", svc, "build")
        repository = _repository(svc.image)
        tag = svc.image[len(repository) + 1 :]
        if "@" not in svc.image and tag in ("", "latest"):
            why = "uses the moving tag :latest" if tag else "has no tag (so it means :latest)"
            self.add("image_unpinned", svc, "image", why=why, repository=repository)
        db = _database(svc.image)
        public = svc.labels.get(PUBLIC_LABEL, "").lower() in ("true", "1", "yes")
        for port in svc.ports:
            if port.published is None or port.host_ip not in (None, "", "0.0.0.0", "::"):
                continue
            if db:
                self.add(
                    "database_port_exposed",
                    svc,
                    "ports",
                    db=db,
                    target=port.target,
                    published=port.published,
                )
            elif not public:
                self.add(
                    "port_all_interfaces",
                    svc,
                    "ports",
                    target=port.target,
                    published=port.published,
                )

    def lifecycle(self, svc: Service) -> None:
        limits = svc.deploy.limits
        memory = limits.memory is not None or "mem_limit" in svc.extras
        cpus = limits.cpus is not None or "cpus" in svc.extras
        if not memory:
            missing = "memory" if cpus else "memory or CPU"
            self.add("missing_resource_limits", svc, "deploy", missing=missing)
        elif not cpus:
            self.add("missing_cpu_limit", svc, "deploy")
        policy = svc.deploy.restart_policy
        never = svc.restart == "no" or (policy is not None and policy.condition == "none")
        if svc.name in self.jobs or never:
            return  # a one-shot job: it is meant to exit and has nothing to probe
        if svc.restart is None and policy is None:
            self.add("missing_restart_policy", svc, "restart")
        check = svc.healthcheck
        if check is not None and check.disable:
            self.add("healthcheck_disabled", svc, "healthcheck")
        elif check is None or not check.test:
            port = next((p.target for p in svc.ports), None) or 8080
            probe = f'["CMD", "wget", "-q", "-O-", "http://127.0.0.1:{port}/"]'
            test = _DB_HEALTHCHECKS.get(_database(svc.image) or "", probe)
            self.add("missing_healthcheck", svc, "healthcheck", test=test)

    def isolation(self, svc: Service) -> None:
        if svc.privileged:
            self.add("privileged", svc, "privileged")
        if svc.network_mode == "host":
            self.add("host_network", svc, "network_mode")
        for key in ("pid", "ipc"):
            if getattr(svc, key) == "host":
                self.add("host_namespace", svc, key, key=key)
        for mount in svc.volumes:
            if mount.type == "bind" and (mount.source or "").rstrip("/") in _DOCKER_SOCKETS:
                self.add("docker_socket", svc, "volumes", target=mount.target)
        if "container_name" in svc.extras:
            self.add("container_name", svc, "container_name")
        self.hardening(svc)

    def hardening(self, svc: Service) -> None:
        if svc.user in (None, "", "root", "0", "0:0"):
            self.add("runs_as_root", svc, "user")
        if not svc.read_only:
            self.add("writable_root_fs", svc, "read_only")
        if not any(o.replace("=", ":").startswith("no-new-privileges") for o in svc.security_opt):
            self.add("privilege_escalation", svc, "security_opt")
        if not svc.privileged and "ALL" not in {c.upper() for c in svc.cap_drop}:
            self.add("capabilities_kept", svc, "cap_drop")
        for mount in svc.volumes:
            source = (mount.source or "").rstrip("/") or "/"
            if mount.type == "bind" and source in _SENSITIVE_PATHS:
                what = _SENSITIVE_PATHS[source]
                self.add(
                    "sensitive_host_mount",
                    svc,
                    "volumes",
                    source=source,
                    target=mount.target,
                    what=what,
                )


def ignored_rules(stack: Stack) -> dict[str, set[str]]:
    """Per service, the rules its ``windflow.lint.ignore`` label silences ("all" for all)."""
    return {
        name: {r.strip() for r in svc.labels.get(IGNORE_LABEL, "").split(",") if r.strip()}
        for name, svc in stack.services.items()
    }


def suppress(
    findings: list[LintFinding], ignored: dict[str, set[str]]
) -> tuple[list[LintFinding], list[str]]:
    """Findings a service's label silences are counted, never dropped unseen; errors that
    make the file unusable cannot be silenced."""
    kept: list[LintFinding] = []
    silenced: list[str] = []
    for finding in findings:
        rules = ignored.get(finding.service or "", set())
        unusable = finding.rule in ("yaml_syntax", "invalid_compose", "build_without_image")
        if not unusable and (finding.rule in rules or "all" in rules):
            silenced.append(f"{finding.service}/{finding.rule}")
        else:
            kept.append(finding)
    return kept, silenced


def _scrub(finding: LintFinding, secrets: list[str]) -> LintFinding:
    message, fix = finding.message, finding.fix
    for value in secrets:
        message, fix = message.replace(value, MASK), fix.replace(value, MASK)
    return finding.model_copy(update={"message": message, "fix": fix})


def _score(findings: list[LintFinding]) -> int:
    costs: dict[tuple[str, str], int] = {}
    for f in findings:
        costs[f.rule, f.severity] = costs.get((f.rule, f.severity), 0) + PENALTY[f.severity]
    capped = (
        min(cost, PENALTY[severity] * MAX_RULE_PENALTY) for (_, severity), cost in costs.items()
    )
    return max(0, 100 - sum(capped))


def _summary(findings: list[LintFinding], services: int | None, score: int) -> str:
    errors = [f for f in findings if f.severity == "error"]
    if services is None:
        return f"The compose file cannot be used: {errors[0].message}."
    if not findings:
        return f"No problems found in {services} service(s); score 100/100."
    counts = ", ".join(
        f"{n} {label}"
        for label, n in (
            ("error(s)", len(errors)),
            ("warning(s)", sum(f.severity == "warning" for f in findings)),
            ("note(s)", sum(f.severity == "info" for f in findings)),
        )
        if n
    )
    advice = " Fix the errors before deploying." if errors else ""
    return f"{counts} in {services} service(s); score {score}/100.{advice}"


def lint(compose: str, name: str = "stack") -> LintReport:
    """Check compose text; never raises for a bad file, it reports it."""
    findings: list[LintFinding] = []
    services: int | None = None
    secrets: list[str] = []
    suppressed: list[str] = []
    try:
        document = parse(compose)
        found = _secrets(document)
        # Parse errors may quote values; every secret-looking one is masked, longest first.
        secrets = sorted({s.value for s in found if len(s.value) >= 4}, key=len, reverse=True)
        findings += [
            LintFinding(
                rule="plaintext_secret",
                severity="error",
                service=s.service,
                line=s.line,
                message=f"{s.service}: environment {s.key} holds a literal secret; it ends up "
                "in the deployment history and in anything that reads the file",
                fix=f"{s.key}: ${{{s.key}}}   # pass the value at deploy time, or use "
                f"secrets: and {s.key}_FILE",
            )
            for s in found
            if s.literal
        ]
        # Required variables get a stand-in so the rest of the file can still be checked.
        required = sorted(set(_REQUIRED_VARIABLE.findall(compose)))
        stack = load_stack(compose, name=name, env=dict.fromkeys(required, "1"))
    except InvalidInput as exc:
        findings = [*findings, *_parse_findings(exc)]
    else:
        services = len(stack.services)
        if "version" in document.data:
            findings.append(
                LintFinding(
                    rule="obsolete_version",
                    severity=_RULES["obsolete_version"].severity,
                    message=_RULES["obsolete_version"].message,
                    fix=_RULES["obsolete_version"].fix,
                    line=document.line_of(("version",)),
                )
            )
        findings += _Checker(stack, document).run()
        findings, suppressed = suppress(findings, ignored_rules(stack))
        if required:
            findings.append(
                LintFinding(
                    rule="required_variables",
                    severity="info",
                    message=f"needs values for {', '.join(required)} at deploy time",
                    fix="pass them in the deploy's env",
                )
            )
    findings = [_scrub(f, secrets) for f in findings]
    findings.sort(key=lambda f: (RANK[f.severity], f.service or "", f.line or 0))
    score = 0 if services is None else _score(findings)
    return LintReport(
        stack=name,
        ok=not any(f.severity == "error" for f in findings),
        score=score,
        summary=_summary(findings, services, score),
        findings=findings,
        suppressed=suppressed,
    )


@tool(risk="read", permission="stacks:read", targets=set())
async def lint_compose(ctx: ToolContext, args: LintInput) -> LintReport:
    """Check a docker-compose file for mistakes and risky settings before deploying it.

    Reports parse and schema errors with their line, and rules such as unpinned images
    (no tag or :latest), missing restart policy, healthcheck or memory/CPU limits,
    privileged containers, host networking, a mounted Docker socket, secrets written in
    plain environment values (never repeated back), databases published on all interfaces,
    container_name, and build: without image:. Each finding has a concrete fix; ``ok`` is
    false when any finding is an error. Needs no target: it only reads the text.
    """
    return lint(args.compose, args.name)
