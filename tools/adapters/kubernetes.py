"""A Kubernetes namespace as a target: manifests applied with server-side apply.

Every object WindFlow applies is labelled ``app.kubernetes.io/part-of=<stack>`` and
``app.kubernetes.io/managed-by=windflow``, which is how status, events and deletion find
a stack again. A failed apply deletes what that call created: no half-applied stacks.
"""

from __future__ import annotations

import asyncio
import difflib
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import (
    DynamicApiError,
    NotFoundError,
    ResourceNotFoundError,
)
from pydantic import BaseModel, Field
from urllib3.exceptions import HTTPError

from tools.adapters.protocol import (
    LogLines,
    OrchestratorEvent,
    ScaleOutcome,
    ServiceStatus,
    StackStatus,
    Workload,
)
from tools.bounded import bound_lines
from tools.connectivity import CheckResult, check
from tools.targets import TargetKind, TargetSpec
from windflow.errors import InvalidInput, NotFound, OrchestratorError, TargetUnreachable

T = TypeVar("T")
PART_OF = "app.kubernetes.io/part-of"
MANAGED_BY = "app.kubernetes.io/managed-by"
REVISION = "deployment.kubernetes.io/revision"
FIELD_MANAGER = "windflow"
TIMEOUT = 15
DELETABLE = [
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "PersistentVolumeClaim"),
    ("networking.k8s.io/v1", "Ingress"),
]
WORKLOAD_KINDS = {
    "Deployment": "deployment",
    "StatefulSet": "statefulset",
    "DaemonSet": "daemonset",
}
_VOLATILE_METADATA = (
    "managedFields",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "uid",
    "selfLink",
)


class AppliedObject(BaseModel):
    kind: str
    name: str
    action: str = Field(description="created, configured or unchanged")


class ApplyOutcome(BaseModel):
    stack: str
    namespace: str
    objects: list[AppliedObject]
    diff: str = ""


class RolloutStatus(BaseModel):
    deployment: str
    desired: int
    updated: int
    ready: int
    available: int
    observed_generation_current: bool
    complete: bool
    stuck: bool
    message: str = ""


def parse_manifests(manifests: list[dict[str, Any]] | str) -> list[dict[str, Any]]:
    if isinstance(manifests, str):
        try:
            documents = [d for d in yaml.safe_load_all(manifests) if d is not None]
        except yaml.YAMLError as exc:
            raise InvalidInput(f"the manifests are not valid YAML: {exc}") from exc
    else:
        documents = list(manifests)
    for index, document in enumerate(documents):
        if not isinstance(document, dict):
            raise InvalidInput(f"manifest #{index} is not a mapping")
        missing = [k for k in ("apiVersion", "kind") if not document.get(k)]
        if not (document.get("metadata") or {}).get("name"):
            missing.append("metadata.name")
        if missing:
            raise InvalidInput(
                f"manifest #{index} ({document.get('kind', '?')}) lacks {', '.join(missing)}",
                hint="every object needs apiVersion, kind and metadata.name",
            )
    return documents


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    cleaned = {k: v for k, v in obj.items() if k != "status"}
    metadata = {
        k: v for k, v in (cleaned.get("metadata") or {}).items() if k not in _VOLATILE_METADATA
    }
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k != REVISION}
    metadata["annotations"] = annotations or None
    cleaned["metadata"] = {k: v for k, v in metadata.items() if v is not None}
    return cleaned


def _yaml(obj: dict[str, Any] | None) -> list[str]:
    if obj is None:
        return []
    return yaml.safe_dump(_clean(obj), sort_keys=True).splitlines(keepends=True)


