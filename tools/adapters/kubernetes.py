"""A Kubernetes namespace as a target: manifests converge through server-side apply.

Every object WindFlow applies carries ``app.kubernetes.io/part-of=<stack>`` and
``app.kubernetes.io/managed-by=windflow`` (pod templates carry part-of too), which is how
status, events, logs and deletion find a stack again.

Requests go through one ``ApiClient`` per adapter, each with a timeout. Discovery is done
here, in memory, rather than by the dynamic client: its discovery requests carry no
timeout and are cached in a temp file shared by every process on the machine.

An apply first runs as a server-side dry run, so an invalid document is refused before
anything changes; if the real pass still fails on document N, the objects that call
created are deleted again.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from tools.adapters import kubernetes_objects as objects
from tools.adapters.kubernetes_manifests import (
    FIELD_MANAGER,
    NOISY_ANNOTATIONS,
    PART_OF,
    AppliedObject,
    ApplyOutcome,
    bounded_diff,
    check_name,
    check_stack,
    comparable,
    diff_objects,
    labelled,
    parse_manifests,
    selector,
    with_port_protocols,
)
from tools.adapters.kubernetes_objects import (
    ALIASES,
    DEPLOYMENT,
    EVENT,
    KINDS,
    NAMESPACE,
    POD,
    REPLICASET,
    WORKLOADS,
    ApiKind,
    DescribeResult,
    PodInfo,
    RolloutStatus,
    RolloutUndoOutcome,
)
from tools.adapters.protocol import (
    DeployOutcome,
    Inventory,
    LogLines,
    OrchestratorEvent,
    ScaleOutcome,
    ServiceStatus,
    StackStatus,
    Workload,
)
from tools.bounded import bound_items, bound_lines, bound_text
from tools.connectivity import CheckResult, check
from tools.targets import TargetKind, TargetSpec
from windflow.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    OrchestratorError,
    TargetUnreachable,
    WindFlowError,
)

T = TypeVar("T")
TIMEOUT = 15
MAX_INVENTORY = 500
LOG_LIMIT_BYTES = 4_000_000
API_VERSION = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?v[0-9]+((alpha|beta)[0-9]+)?$")


@dataclass
class _Doc:
    number: int
    kind: ApiKind
    name: str
    body: dict[str, Any]

    @property
    def label(self) -> str:
        return f"document {self.number} ({self.kind.kind} {self.name})"


class KubernetesAdapter:
    kind = TargetKind.KUBERNETES

    def __init__(self, spec: TargetSpec) -> None:
        self.spec = spec
        self.namespace: str = spec.connection.get("namespace", "default")
        self._api: k8s.ApiClient | None = None
        self._kinds: dict[str, dict[str, ApiKind]] = {}
        self._lock = threading.Lock()

    # --- transport --------------------------------------------------------------------

    def _client(self) -> k8s.ApiClient:
        with self._lock:
            if self._api is None:
                self._api = k8s.ApiClient(self._configuration())
            return self._api

    def _configuration(self) -> k8s.Configuration:
        configuration = k8s.Configuration()
        kubeconfig = self.spec.secrets.get("kubeconfig")
        if kubeconfig:
            try:
                k8s_config.load_kube_config_from_dict(
                    yaml.safe_load(kubeconfig),
                    context=self.spec.connection.get("context"),
                    client_configuration=configuration,
                    persist_config=False,
                )
            except (ConfigException, yaml.YAMLError, TypeError, ValueError) as exc:
                raise InvalidInput(
                    f"the kubeconfig of target {self.spec.name} cannot be used: {exc}",
                    hint="check the kubeconfig and that connection.context names one of its "
                    "contexts",
                ) from exc
        elif self.spec.connection.get("api_url"):
            configuration.host = self.spec.connection["api_url"]
            if self.spec.secrets.get("token"):
                configuration.api_key = {"authorization": f"Bearer {self.spec.secrets['token']}"}
            if self.spec.secrets.get("ca_cert"):
                configuration.ca_cert_data = self.spec.secrets["ca_cert"]
        else:
            raise InvalidInput(
                f"target {self.spec.name} has neither an api_url nor a kubeconfig",
                hint="set connection.api_url and secrets.token, or secrets.kubeconfig",
            )
        if self.spec.connection.get("verify_tls") is False:
            configuration.verify_ssl = False
        # One retry absorbs a dropped keep-alive connection; more would only delay errors.
        configuration.retries = 1
        return configuration

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        text: bool = False,
    ) -> Any:
        api = self._client()
        headers = {"Accept": "text/plain, */*" if text else "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        request = api.param_serialize(
            method,
            path,
            query_params=[(k, v) for k, v in (query or {}).items() if v is not None],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = api.call_api(*request, _request_timeout=TIMEOUT)
        data = (response.read() or b"").decode("utf-8", errors="replace")
        if not 200 <= response.status <= 299:
            raise ApiException(http_resp=response)
        return data if text else json.loads(data)

    def _get(self, kind: ApiKind, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self._request("GET", kind.path(self.namespace, name))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return found

    def _list(self, kind: ApiKind, labels: str | None = None) -> list[dict[str, Any]]:
        query = {"labelSelector": labels, "limit": 5000}
        found = self._request("GET", kind.path(self.namespace), query=query)
        items: list[dict[str, Any]] = found.get("items", [])
        for item in items:  # list items come without kind and apiVersion
            item["kind"], item["apiVersion"] = kind.kind, kind.api_version
        return items

    def _discover(self, api_version: str, kind: str) -> ApiKind | None:
        if not API_VERSION.match(api_version):
            return None  # it goes into a URL path: refuse anything but a version
        with self._lock:
            known = self._kinds.get(api_version)
        if known is None:
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            try:
                listing = self._request("GET", path)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                listing = {}
            known = {
                r["kind"]: ApiKind(api_version, r["kind"], r["name"], bool(r.get("namespaced")))
                for r in listing.get("resources", [])
                if "/" not in r["name"]
            }
            with self._lock:
                self._kinds[api_version] = known
        return known.get(kind)

    def _served(self, kind: str) -> ApiKind | None:
        return next(
            (found for v in KINDS[kind] if (found := self._discover(v, kind)) is not None), None
        )

    async def _run(self, work: Callable[[], T]) -> T:
        def guarded() -> T:
            try:
                return work()
            except ApiException as exc:
                raise _api_error(exc, self.spec.name) from exc
            except (HTTPError, OSError) as exc:
                raise _unreachable(exc, self.spec) from exc

        return await asyncio.to_thread(guarded)

    def close(self) -> None:
        with self._lock:
            if self._api is not None:
                self._api.close()
                self._api = None

    async def check(self) -> CheckResult:
        # tools.connectivity knows api_url + token; kubeconfig and CA targets need ours.
        if not self.spec.secrets.get("kubeconfig") and not self.spec.secrets.get("ca_cert"):
            return await check(self.spec)

        def version() -> CheckResult:
            info = self._request("GET", "/version")
            return CheckResult(True, "Kubernetes API answered", str(info.get("gitVersion")))

        try:
            return await self._run(version)
        except WindFlowError as exc:
            return CheckResult(False, f"cannot use the Kubernetes API: {exc}")

    # --- apply ------------------------------------------------------------------------

    async def apply(
        self, stack: str, manifests: list[dict[str, Any]] | str, *, dry_run: bool = False
    ) -> ApplyOutcome:
        """Server-side apply the manifests as one stack; ``dry_run`` only reports changes."""
        check_stack(stack)
        documents = parse_manifests(manifests)
        return await self._run(lambda: self._apply(stack, documents, dry_run))

    def _apply(self, stack: str, documents: list[dict[str, Any]], dry_run: bool) -> ApplyOutcome:
        warnings: list[str] = []
        docs = [self._prepare(n, raw, stack, warnings) for n, raw in enumerate(documents, 1)]
        seen: dict[tuple[str, str], int] = {}
        for doc in docs:
            first = seen.setdefault((doc.kind.kind, doc.name), doc.number)
            if first != doc.number:
                raise InvalidInput(
                    f"{doc.label} repeats document {first}", hint="list each object once"
                )
        docs.sort(key=lambda d: (d.kind.kind != "Namespace", d.number))  # it holds the rest
        namespace = self._get(NAMESPACE, self.namespace)
        if namespace is not None and namespace["metadata"].get("deletionTimestamp"):
            raise OrchestratorError(
                f"namespace {self.namespace} is being deleted and accepts no new objects",
                hint="wait until it is gone, then apply again (it must be created anew)",
            )
        if namespace is None and docs[0].kind.kind != "Namespace":
            raise OrchestratorError(
                f"namespace {self.namespace} does not exist",
                hint=f"create it, or add a Namespace manifest named {self.namespace}",
            )
        # A dry run cannot place objects in a namespace that does not exist yet.
        fresh = namespace is None
        if fresh and dry_run:
            warnings.append(
                f"namespace {self.namespace} is created by this apply: the objects in it are "
                "checked by the API server only when they are applied"
            )
        if not dry_run and not fresh:
            self._apply_pass(stack, docs, dry_run=True, fresh=False, warnings=warnings)
        return self._apply_pass(stack, docs, dry_run=dry_run, fresh=fresh, warnings=warnings)

    def _prepare(self, number: int, raw: dict[str, Any], stack: str, warnings: list[str]) -> _Doc:
        name, kind_name = raw["metadata"]["name"], raw["kind"]
        where = f"document {number} ({kind_name} {name})"
        check_name(name, where)
        kind = self._discover(raw["apiVersion"], kind_name)
        if kind is None:
            raise InvalidInput(
                f"{where}: {raw['apiVersion']} {kind_name} is not a kind this cluster serves",
                hint="check apiVersion and kind against the cluster's Kubernetes version",
            )
        if not kind.namespaced and (kind.kind != "Namespace" or name != self.namespace):
            raise InvalidInput(
                f"{where} is cluster-scoped; WindFlow applies only objects of namespace "
                f"{self.namespace}",
                hint="remove it: cluster-wide objects are an administrator's job",
            )
        wanted = raw["metadata"].get("namespace")
        if kind.namespaced and wanted not in (None, self.namespace):
            raise InvalidInput(
                f"{where} names namespace {wanted!r} but this target's namespace is "
                f"{self.namespace!r}",
                hint="remove metadata.namespace or use a target for that namespace",
            )
        owner = (raw["metadata"].get("labels") or {}).get(PART_OF)
        if owner not in (None, stack):
            warnings.append(f"{where}: label {PART_OF}={owner} replaced by {stack}")
        return _Doc(number, kind, name, with_port_protocols(labelled(raw, stack)))

    def _apply_pass(
        self, stack: str, docs: list[_Doc], *, dry_run: bool, fresh: bool, warnings: list[str]
    ) -> ApplyOutcome:
        applied: list[AppliedObject] = []
        diff: list[str] = []
        created: list[_Doc] = []
        query = {
            "fieldManager": FIELD_MANAGER,
            "force": "true",
            "dryRun": "All" if dry_run else None,
        }
        for doc in docs:
            live: dict[str, Any] | None = None
            if dry_run and fresh and doc.kind.namespaced:
                result = doc.body  # a new namespace: nothing to compare with or dry-run in
            else:
                live = self._get(doc.kind, doc.name)
                owner = objects.labels(live).get(PART_OF) if live else None
                if owner not in (None, stack):
                    self._delete_created(created)
                    raise Conflict(
                        f"{doc.label} already exists and belongs to stack {owner}",
                        hint=f"rename the object, or change it through stack {owner}",
                    )
                try:
                    result = self._request(
                        "PATCH",
                        doc.kind.path(self.namespace, doc.name),
                        query=query,
                        body=doc.body,
                        content_type="application/apply-patch+yaml",
                    )
                except ApiException as exc:
                    undone = self._delete_created(created)
                    raise _rejected(doc, exc, undone, self.spec.name) from exc
                if live is None and not dry_run:
                    created.append(doc)
            action: Literal["created", "configured", "unchanged"] = "created"
            if live is not None:
                same = comparable(live) == comparable(result)
                action = "unchanged" if same else "configured"
            if action != "unchanged":
                diff += diff_objects(live, result, f"{doc.kind.kind}/{doc.name}")
            applied.append(
                AppliedObject(document=doc.number, kind=doc.kind.kind, name=doc.name, action=action)
            )
        return ApplyOutcome(
            stack=stack,
            namespace=self.namespace,
            dry_run=dry_run,
            objects=sorted(applied, key=lambda o: o.document),
            diff=bounded_diff(diff),
            warnings=warnings,
        )

    def _delete_created(self, created: list[_Doc]) -> list[str]:
        undone = []
        for doc in reversed(created):
            try:
                self._request(
                    "DELETE",
                    doc.kind.path(self.namespace, doc.name),
                    query={"propagationPolicy": "Background"},
                )
            except ApiException as exc:
                if exc.status != 404:
                    continue  # best effort: the error that stopped the apply is the one to report
            undone.append(f"{doc.kind.kind}/{doc.name}")
        return undone

    # --- reads ------------------------------------------------------------------------

    def _stack_pods(self, stack: str) -> tuple[list[dict[str, Any]], dict[str, list[Any]]]:
        """The stack's workloads and, per workload uid, its pods (through ReplicaSets)."""
        labels = selector(stack)
        workloads = [w for kind in WORKLOADS for w in self._list(kind, labels)]
        replica_sets = {rs["metadata"]["uid"]: rs for rs in self._list(REPLICASET, labels)}
        pods: dict[str, list[Any]] = {}
        for pod in self._list(POD, labels):
            owner = objects.controller(pod)
            if owner in replica_sets:
                owner = objects.controller(replica_sets[owner])
            pods.setdefault(owner or "", []).append(pod)
        return workloads, pods

    async def status(self, stack: str) -> StackStatus:
        """Per Deployment/StatefulSet/DaemonSet: replicas, conditions and pod problems.

        The services are :class:`WorkloadStatus` instances (a ServiceStatus with more)."""
        check_stack(stack)

        def work() -> StackStatus:
            workloads, pods = self._stack_pods(stack)
            services: list[ServiceStatus] = [
                objects.workload_status(w, pods.get(w["metadata"]["uid"], [])) for w in workloads
            ]
            return StackStatus(stack=stack, services=sorted(services, key=lambda s: s.name))

        return await self._run(work)

    async def inventory(self) -> Inventory:
        """Every workload of the namespace, and pods that no controller owns."""

        def work() -> Inventory:
            found = [
                Workload(
                    name=w["metadata"]["name"],
                    kind=w["kind"].lower(),
                    stack=objects.labels(w).get(PART_OF),
                    state=objects.workload_status(w, []).state,
                    image=", ".join(objects.images(w["spec"]["template"])),
                )
                for kind in WORKLOADS
                for w in self._list(kind)
            ]
            found += [
                Workload(
                    name=p["metadata"]["name"],
                    kind="pod",
                    stack=objects.labels(p).get(PART_OF),
                    state=(p.get("status") or {}).get("phase", "Unknown").lower(),
                    image=", ".join(objects.images(p)),
                )
                for p in self._list(POD)
                if objects.controller(p) is None
            ]
            kept, truncated = bound_items(found, MAX_INVENTORY)
            return Inventory(workloads=kept, truncated=truncated)

        return await self._run(work)

    async def pods(self, stack: str) -> list[PodInfo]:
        check_stack(stack)

        def work() -> list[PodInfo]:
            workloads, pods = self._stack_pods(stack)
            names = {w["metadata"]["uid"]: w["metadata"]["name"] for w in workloads}
            found = [
                objects.pod_info(p, names.get(uid)) for uid, group in pods.items() for p in group
            ]
            return sorted(found, key=lambda p: p.name)

        return await self._run(work)

    async def logs(
        self,
        stack: str,
        pod_or_workload: str,
        *,
        container: str | None = None,
        tail: int = 200,
        since_seconds: int | None = None,
        previous: bool = False,
    ) -> LogLines:
        """The newest log lines of a pod, or of one pod of a workload, size-capped."""
        check_stack(stack)

        def work() -> LogLines:
            pod = self._log_pod(stack, pod_or_workload)
            name = pod["metadata"]["name"]
            containers = [c["name"] for c in pod["spec"]["containers"]]
            chosen = container or containers[0]
            if chosen not in containers:
                raise NotFound(
                    f"pod {name} has no container {chosen}",
                    hint=f"its containers: {', '.join(containers)}",
                )
            objects.require_logs(pod, chosen, previous)
            query = {
                "container": chosen,
                "tailLines": tail,
                "sinceSeconds": since_seconds,
                "previous": "true" if previous else None,
                "limitBytes": LOG_LIMIT_BYTES,
            }
            text = self._request(
                "GET", POD.path(self.namespace, name, "log"), query=query, text=True
            )
            kept, cut = bound_text(text)
            lines, dropped = bound_lines(kept.splitlines(), tail)
            return LogLines(
                resource=f"{stack}/{name}/{chosen}", lines=lines, truncated=cut or dropped
            )

        return await self._run(work)

    def _log_pod(self, stack: str, pod_or_workload: str) -> dict[str, Any]:
        workloads, pods = self._stack_pods(stack)
        every = [p for group in pods.values() for p in group]
        named = [p for p in every if p["metadata"]["name"] == pod_or_workload]
        owner = next((w for w in workloads if w["metadata"]["name"] == pod_or_workload), None)
        if not named and owner is None:
            raise NotFound(
                f"stack {stack} has no pod or workload named {pod_or_workload}",
                hint="its pods: " + (", ".join(p["metadata"]["name"] for p in every) or "none"),
            )
        if not named and owner is not None:
            named = pods.get(owner["metadata"]["uid"], [])
            if not named:
                raise OrchestratorError(
                    f"{owner['kind']} {pod_or_workload} has no pods, so there are no logs",
                    hint="check its events and its replica count",
                )
        # Prefer a pod placed on a node: only those can have logs.
        return min(named, key=lambda p: (not p["spec"].get("nodeName"), p["metadata"]["name"]))

    async def events(self, stack: str, *, since_seconds: int = 3600) -> list[OrchestratorEvent]:
        """Core/v1 events about the stack's workloads, ReplicaSets, pods, services, claims."""
        check_stack(stack)

        def work() -> list[OrchestratorEvent]:
            labels = selector(stack)
            involved = {
                (o["kind"], o["metadata"]["name"])
                for kind in (*WORKLOADS, REPLICASET, POD)
                for o in self._list(kind, labels)
            }
            for name in ("Service", "PersistentVolumeClaim", "Job", "HorizontalPodAutoscaler"):
                if (served := self._served(name)) is not None:
                    involved |= {(name, o["metadata"]["name"]) for o in self._list(served, labels)}
            # Pods deleted since (scale-down, rollout) keep their events; ReplicaSets stay
            # for the revision history, and their names prefix those pods' names.
            prefixes = tuple(f"{n}-" for k, n in involved if k in ("ReplicaSet", "StatefulSet"))
            cutoff = datetime.now(UTC) - timedelta(seconds=since_seconds)
            found = []
            for raw in self._list(EVENT):
                obj = raw.get("involvedObject", {})
                key = (obj.get("kind"), obj.get("name", ""))
                if key in involved or (key[0] == "Pod" and key[1].startswith(prefixes)):
                    converted = objects.event(raw)
                    if converted.time is None or converted.time >= cutoff:
                        found.append(converted)
            return sorted(found, key=lambda e: e.time or cutoff)

        return await self._run(work)

    async def describe(self, kind: str, name: str) -> DescribeResult:
        """A kubectl-describe-like summary of one object of the namespace (no secret values)."""
        canonical = ALIASES.get(kind.strip().lower())
        if canonical is None:
            raise InvalidInput(
                f"cannot describe kind {kind!r}", hint=f"known kinds: {', '.join(KINDS)}"
            )
        check_name(name, f"{canonical} {name}")

        def work() -> DescribeResult:
            served = self._served(canonical)
            found = self._get(served, name) if served else None
            if found is None:
                raise NotFound(
                    f"{canonical} {name} does not exist in namespace {self.namespace}",
                    hint="list the workloads or the stack's status to see what exists",
                )
            events = [
                objects.event(e)
                for e in self._list(EVENT)
                if e.get("involvedObject", {}).get("kind") == canonical
                and e["involvedObject"].get("name") == name
            ]
            events.sort(key=lambda e: e.time or datetime.min.replace(tzinfo=UTC))
            metadata, status = found["metadata"], found.get("status") or {}
            annotations = metadata.get("annotations") or {}
            return DescribeResult(
                kind=canonical,
                name=name,
                namespace=self.namespace,
                stack=objects.labels(found).get(PART_OF),
                labels=objects.labels(found),
                annotations={k: v for k, v in annotations.items() if k not in NOISY_ANNOTATIONS},
                created=metadata.get("creationTimestamp"),
                summary=objects.summary(canonical, found),
                conditions=[objects.condition(c) for c in status.get("conditions") or []],
                events=events[-20:],
            )

        return await self._run(work)

    def _deployment(self, stack: str, name: str) -> dict[str, Any]:
        check_name(name, f"deployment {name}")
        found = self._get(DEPLOYMENT, name)
        if found is None:
            raise NotFound(
                f"deployment {name} does not exist in namespace {self.namespace}",
                hint="see the stack's status for its deployments",
            )
        owner = objects.labels(found).get(PART_OF)
        if owner != stack:
            raise NotFound(
                f"deployment {name} is not part of stack {stack}",
                hint=f"it belongs to {owner or 'no WindFlow stack'}",
            )
        return found

    async def rollout_status(self, stack: str, deployment: str) -> RolloutStatus:
        check_stack(stack)
        return await self._run(lambda: objects.rollout_status(self._deployment(stack, deployment)))

    # --- mutations --------------------------------------------------------------------

    async def replicas(self, stack: str, deployment: str) -> int:
        check_stack(stack)
        found = await self._run(lambda: self._deployment(stack, deployment))
        return int(found["spec"].get("replicas", 1))

    async def scale(self, stack: str, deployment: str, replicas: int) -> ScaleOutcome:
        check_stack(stack)
        if replicas < 0:
            raise InvalidInput("replicas must be 0 or more", hint="0 stops every pod")

        def work() -> ScaleOutcome:
            before = self._deployment(stack, deployment)["spec"].get("replicas", 1)
            self._request(
                "PATCH",
                DEPLOYMENT.path(self.namespace, deployment, "scale"),
                query={"fieldManager": FIELD_MANAGER},
                body={"spec": {"replicas": replicas}},
                content_type="application/merge-patch+json",
            )
            return ScaleOutcome(service=deployment, replicas_before=before, replicas_after=replicas)

        return await self._run(work)

    async def rollout_undo(
        self, stack: str, deployment: str, to_revision: int | None = None, *, dry_run: bool = False
    ) -> RolloutUndoOutcome:
        """Put an earlier ReplicaSet's pod template back, as ``kubectl rollout undo`` does."""
        check_stack(stack)

        def work() -> RolloutUndoOutcome:
            found = self._deployment(stack, deployment)
            outcome, patch = objects.rollback(found, self._list(REPLICASET), to_revision)
            if not (outcome.skipped or dry_run):
                self._request(
                    "PATCH",
                    DEPLOYMENT.path(self.namespace, deployment),
                    query={"fieldManager": FIELD_MANAGER},
                    body=patch,
                    content_type="application/json-patch+json",
                )
            return outcome

        return await self._run(work)

    async def delete(
        self, stack: str, *, selector_extra: str | None = None, dry_run: bool = False
    ) -> DeployOutcome:
        """Delete every top-level object labelled part-of=<stack> (and ``selector_extra``).

        Objects a controller owns (ReplicaSets, pods) go with their owner."""
        check_stack(stack)
        labels = selector(stack) + (f",{selector_extra}" if selector_extra else "")

        def work() -> DeployOutcome:
            removed: list[str] = []
            for kind_name in KINDS:
                kind = self._served(kind_name)
                if kind is None:
                    continue
                for item in self._list(kind, labels):
                    if objects.controller(item) is not None:
                        continue
                    name = item["metadata"]["name"]
                    query = {
                        "propagationPolicy": "Background",
                        "dryRun": "All" if dry_run else None,
                    }
                    try:
                        self._request("DELETE", kind.path(self.namespace, name), query=query)
                    except ApiException as exc:
                        if exc.status != 404:
                            raise
                    removed.append(f"{kind_name}/{name}")
            return DeployOutcome(stack=stack, removed=removed)

        return await self._run(work)

    async def remove(self, stack: str) -> DeployOutcome:
        return await self.delete(stack)


