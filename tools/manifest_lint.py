"""Review Kubernetes manifests before they are applied: the checks kube-score, Polaris and
kube-linter document (rule ideas only), with stable rule slugs, a why and a how.

An object silences rules with the annotation ``windflow.io/lint-ignore: "rule,rule"`` (on
the object or its pod template); silenced findings are listed as such, never dropped.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from pydantic import Field

from tools.base import ToolContext, ToolInput, tool
from tools.compose_lint import MAX_COMPOSE_CHARS, RANK, LintFinding, LintReport, _score
from windflow.errors import InvalidInput

IGNORE_ANNOTATION = "windflow.io/lint-ignore"
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
# (apiVersion, kind) -> the Kubernetes version that stopped serving it, and the replacement.
REMOVED_APIS: dict[tuple[str, str], tuple[str, str]] = {
    ("extensions/v1beta1", "Deployment"): ("1.16", "apps/v1"),
    ("apps/v1beta1", "Deployment"): ("1.16", "apps/v1"),
    ("apps/v1beta2", "Deployment"): ("1.16", "apps/v1"),
    ("extensions/v1beta1", "DaemonSet"): ("1.16", "apps/v1"),
    ("apps/v1beta2", "StatefulSet"): ("1.16", "apps/v1"),
    ("extensions/v1beta1", "Ingress"): ("1.22", "networking.k8s.io/v1"),
    ("networking.k8s.io/v1beta1", "Ingress"): ("1.22", "networking.k8s.io/v1"),
    ("batch/v1beta1", "CronJob"): ("1.25", "batch/v1"),
    ("policy/v1beta1", "PodDisruptionBudget"): ("1.25", "policy/v1"),
    ("policy/v1beta1", "PodSecurityPolicy"): ("1.25", "Pod Security admission"),
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler"): ("1.26", "autoscaling/v2"),
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler"): ("1.25", "autoscaling/v2"),
}
SENSITIVE_HOST_PATHS = ("/", "/etc", "/root", "/proc", "/sys", "/var/run", "/run", "/dev")
_SECRET_NAME = re.compile(r"passw(or)?d|secret|token|api_?key|private_?key|credential", re.I)


class LintManifestsInput(ToolInput):
    manifests: str = Field(max_length=MAX_COMPOSE_CHARS, description="Kubernetes YAML documents")


def _pod_spec(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(pod spec, pod template metadata) of a workload, or None."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec, obj.get("metadata") or {}
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template") or {}
    return (template.get("spec") or {}), (template.get("metadata") or {})


class _Checker:
    def __init__(self, objects: list[tuple[int, dict[str, Any]]]) -> None:
        self.objects = objects
        self.findings: list[LintFinding] = []
        self.suppressed: list[str] = []

    def add(
        self, obj: dict[str, Any], number: int, rule: str, severity: str, message: str, fix: str
    ) -> None:
        name = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name', '?')}"
        annotations = dict((obj.get("metadata") or {}).get("annotations") or {})
        pod = _pod_spec(obj) if obj.get("kind") in WORKLOADS else None
        if pod is not None:
            annotations.update(pod[1].get("annotations") or {})
        ignored = {r.strip() for r in str(annotations.get(IGNORE_ANNOTATION, "")).split(",")}
        if rule in ignored or "all" in ignored:
            self.suppressed.append(f"{name}/{rule}")
            return
        self.findings.append(
            LintFinding(
                rule=rule,
                severity=severity,
                service=name,
                message=f"{name} (document {number}): {message}",
                fix=fix,
            )
        )

    def run(self) -> None:
        kinds = {o.get("kind") for _, o in self.objects}
        budgets = [o for _, o in self.objects if o.get("kind") == "PodDisruptionBudget"]
        for number, obj in self.objects:
            moved = REMOVED_APIS.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
            if moved:
                self.add(
                    obj,
                    number,
                    "deprecated_api",
                    "error",
                    f"{obj.get('apiVersion')} {obj.get('kind')} is no longer served "
                    f"since Kubernetes {moved[0]}",
                    f"apiVersion: {moved[1]}",
                )
            if obj.get("kind") in WORKLOADS:
                self.workload(number, obj, budgets)
        if any(k in WORKLOADS for k in kinds) and "NetworkPolicy" not in kinds:
            number, first = next((n, o) for n, o in self.objects if o.get("kind") in WORKLOADS)
            self.add(
                first,
                number,
                "no_network_policy",
                "info",
                "no NetworkPolicy comes with these workloads: every pod can reach them",
                "add a NetworkPolicy that allows only the callers they need",
            )

    def workload(self, number: int, obj: dict[str, Any], budgets: list[dict[str, Any]]) -> None:
        found = _pod_spec(obj)
        if found is None:
            return
        pod, _ = found
        spec = obj.get("spec") or {}
        if obj.get("kind") == "Deployment":
            replicas = spec.get("replicas", 1)
            if isinstance(replicas, int) and replicas < 2:
                self.add(
                    obj,
                    number,
                    "single_replica",
                    "info",
                    f"runs {replicas} replica: a node drain or a crash takes it down",
                    "replicas: 2   # with a PodDisruptionBudget",
                )
            labels = ((spec.get("selector") or {}).get("matchLabels")) or {}
            covered = any(
                labels
                and ((b.get("spec") or {}).get("selector") or {}).get("matchLabels", {}).items()
                <= labels.items()
                for b in budgets
            )
            if isinstance(replicas, int) and replicas >= 2 and not covered:
                self.add(
                    obj,
                    number,
                    "no_pod_disruption_budget",
                    "warning",
                    "has several replicas but no PodDisruptionBudget: a drain may stop "
                    "them all at once",
                    "add a PodDisruptionBudget with minAvailable: 1 for its labels",
                )
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.get(key):
                self.add(
                    obj,
                    number,
                    "host_namespace",
                    "warning",
                    f"sets {key}: it shares the node's namespace",
                    f"remove {key}: true",
                )
        for volume in pod.get("volumes") or []:
            path = str(((volume.get("hostPath") or {}).get("path")) or "")
            sensitive = path and (path.rstrip("/") or "/") in SENSITIVE_HOST_PATHS
            if sensitive or "docker.sock" in path:
                self.add(
                    obj,
                    number,
                    "sensitive_host_mount",
                    "warning",
                    f"mounts the node's {path}",
                    "use a PersistentVolumeClaim or a ConfigMap instead of hostPath",
                )
        pod_context = pod.get("securityContext") or {}
        for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
            self.container(number, obj, container, pod_context)

    def container(
        self, number: int, obj: dict[str, Any], c: dict[str, Any], pod_ctx: dict[str, Any]
    ) -> None:
        name = c.get("name", "?")
        image = str(c.get("image") or "")
        tail = image.rsplit("/", 1)[-1]
        if "@" not in image and (":" not in tail or tail.endswith(":latest")):
            self.add(
                obj,
                number,
                "image_unpinned",
                "warning",
                f"container {name} runs {image or 'no image'} without a pinned tag",
                f"image: {image.split(':')[0] or 'repo'}:<version>",
            )
        resources = c.get("resources") or {}
        limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
        if "memory" not in limits or "cpu" not in requests or "memory" not in requests:
            self.add(
                obj,
                number,
                "missing_resources",
                "warning",
                f"container {name} lacks CPU/memory requests or a memory limit: the "
                "scheduler cannot place it well and it can starve its node",
                "resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 256Mi}}",
            )
        if "ephemeral-storage" not in limits:
            self.add(
                obj,
                number,
                "missing_ephemeral_storage_limit",
                "info",
                f"container {name} has no ephemeral-storage limit: logs or temp files "
                "can fill the node's disk",
                "limits: {ephemeral-storage: 1Gi}",
            )
        if obj.get("kind") not in ("Job", "CronJob", "Pod"):
            live, ready = c.get("livenessProbe"), c.get("readinessProbe")
            if not ready:
                self.add(
                    obj,
                    number,
                    "missing_readiness_probe",
                    "warning",
                    f"container {name} has no readiness probe: traffic reaches it before "
                    "it is ready",
                    "readinessProbe: {httpGet: {path: /ready, port: 8080}}",
                )
            if not live:
                self.add(
                    obj,
                    number,
                    "missing_liveness_probe",
                    "info",
                    f"container {name} has no liveness probe: a hung process is never restarted",
                    "livenessProbe: {httpGet: {path: /health, port: 8080}}",
                )
            elif live == ready:
                self.add(
                    obj,
                    number,
                    "identical_probes",
                    "warning",
                    f"container {name} uses the same liveness and readiness probe: a slow "
                    "dependency restarts it instead of taking it out of rotation",
                    "make liveness check only the process itself",
                )
        ctx = {**pod_ctx, **(c.get("securityContext") or {})}
        if ctx.get("privileged"):
            self.add(
                obj,
                number,
                "privileged",
                "error",
                f"container {name} is privileged: it owns the node",
                "remove privileged: true",
            )
        if not ctx.get("runAsNonRoot") and not ctx.get("runAsUser"):
            self.add(
                obj,
                number,
                "runs_as_root",
                "warning",
                f"container {name} may run as root",
                "securityContext: {runAsNonRoot: true}",
            )
        if not ctx.get("readOnlyRootFilesystem"):
            self.add(
                obj,
                number,
                "writable_root_fs",
                "info",
                f"container {name} has a writable root filesystem",
                "securityContext: {readOnlyRootFilesystem: true}",
            )
        if ctx.get("allowPrivilegeEscalation", True) is not False:
            self.add(
                obj,
                number,
                "privilege_escalation",
                "warning",
                f"container {name} allows privilege escalation",
                "securityContext: {allowPrivilegeEscalation: false}",
            )
        dropped = {str(x).upper() for x in (ctx.get("capabilities") or {}).get("drop") or []}
        if "ALL" not in dropped:
            self.add(
                obj,
                number,
                "capabilities_kept",
                "info",
                f"container {name} keeps the default capabilities",
                "securityContext: {capabilities: {drop: [ALL]}}",
            )
        for env in c.get("env") or []:
            if _SECRET_NAME.search(str(env.get("name"))) and "value" in env:
                self.add(
                    obj,
                    number,
                    "plaintext_secret",
                    "error",
                    f"container {name} sets {env.get('name')} as a plain value",
                    "valueFrom: {secretKeyRef: {name: <secret>, key: <key>}}",
                )


def lint_manifests_text(text: str, *, path: str = "manifests.yaml") -> LintReport:
    """Check Kubernetes YAML; a file that does not parse is a finding, not an exception."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        finding = LintFinding(
            rule="yaml_syntax",
            severity="error",
            line=line,
            message=f"{path}: line {line}: malformed YAML: {getattr(exc, 'problem', exc)}",
            fix="fix the YAML syntax",
        )
        return LintReport(
            stack=path, ok=False, score=0, summary=finding.message, findings=[finding]
        )
    objects = []
    for number, document in enumerate(documents, 1):
        if not isinstance(document, dict) or not document.get("kind"):
            raise InvalidInput(
                f"{path}: document {number} is not a Kubernetes object (no kind:)",
                hint="each YAML document needs apiVersion, kind and metadata.name",
            )
        objects.append((number, document))
    checker = _Checker(objects)
    checker.run()
    findings = sorted(checker.findings, key=lambda f: (RANK[f.severity], f.service or ""))
    score = _score(findings)
    errors = sum(f.severity == "error" for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    return LintReport(
        stack=path,
        ok=errors == 0,
        score=score,
        summary=f"{errors} error(s), {warnings} warning(s), "
        f"{len(findings) - errors - warnings} note(s) in {len(objects)} object(s); "
        f"score {score}/100.",
        findings=findings,
        suppressed=checker.suppressed,
    )


@tool(risk="read", permission="stacks:read", targets=set())
async def lint_kubernetes(ctx: ToolContext, args: LintManifestsInput) -> LintReport:
    """Check Kubernetes manifests before applying them: removed apiVersions, unpinned
    images, missing requests/limits and ephemeral-storage limits, missing or identical
    probes, root/privileged/escalating containers, kept capabilities, host namespaces and
    sensitive hostPath mounts, plain secret env values, single replicas, Deployments
    without a PodDisruptionBudget, no NetworkPolicy. Each finding says why and how to fix.
    Objects silence rules with the annotation windflow.io/lint-ignore. Needs no target."""
    return lint_manifests_text(args.manifests)