class KubernetesAdapter:
    kind = TargetKind.KUBERNETES

    def __init__(self, target: TargetSpec) -> None:
        self.target = target
        self.namespace: str = target.connection.get("namespace", "default")
        self._api: k8s.ApiClient | None = None
        self._dynamic: DynamicClient | None = None

    def _client(self) -> k8s.ApiClient:
        if self._api is None:
            kubeconfig = self.target.secrets.get("kubeconfig")
            if kubeconfig:
                self._api = k8s_config.new_client_from_config_dict(
                    yaml.safe_load(kubeconfig), context=self.target.connection.get("context")
                )
            else:
                url = self.target.connection.get("api_url")
                if not url:
                    raise InvalidInput(
                        f"target {self.target.name} has neither api_url nor a kubeconfig",
                        hint="set connection.api_url and secrets.token, or secrets.kubeconfig",
                    )
                configuration = k8s.Configuration()
                configuration.host = url
                configuration.verify_ssl = bool(self.target.connection.get("verify_tls", True))
                ca_cert = self.target.secrets.get("ca_cert")
                if ca_cert:
                    with tempfile.NamedTemporaryFile("w", suffix=".crt", delete=False) as file:
                        file.write(ca_cert)
                    configuration.ssl_ca_cert = file.name
                token = self.target.secrets.get("token")
                if token:
                    configuration.api_key = {"authorization": f"Bearer {token}"}
                configuration.retries = 1
                self._api = k8s.ApiClient(configuration)
        return self._api

    def _dyn(self) -> DynamicClient:
        if self._dynamic is None:
            self._dynamic = DynamicClient(self._client())
        return self._dynamic

    async def _run(self, work: Callable[[], T]) -> T:
        def guarded() -> T:
            try:
                return work()
            except (InvalidInput, NotFound, OrchestratorError):
                raise
            except (k8s.ApiException, DynamicApiError) as exc:
                status = getattr(exc, "status", None)
                reason = _api_message(exc)
                if status in (401, 403):
                    raise OrchestratorError(
                        f"the Kubernetes API refused WindFlow's credentials ({status}): {reason}",
                        hint="check the target's token or kubeconfig and its RBAC rights",
                    ) from exc
                raise OrchestratorError(f"the Kubernetes API answered {status}: {reason}") from exc
            except (HTTPError, OSError) as exc:
                raise TargetUnreachable(
                    f"cannot reach the Kubernetes API of {self.target.name}: {exc}",
                    hint="check the api_url and that the cluster is up",
                ) from exc

        return await asyncio.to_thread(guarded)

    async def check(self) -> CheckResult:
        return await check(self.target)

    # --- apply ----------------------------------------------------------------------

    def _resource(self, document: dict[str, Any]) -> Any:
        try:
            resource = self._dyn().resources.get(
                api_version=document["apiVersion"], kind=document["kind"]
            )
        except ResourceNotFoundError as exc:
            raise InvalidInput(
                f"{document['apiVersion']}/{document['kind']} is not a kind this cluster knows",
                hint="check apiVersion and kind against the cluster's version",
            ) from exc
        if not resource.namespaced and document["kind"] != "Namespace":
            raise InvalidInput(
                f"{document['kind']} {document['metadata']['name']} is cluster-scoped; "
                "WindFlow applies only namespaced objects",
            )
        wanted = document["metadata"].get("namespace")
        if resource.namespaced and wanted not in (None, self.namespace):
            raise InvalidInput(
                f"{document['kind']} {document['metadata']['name']} names namespace {wanted!r}, "
                f"but the target's namespace is {self.namespace!r}",
                hint="remove metadata.namespace or use a target for that namespace",
            )
        return resource

    def _live(self, resource: Any, name: str) -> dict[str, Any] | None:
        try:
            namespace = self.namespace if resource.namespaced else None
            return dict(resource.get(name=name, namespace=namespace).to_dict())
        except NotFoundError:
            return None

    def _apply(self, stack: str, documents: list[dict[str, Any]], dry_run: bool) -> ApplyOutcome:
        outcome = ApplyOutcome(stack=stack, namespace=self.namespace, objects=[])
        created: list[tuple[Any, str]] = []
        diff: list[str] = []
        for index, raw in enumerate(documents):
            document = _labelled(raw, stack)
            resource = self._resource(document)
            name = document["metadata"]["name"]
            live = self._live(resource, name)
            try:
                result = (
                    self._dyn()
                    .server_side_apply(
                        resource,
                        body=document,
                        name=name,
                        namespace=self.namespace if resource.namespaced else None,
                        field_manager=FIELD_MANAGER,
                        force_conflicts=True,
                        dry_run="All" if dry_run else None,
                    )
                    .to_dict()
                )
            except DynamicApiError as exc:
                if not dry_run:
                    self._delete_objects(created)
                raise OrchestratorError(
                    f"manifest #{index} ({document['kind']} {name}) was rejected: "
                    f"{_api_message(exc)}",
                    hint="fix the manifest; objects this apply created were removed again",
                ) from exc
            before, after = _yaml(live), _yaml(result)
            if live is None:
                action = "created"
                if not dry_run:
                    created.append((resource, name))
            else:
                action = "unchanged" if before == after else "configured"
            diff.extend(
                difflib.unified_diff(
                    before,
                    after,
                    fromfile=f"{document['kind']}/{name} (live)",
                    tofile=f"{document['kind']}/{name} (applied)",
                )
            )
            outcome.objects.append(AppliedObject(kind=document["kind"], name=name, action=action))
        outcome.diff = "".join(diff)
        return outcome

    async def apply(
        self, stack: str, manifests: list[dict[str, Any]] | str, *, dry_run: bool = False
    ) -> ApplyOutcome:
        documents = parse_manifests(manifests)
        return await self._run(lambda: self._apply(stack, documents, dry_run))

    def _delete_objects(self, objects: list[tuple[Any, str]]) -> None:
        for resource, name in reversed(objects):
            try:
                resource.delete(name=name, namespace=self.namespace)
            except (NotFoundError, DynamicApiError):
                continue

    # --- reads ----------------------------------------------------------------------

    def _selector(self, stack: str) -> str:
        return f"{PART_OF}={stack}"

    def _workloads(self, stack: str | None) -> list[Any]:
        apps = k8s.AppsV1Api(self._client())
        selector = self._selector(stack) if stack else None
        found: list[Any] = []
        for lister in (
            apps.list_namespaced_deployment,
            apps.list_namespaced_stateful_set,
            apps.list_namespaced_daemon_set,
        ):
            found.extend(
                lister(self.namespace, label_selector=selector, _request_timeout=TIMEOUT).items
            )
        return found

    def _pods(self, stack: str) -> list[Any]:
        core = k8s.CoreV1Api(self._client())
        return list(
            core.list_namespaced_pod(
                self.namespace, label_selector=self._selector(stack), _request_timeout=TIMEOUT
            ).items
        )

    async def inventory(self) -> Any:
        from tools.adapters.protocol import Inventory

        def work() -> Inventory:
            return Inventory(
                workloads=[
                    Workload(
                        name=w.metadata.name,
                        kind=WORKLOAD_KINDS.get(
                            w.kind or type(w).__name__.removeprefix("V1"), "deployment"
                        ),  # type: ignore[arg-type]
                        stack=(w.metadata.labels or {}).get(PART_OF),
                        state=_workload_state(w),
                        image=w.spec.template.spec.containers[0].image,
                    )
                    for w in self._workloads(None)
                ]
            )

        return await self._run(work)

    async def status(self, stack: str) -> StackStatus:
        def work() -> StackStatus:
            pods = self._pods(stack)
            services = []
            for workload in self._workloads(stack):
                mine = [p for p in pods if _owned_by(p, workload, pods)]
                services.append(_service_status(workload, mine))
            return StackStatus(stack=stack, services=sorted(services, key=lambda s: s.name))

        return await self._run(work)

    async def pods(self, stack: str) -> list[dict[str, Any]]:
        def work() -> list[dict[str, Any]]:
            return [
                {
                    "name": p.metadata.name,
                    "phase": p.status.phase,
                    "reasons": _waiting_reasons(p),
                    "node": p.spec.node_name,
                }
                for p in self._pods(stack)
            ]

        return await self._run(work)

    async def logs(
        self, stack: str, pod: str, *, container: str | None, tail: int, since_seconds: int | None
    ) -> LogLines:
        def work() -> LogLines:
            core = k8s.CoreV1Api(self._client())
            found = core.read_namespaced_pod(pod, self.namespace, _request_timeout=TIMEOUT)
            if (found.metadata.labels or {}).get(PART_OF) != stack:
                raise NotFound(f"pod {pod} is not part of stack {stack}")
            if not found.spec.node_name or found.status.phase == "Pending":
                raise OrchestratorError(
                    f"pod {pod} has no running container (phase {found.status.phase}, "
                    f"node {found.spec.node_name or 'none'}): there are no logs yet",
                    hint="check the pod's events: it may be unschedulable or pulling its image",
                )
            text = core.read_namespaced_pod_log(
                pod,
                self.namespace,
                container=container,
                tail_lines=tail,
                since_seconds=since_seconds,
                _request_timeout=TIMEOUT,
            )
            kept, truncated = bound_lines(str(text).splitlines(), tail)
            return LogLines(resource=f"{stack}/{pod}", lines=kept, truncated=truncated)

        return await self._run(work)

    async def events(self, stack: str, *, since_seconds: int) -> list[OrchestratorEvent]:
        def work() -> list[OrchestratorEvent]:
            core = k8s.CoreV1Api(self._client())
            names = {w.metadata.name for w in self._workloads(stack)}
            names |= {p.metadata.name for p in self._pods(stack)}
            apps = k8s.AppsV1Api(self._client())
            names |= {
                rs.metadata.name
                for rs in apps.list_namespaced_replica_set(
                    self.namespace, label_selector=self._selector(stack), _request_timeout=TIMEOUT
                ).items
            }
            cutoff = datetime.now(UTC) - timedelta(seconds=since_seconds)
            events = []
            for event in core.list_namespaced_event(self.namespace, _request_timeout=TIMEOUT).items:
                when = event.last_timestamp or event.event_time or event.metadata.creation_timestamp
                if event.involved_object.name not in names or (when and when < cutoff):
                    continue
                events.append(
                    OrchestratorEvent(
                        time=when,
                        type=event.type or "",
                        action=event.reason or "",
                        resource=f"{event.involved_object.kind}/{event.involved_object.name}",
                        message=event.message or "",
                    )
                )
            return sorted(events, key=lambda e: e.time or cutoff)

        return await self._run(work)

    def _deployment(self, stack: str, name: str) -> Any:
        apps = k8s.AppsV1Api(self._client())
        try:
            deployment = apps.read_namespaced_deployment(
                name, self.namespace, _request_timeout=TIMEOUT
            )
        except k8s.ApiException as exc:
            if exc.status == 404:
                raise NotFound(f"deployment {name} not found in {self.namespace}") from exc
            raise
        if (deployment.metadata.labels or {}).get(PART_OF) != stack:
            raise NotFound(f"deployment {name} is not part of stack {stack}")
        return deployment

    async def rollout_status(self, stack: str, deployment: str) -> RolloutStatus:
        def work() -> RolloutStatus:
            found = self._deployment(stack, deployment)
            status, desired = found.status, found.spec.replicas or 0
            conditions = {c.type: c for c in status.conditions or []}
            progressing = conditions.get("Progressing")
            stuck = bool(progressing and progressing.reason == "ProgressDeadlineExceeded")
            current = (status.observed_generation or 0) >= (found.metadata.generation or 0)
            updated, ready = status.updated_replicas or 0, status.ready_replicas or 0
            available = status.available_replicas or 0
            return RolloutStatus(
                deployment=deployment,
                desired=desired,
                updated=updated,
                ready=ready,
                available=available,
                observed_generation_current=current,
                complete=current and updated == desired and available == desired and not stuck,
                stuck=stuck,
                message=progressing.message if progressing else "",
            )

        return await self._run(work)

    # --- mutations --------------------------------------------------------------------

    async def scale(self, stack: str, service: str, replicas: int) -> ScaleOutcome:
        def work() -> ScaleOutcome:
            before = self._deployment(stack, service).spec.replicas or 0
            k8s.AppsV1Api(self._client()).patch_namespaced_deployment_scale(
                service, self.namespace, {"spec": {"replicas": replicas}}, _request_timeout=TIMEOUT
            )
            return ScaleOutcome(service=service, replicas_before=before, replicas_after=replicas)

        return await self._run(work)

    async def rollout_undo(
        self, stack: str, deployment: str, to_revision: int | None = None
    ) -> int:
        """Put the pod template of an earlier ReplicaSet back (kubectl rollout undo)."""

        def work() -> int:
            found = self._deployment(stack, deployment)
            current = int((found.metadata.annotations or {}).get(REVISION, "0"))
            apps = k8s.AppsV1Api(self._client())
            owned = [
                rs
                for rs in apps.list_namespaced_replica_set(
                    self.namespace, _request_timeout=TIMEOUT
                ).items
                if any(o.uid == found.metadata.uid for o in rs.metadata.owner_references or [])
            ]
            revisions = {
                int((rs.metadata.annotations or {}).get(REVISION, "0")): rs for rs in owned
            }
            wanted = to_revision or max((r for r in revisions if r < current), default=0)
            if wanted not in revisions or wanted == current:
                raise OrchestratorError(
                    f"deployment {deployment} has no revision {wanted or 'before ' + str(current)} "
                    "to roll back to",
                    hint=f"known revisions: {sorted(revisions) or 'none'}",
                )
            template = self._client().sanitize_for_serialization(revisions[wanted].spec.template)
            template.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
            apps.patch_namespaced_deployment(
                deployment,
                self.namespace,
                [{"op": "replace", "path": "/spec/template", "value": template}],
                _request_timeout=TIMEOUT,
            )
            return wanted

        return await self._run(work)

    async def delete(self, stack: str) -> list[str]:
        def work() -> list[str]:
            deleted: list[str] = []
            for api_version, kind in DELETABLE:
                try:
                    resource = self._dyn().resources.get(api_version=api_version, kind=kind)
                except ResourceNotFoundError:
                    continue
                items = resource.get(namespace=self.namespace, label_selector=self._selector(stack))
                for item in items.items:
                    resource.delete(
                        name=item.metadata.name,
                        namespace=self.namespace,
                        propagation_policy="Foreground",
                    )
                    deleted.append(f"{kind}/{item.metadata.name}")
            return deleted

        return await self._run(work)