# --- errors --------------------------------------------------------------------------


def _api_message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or "")["message"])[:1000]
    except (ValueError, KeyError, TypeError):
        return str(exc.reason or exc.body or exc.status)[:1000]


def _rejected(doc: _Doc, exc: ApiException, undone: list[str], target: str) -> WindFlowError:
    message = _api_message(exc)
    hint = "fix the manifest and apply again; " + (
        f"objects this apply had created were deleted again: {', '.join(undone)}"
        if undone
        else "this apply left nothing behind"
    )
    # 1.20 reports fields of the wrong type or unknown to the schema as a 500.
    typed = exc.status == 500 and "failed to create typed patch object" in message
    if exc.status in (400, 422) or typed:
        return InvalidInput(f"{doc.label} was rejected by the API server: {message}", hint=hint)
    if exc.status == 401:
        return _api_error(exc, target)
    if exc.status == 403:
        return OrchestratorError(
            f"{doc.label} was refused: {message}",
            hint="the target's account may lack RBAC rights for this kind; " + hint,
        )
    return OrchestratorError(
        f"{doc.label} could not be applied ({exc.status}): {message}", hint=hint
    )


def _api_error(exc: ApiException, target: str) -> WindFlowError:
    message = _api_message(exc)
    if exc.status == 401:
        return OrchestratorError(
            f"the Kubernetes API of {target} rejected WindFlow's credentials (401 Unauthorized)",
            hint="check the target's token or kubeconfig: it may be wrong or expired",
        )
    if exc.status == 403:
        return OrchestratorError(
            f"the Kubernetes API of {target} forbids this: {message}",
            hint="grant the target's account RBAC rights in its namespace",
        )
    if exc.status == 0:
        return TargetUnreachable(
            f"the Kubernetes API of {target} did not answer: {message}",
            hint="check that the cluster's API server is up",
        )
    return OrchestratorError(
        f"the Kubernetes API of {target} answered {exc.status}: {message}",
        hint="the message above is the API server's own explanation",
    )


def _unreachable(exc: Exception, spec: TargetSpec) -> TargetUnreachable:
    text = str(exc)
    hint = "check connection.api_url and that the cluster's API server is up"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        hint = "the server's certificate is not trusted: set secrets.ca_cert (or verify_tls)"
    where = spec.connection.get("api_url") or "the kubeconfig's server"
    return TargetUnreachable(
        f"cannot reach the Kubernetes API of {spec.name} at {where}: {text[:300]}", hint=hint
    )