def _labelled(document: dict[str, Any], stack: str) -> dict[str, Any]:
    labelled = yaml.safe_load(yaml.safe_dump(document))
    metadata = labelled.setdefault("metadata", {})
    metadata.setdefault("labels", {}).update({PART_OF: stack, MANAGED_BY: FIELD_MANAGER})
    template = (labelled.get("spec") or {}).get("template")
    if isinstance(template, dict):
        template.setdefault("metadata", {}).setdefault("labels", {})[PART_OF] = stack
    return dict(labelled)


def _api_message(exc: Exception) -> str:
    summary = getattr(exc, "summary", None)
    if callable(summary):
        return str(summary())
    body = getattr(exc, "body", None)
    return str(body or exc)[:500]


def _owned_by(pod: Any, workload: Any, _pods: list[Any]) -> bool:
    selector = workload.spec.selector.match_labels or {}
    labels = pod.metadata.labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def _waiting_reasons(pod: Any) -> list[str]:
    reasons = []
    for status in pod.status.container_statuses or []:
        state = status.state
        if state and state.waiting and state.waiting.reason:
            reasons.append(state.waiting.reason)
        elif state and state.terminated and state.terminated.reason:
            reasons.append(state.terminated.reason)
    for condition in pod.status.conditions or []:
        if condition.type == "PodScheduled" and condition.status == "False" and condition.reason:
            reasons.append(condition.reason)
    return reasons


def _workload_state(workload: Any) -> str:
    desired = workload.spec.replicas if hasattr(workload.spec, "replicas") else None
    ready = getattr(workload.status, "ready_replicas", None) or 0
    if desired is None:
        return "running" if ready else "pending"
    return "running" if ready >= desired else ("degraded" if ready else "pending")


def _service_status(workload: Any, pods: list[Any]) -> ServiceStatus:
    desired = getattr(workload.spec, "replicas", None) or 0
    ready = getattr(workload.status, "ready_replicas", None) or 0
    reasons = sorted({r for p in pods for r in _waiting_reasons(p)})
    restarts = sum(s.restart_count or 0 for p in pods for s in p.status.container_statuses or [])
    failing = {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "OOMKilled",
        "CreateContainerConfigError",
        "Error",
    }
    if ready >= desired and desired > 0:
        state = "running"
    elif failing & set(reasons):
        state = "failed"
    elif ready:
        state = "degraded"
    else:
        state = "pending"
    return ServiceStatus(
        name=workload.metadata.name,
        state=state,
        desired=desired,
        running=ready,
        image=workload.spec.template.spec.containers[0].image,
        restarts=restarts,
        message=", ".join(reasons) or None,
    )
