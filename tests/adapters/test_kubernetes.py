"""The Kubernetes adapter and tools against a real kube-apiserver with its controllers.

No kubelet runs: Deployments get ReplicaSets and Pods that stay Pending, and a pod that
crashes or runs is reproduced by writing its status through the status subresource.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
import urllib3
import yaml
from kubernetes import client as k8s

from tests.infra.kubernetes_api import KubeApiServer
from tools.adapters.kubernetes import KubernetesAdapter
from tools.adapters.kubernetes_objects import WorkloadStatus
from tools.base import Caller, ConsumedApproval, ToolContext
from tools.kubernetes_tools import (
    KUBERNETES_TOOLS,
    k8s_apply_manifests,
    k8s_delete_stack,
    k8s_describe,
    k8s_events,
    k8s_list_workloads,
    k8s_pod_logs,
    k8s_rollout_status,
    k8s_rollout_undo,
    k8s_scale_deployment,
    k8s_stack_status,
)
from tools.targets import TargetKind, TargetSpec
from windflow.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    OrchestratorError,
    TargetUnreachable,
)

pytestmark = [
    pytest.mark.kubernetes,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
IMAGE = "windflow-test/busybox:1"
PART_OF = "app.kubernetes.io/part-of"
REVISION = "deployment.kubernetes.io/revision"
T = TypeVar("T")


def manifests(*, replicas: int = 2, image: str = IMAGE, greeting: str = "hello") -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, labels: {{app: web}}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: web
        image: {image}
        command: ["httpd", "-f", "-p", "80", "-h", "/var/www"]
        ports: [{{containerPort: 80}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 80}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: web-config}}
data: {{greeting: {greeting}}}
"""


def spec_for(server: KubeApiServer, namespace: str, **secrets: str) -> TargetSpec:
    return TargetSpec(
        id="k1",
        org_id="o1",
        name="kube-local",
        kind=TargetKind.KUBERNETES,
        environment="dev",
        connection={"api_url": server.url, "namespace": namespace, "verify_tls": False},
        secrets=secrets or {"token": server.token},
    )


class NoLedger:
    """Read tools and planners never consume approvals."""

    async def consume(self, **_: Any) -> ConsumedApproval:
        raise AssertionError("no approval may be consumed in these tests")


def context(adapter: Any, spec: TargetSpec | None = None) -> ToolContext:
    return ToolContext(
        caller=Caller("u1", "o1"),
        target=spec or getattr(adapter, "spec", None),
        adapter=adapter,
        ledger=NoLedger(),
    )


async def eventually(
    probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], within: float = 30
) -> T:
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s; last value: {value}")
        await asyncio.sleep(0.3)


@pytest.fixture
def api(kube_api: KubeApiServer) -> Iterator[k8s.ApiClient]:
    with contextlib.closing(kube_api.api_client()) as client:
        yield client


@pytest.fixture
def namespace(api: k8s.ApiClient) -> Iterator[str]:
    name = f"wf-{uuid.uuid4().hex[:10]}"
    core = k8s.CoreV1Api(api)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    yield name
    with contextlib.suppress(k8s.ApiException):
        core.delete_namespace(name)


@pytest.fixture
async def adapter(kube_api: KubeApiServer, namespace: str) -> AsyncIterator[KubernetesAdapter]:
    adapter = KubernetesAdapter(spec_for(kube_api, namespace))
    yield adapter
    adapter.close()


def pods_of(api: k8s.ApiClient, namespace: str, stack: str) -> list[Any]:
    found = k8s.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=f"{PART_OF}={stack}")
    return list(found.items)


def stack_objects(api: k8s.ApiClient, namespace: str, stack: str) -> list[str]:
    selector = f"{PART_OF}={stack}"
    core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
    listers: dict[str, Callable[..., Any]] = {
        "Deployment": apps.list_namespaced_deployment,
        "ReplicaSet": apps.list_namespaced_replica_set,
        "Pod": core.list_namespaced_pod,
        "Service": core.list_namespaced_service,
        "ConfigMap": core.list_namespaced_config_map,
        "Secret": core.list_namespaced_secret,
    }
    return sorted(
        f"{kind}/{item.metadata.name}"
        for kind, lister in listers.items()
        for item in lister(namespace, label_selector=selector).items
    )


def set_pod_status(api: k8s.ApiClient, namespace: str, pod: str, state: str) -> None:
    """What a kubelet would report: a crash loop, or a running and ready container."""
    if state == "crashloop":
        container = {
            "name": "web",
            "image": IMAGE,
            "imageID": "",
            "ready": False,
            "restartCount": 4,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
            "lastState": {"terminated": {"exitCode": 3, "reason": "Error"}},
        }
        ready = "False"
    else:
        container = {
            "name": "web",
            "image": IMAGE,
            "imageID": "",
            "ready": True,
            "restartCount": 0,
            "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
        }
        ready = "True"
    body = {
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": ready}],
            "containerStatuses": [container],
        }
    }
    k8s.CoreV1Api(api).patch_namespaced_pod_status(pod, namespace, body)


async def test_apply_creates_the_stack_and_its_pods_and_reapply_is_a_noop(
    adapter: KubernetesAdapter, api: k8s.ApiClient, namespace: str
) -> None:
    outcome = await adapter.apply("shop", manifests())
    assert [(o.kind, o.name, o.action) for o in outcome.objects] == [
        ("Deployment", "web", "created"),
        ("Service", "web", "created"),
        ("ConfigMap", "web-config", "created"),
    ]
    deployment: Any = k8s.AppsV1Api(api).read_namespaced_deployment("web", namespace)
    assert deployment.metadata.labels == {
        "app": "web",
        PART_OF: "shop",
        "app.kubernetes.io/managed-by": "windflow",
    }
    # The controllers do their part: a ReplicaSet, then two (Pending) pods of the stack.
    pods = await eventually(
        lambda: asyncio.to_thread(pods_of, api, namespace, "shop"), lambda p: len(p) == 2
    )
    assert {p.status.phase for p in pods} == {"Pending"}
    replica_sets: Any = k8s.AppsV1Api(api).list_namespaced_replica_set(namespace).items
    assert [rs.metadata.owner_references[0].name for rs in replica_sets] == ["web"]

    again = await adapter.apply("shop", list(yaml.safe_load_all(manifests())))  # as dicts too
    assert {o.action for o in again.objects} == {"unchanged"} and again.diff == ""

    status = await eventually(
        lambda: adapter.status("shop"),
        lambda s: "Unschedulable" in getattr(s.services[0], "pod_reasons", []),
    )
    web = status.services[0]
    assert isinstance(web, WorkloadStatus)
    assert (web.name, web.kind, web.state, web.desired, web.ready) == (
        "web",
        "Deployment",
        "pending",
        2,
        0,
    )
    assert web.ports == ["80/TCP"] and web.image == IMAGE
    listed = await k8s_list_workloads.execute(context(adapter), k8s_list_workloads.parse({}))
    assert [(w.name, w.kind, w.stack) for w in listed.workloads] == [("web", "deployment", "shop")]

    # No kubelet, no node: logs say why there are none instead of returning nothing.
    with pytest.raises(OrchestratorError, match=r"has no node.*Unschedulable"):
        await adapter.logs("shop", "web", tail=20)
    with pytest.raises(OrchestratorError, match="no running container"):
        await k8s_pod_logs.execute(
            context(adapter), k8s_pod_logs.parse({"stack": "shop", "pod": pods[0].metadata.name})
        )
    with pytest.raises(NotFound, match="no pod or workload named db"):
        await adapter.logs("shop", "db")


async def test_dry_run_plans_a_change_without_touching_the_live_objects(
    adapter: KubernetesAdapter, api: k8s.ApiClient, namespace: str
) -> None:
    secret = (
        "\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {password: %s}\n"
    )
    await adapter.apply("shop", manifests() + secret % "hunter2")

    changed = manifests(replicas=3, greeting="bonjour") + secret % "correct-horse"
    plan = await k8s_apply_manifests.plan(
        context(adapter), k8s_apply_manifests.parse({"stack": "shop", "manifests": changed})
    )
    assert {(c.action, c.resource) for c in plan.changes} == {
        ("update", "Deployment/web"),
        ("noop", "Service/web"),
        ("update", "ConfigMap/web-config"),
        ("update", "Secret/creds"),
    }
    assert "-  replicas: 2\n+  replicas: 3" in plan.diff
    assert "-  greeting: hello\n+  greeting: bonjour" in plan.diff
    assert "redacted sha256" in plan.diff
    assert "hunter2" not in plan.diff and "correct-horse" not in plan.diff
    assert "aHVudGVyMg" not in plan.diff  # nor base64 of the old value
    assert plan.summary.startswith(f"apply stack shop to namespace {namespace}")

    live = k8s.AppsV1Api(api).read_namespaced_deployment("web", namespace)
    assert live.spec.replicas == 2
    config = k8s.CoreV1Api(api).read_namespaced_config_map("web-config", namespace)
    assert config.data == {"greeting": "hello"}

    new = await k8s_apply_manifests.plan(
        context(adapter),
        k8s_apply_manifests.parse(
            {
                "stack": "shop",
                "manifests": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n",
            }
        ),
    )
    assert [(c.action, c.resource) for c in new.changes] == [("create", "ConfigMap/extra")]
    with pytest.raises(k8s.ApiException):
        k8s.CoreV1Api(api).read_namespaced_config_map("extra", namespace)


async def test_scale_a_deployment_with_its_plan(
    adapter: KubernetesAdapter, api: k8s.ApiClient, namespace: str
) -> None:
    await adapter.apply("shop", manifests())
    args = k8s_scale_deployment.parse({"stack": "shop", "deployment": "web", "replicas": 4})
    plan = await k8s_scale_deployment.plan(context(adapter), args)
    assert plan.summary == "scale shop/web: 2 -> 4 replicas"
    assert [(c.action, c.detail) for c in plan.changes] == [("scale", "2 -> 4 replicas")]

    scaled = await adapter.scale("shop", "web", 4)
    assert (scaled.replicas_before, scaled.replicas_after) == (2, 4)
    await eventually(
        lambda: asyncio.to_thread(pods_of, api, namespace, "shop"), lambda p: len(p) == 4
    )
    with pytest.raises(NotFound, match="not part of stack other"):
        await adapter.scale("other", "web", 1)
    with pytest.raises(NotFound, match="does not exist"):
        await adapter.scale("shop", "nope", 1)


async def test_pod_states_written_by_a_kubelet_show_in_status(
    adapter: KubernetesAdapter, api: k8s.ApiClient, namespace: str
) -> None:
    await adapter.apply("shop", manifests())
    pods = await eventually(
        lambda: asyncio.to_thread(pods_of, api, namespace, "shop"), lambda p: len(p) == 2
    )
    first, second = (p.metadata.name for p in pods)

    set_pod_status(api, namespace, first, "crashloop")
    status = await eventually(
        lambda: adapter.status("shop"),
        lambda s: "CrashLoopBackOff" in (s.services[0].message or ""),
    )
    web = status.services[0]
    assert isinstance(web, WorkloadStatus)
    assert web.state == "failed" and web.health == "unhealthy"
    assert "CrashLoopBackOff" in web.pod_reasons
    assert web.restarts == 4 and web.exit_code == 3
    crashed = next(p for p in await adapter.pods("shop") if p.name == first)
    assert crashed.reasons == ["CrashLoopBackOff", "Unschedulable"] and crashed.restarts == 4

    set_pod_status(api, namespace, first, "running")
    set_pod_status(api, namespace, second, "running")
    status = await eventually(lambda: adapter.status("shop"), lambda s: s.healthy)
    assert (status.services[0].state, status.services[0].running) == ("running", 2)
    out = await k8s_stack_status.execute(
        context(adapter), k8s_stack_status.parse({"stack": "shop"})
    )
    assert out.healthy and out.workloads[0].ready == 2
    assert sorted(p.name for p in out.pods) == sorted([first, second])
    assert all(p.ready and p.phase == "Running" for p in out.pods)


async def test_rollout_undo_restores_the_previous_image(
    adapter: KubernetesAdapter, api: k8s.ApiClient, namespace: str
) -> None:
    apps = k8s.AppsV1Api(api)

    def revisions() -> dict[str, str]:
        replica_sets: list[Any] = apps.list_namespaced_replica_set(namespace).items
        return {
            rs.spec.template.spec.containers[0].image: rs.metadata.annotations[REVISION]
            for rs in replica_sets
        }

    def image() -> str:
        deployment: Any = apps.read_namespaced_deployment("web", namespace)
        return str(deployment.spec.template.spec.containers[0].image)

    await adapter.apply("shop", manifests(replicas=1))
    await eventually(lambda: asyncio.to_thread(revisions), lambda r: r == {IMAGE: "1"})
    v2 = "windflow-test/busybox:2"
    await adapter.apply("shop", manifests(replicas=1, image=v2))
    await eventually(lambda: asyncio.to_thread(revisions), lambda r: r == {IMAGE: "1", v2: "2"})
    rollout = await eventually(
        lambda: adapter.rollout_status("shop", "web"), lambda r: r.revision == 2
    )
    assert not rollout.complete and not rollout.stuck

    args = k8s_rollout_undo.parse({"stack": "shop", "deployment": "web"})
    plan = await k8s_rollout_undo.plan(context(adapter), args)
    assert plan.changes[0].action == "update"
    assert plan.changes[0].detail == f"revision 2 -> 1: images {v2} -> {IMAGE}"
    assert f"-    image: {v2}\n+    image: {IMAGE}\n" in plan.diff
    assert await asyncio.to_thread(image) == v2, "planning changes nothing"

    undo = await adapter.rollout_undo("shop", "web")
    assert (undo.from_revision, undo.to_revision, undo.skipped) == (2, 1, False)
    deployment: Any = apps.read_namespaced_deployment("web", namespace)
    assert deployment.spec.template.spec.containers[0].image == IMAGE
    assert "pod-template-hash" not in deployment.spec.template.metadata.labels
    # The controller reuses the old ReplicaSet and makes it the newest revision.
    await eventually(lambda: asyncio.to_thread(revisions), lambda r: r == {IMAGE: "3", v2: "2"})
    again = await adapter.rollout_undo("shop", "web", to_revision=3, dry_run=True)
    assert again.skipped
    with pytest.raises(NotFound, match=r"no revision 7.*known revisions: \[3, 2\]"):
        await adapter.rollout_undo("shop", "web", to_revision=7)
    status = await k8s_rollout_status.execute(
        context(adapter), k8s_rollout_status.parse({"stack": "shop", "deployment": "web"})
    )
    assert status.revision == 3


async def test_a_rollout_past_its_deadline_is_stuck(adapter: KubernetesAdapter) -> None:
    text = manifests(replicas=1).replace(
        "  replicas: 1", "  replicas: 1\n  progressDeadlineSeconds: 1"
    )
    await adapter.apply("shop", text)
    rollout = await eventually(lambda: adapter.rollout_status("shop", "web"), lambda r: r.stuck)
    assert rollout.progressing_reason == "ProgressDeadlineExceeded" and not rollout.complete
    status = await adapter.status("shop")
    assert status.services[0].state == "failed"
    assert "ProgressDeadlineExceeded" in (status.services[0].message or "")


async def test_events_and_describe(adapter: KubernetesAdapter) -> None:
    await adapter.apply(
        "shop",
        manifests() + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n"
        "stringData: {password: hunter2}\n",
    )
    events = await eventually(
        lambda: adapter.events("shop", since_seconds=600),
        lambda found: (
            {"ScalingReplicaSet", "SuccessfulCreate", "FailedScheduling"}
            <= {e.action for e in found}
        ),
    )
    kinds = {e.resource.split("/")[0] for e in events}
    assert {"Deployment", "ReplicaSet", "Pod"} <= kinds
    out = await k8s_events.execute(context(adapter), k8s_events.parse({"stack": "shop"}))
    assert len(out.events) == len(events) and not out.truncated
    assert await adapter.events("other") == []

    described = await k8s_describe.execute(
        context(adapter), k8s_describe.parse({"kind": "deploy", "name": "web"})
    )
    assert (described.kind, described.stack) == ("Deployment", "shop")
    assert described.summary["replicas"]["desired"] == 2
    assert described.summary["containers"][0]["image"] == IMAGE
    assert any(e.action == "ScalingReplicaSet" for e in described.events)
    secret = await adapter.describe("secret", "creds")
    assert secret.summary["keys"] == {"password": 12} and "hunter2" not in secret.model_dump_json()
    with pytest.raises(InvalidInput, match="cannot describe kind"):
        await adapter.describe("widget", "web")
    with pytest.raises(NotFound, match="Service nope does not exist"):
        await adapter.describe("svc", "nope")


async def test_delete_removes_exactly_the_stack(
    adapter: KubernetesAdapter, api: k8s.ApiClient, namespace: str
) -> None:
    await adapter.apply("shop", manifests())
    await adapter.apply("blog", manifests().replace("web", "blog"))
    await eventually(
        lambda: asyncio.to_thread(stack_objects, api, namespace, "shop"),
        lambda found: sum(o.startswith("Pod/") for o in found) == 2,
    )
    blog_before = await eventually(
        lambda: asyncio.to_thread(stack_objects, api, namespace, "blog"),
        lambda found: sum(o.startswith("Pod/") for o in found) == 2,
    )

    plan = await k8s_delete_stack.plan(context(adapter), k8s_delete_stack.parse({"stack": "shop"}))
    assert [(c.action, c.resource) for c in plan.changes] == [
        ("delete", "Deployment/web"),
        ("delete", "Service/web"),
        ("delete", "ConfigMap/web-config"),
    ]
    assert await asyncio.to_thread(stack_objects, api, namespace, "shop"), "a plan deletes nothing"

    narrowed = await adapter.delete("shop", selector_extra="app=nothing", dry_run=True)
    assert narrowed.removed == []
    removed = await adapter.remove("shop")
    assert removed.removed == ["Deployment/web", "Service/web", "ConfigMap/web-config"]
    await eventually(
        lambda: asyncio.to_thread(stack_objects, api, namespace, "shop"), lambda f: f == []
    )
    assert await asyncio.to_thread(stack_objects, api, namespace, "blog") == blog_before
    with pytest.raises(NotFound, match="stack shop has no objects"):
        await k8s_delete_stack.plan(context(adapter), k8s_delete_stack.parse({"stack": "shop"}))


BAD_DOCUMENTS = {
    "missing name": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {a: b}}\n",
        InvalidInput,
        r"document 2 \(ConfigMap without a name\) lacks metadata.name",
    ),
    "other namespace": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: kube-system}\n",
        InvalidInput,
        r"document 2 \(ConfigMap c\) names namespace 'kube-system'",
    ),
    "unknown kind": (
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
        InvalidInput,
        r"document 2 \(Widget w\): example.com/v1 Widget is not a kind this cluster serves",
    ),
    "cluster-scoped": (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: admin2}\n",
        InvalidInput,
        r"document 2 \(ClusterRole admin2\) is cluster-scoped",
    ),
    "server validation": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec: {replicas: -1}\n",
        InvalidInput,
        r"document 2 \(Deployment bad\) was rejected by the API server: .*replicas",
    ),
    "wrong field type": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {n: [1]}\n",
        InvalidInput,
        r"document 2 \(ConfigMap c\) was rejected.*expected string",
    ),
}


@pytest.mark.parametrize("case", list(BAD_DOCUMENTS), ids=list(BAD_DOCUMENTS))
async def test_invalid_manifests_are_refused_and_leave_nothing(
    adapter: KubernetesAdapter, api: k8s.ApiClient, namespace: str, case: str
) -> None:
    document, error, message = BAD_DOCUMENTS[case]
    good = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\ndata: {a: b}\n"
    with pytest.raises(error, match=message) as raised:
        await adapter.apply("shop", f"{good}---\n{document}")
    assert raised.value.hint
    assert await asyncio.to_thread(stack_objects, api, namespace, "shop") == []


async def test_failed_apply_deletes_what_it_created(
    kube_api: KubeApiServer, api: k8s.ApiClient
) -> None:
    # In a namespace the apply itself creates, no dry run can go first: the real pass
    # fails on the third document and must take the first two away again.
    fresh = f"wf-{uuid.uuid4().hex[:10]}"
    adapter = KubernetesAdapter(spec_for(kube_api, fresh))
    text = (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: first}}\n---\n"
        f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {fresh}}}\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec: {replicas: -1}\n"
    )
    try:
        plan = await adapter.apply("shop", text, dry_run=True)
        assert [(o.kind, o.action) for o in plan.objects] == [
            ("ConfigMap", "created"),
            ("Namespace", "created"),
            ("Deployment", "created"),
        ]
        assert "checked by the API server only when they are applied" in plan.warnings[0]
        assert await asyncio.to_thread(_namespace_or_none, api, fresh) is None
        with pytest.raises(InvalidInput, match="document 3") as raised:
            await adapter.apply("shop", text)
        assert raised.value.hint and "ConfigMap/first, Namespace/" + fresh in raised.value.hint
        namespace = await asyncio.to_thread(_namespace_or_none, api, fresh)
        assert namespace is None or namespace.metadata.deletion_timestamp is not None
        gone_or_going = f"namespace {fresh} (does not exist|is being deleted)"
        with pytest.raises(OrchestratorError, match=gone_or_going):
            await adapter.apply("shop", manifests())
    finally:
        adapter.close()
        with contextlib.suppress(k8s.ApiException):
            k8s.CoreV1Api(api).delete_namespace(fresh)


def _namespace_or_none(api: k8s.ApiClient, name: str) -> Any:
    try:
        return k8s.CoreV1Api(api).read_namespace(name)
    except k8s.ApiException as exc:
        if exc.status == 404:
            return None
        raise


async def test_an_object_of_another_stack_is_not_taken_over(
    adapter: KubernetesAdapter, api: k8s.ApiClient, namespace: str
) -> None:
    shared = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {owner: %s}\n"
    await adapter.apply("shop", shared % "shop")
    with pytest.raises(Conflict, match="belongs to stack shop"):
        await adapter.apply(
            "blog",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mine}\n---\n" + shared % "blog",
        )
    config = k8s.CoreV1Api(api).read_namespaced_config_map("shared", namespace)
    assert config.data == {"owner": "shop"}
    assert await asyncio.to_thread(stack_objects, api, namespace, "blog") == []


def kubeconfig(server: KubeApiServer, current: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "local",
                    "cluster": {"server": server.url, "insecure-skip-tls-verify": True},
                }
            ],
            "users": [
                {"name": "admin", "user": {"token": server.token}},
                {"name": "intruder", "user": {"token": "not-a-valid-token"}},
            ],
            "contexts": [
                {"name": "good", "context": {"cluster": "local", "user": "admin"}},
                {"name": "bad", "context": {"cluster": "local", "user": "intruder"}},
            ],
            "current-context": current,
        }
    )


def kubeconfig_spec(
    server: KubeApiServer, namespace: str, text: str, context: str | None
) -> TargetSpec:
    connection: dict[str, Any] = {"namespace": namespace}
    if context:
        connection["context"] = context
    return TargetSpec(
        id="k2",
        org_id="o1",
        name="kube-config",
        kind=TargetKind.KUBERNETES,
        environment="dev",
        connection=connection,
        secrets={"kubeconfig": text},
    )


async def test_kubeconfig_and_its_context_choose_the_credentials(
    kube_api: KubeApiServer, namespace: str
) -> None:
    text = kubeconfig(kube_api, current="bad")
    good = KubernetesAdapter(kubeconfig_spec(kube_api, namespace, text, "good"))
    bad = KubernetesAdapter(kubeconfig_spec(kube_api, namespace, text, None))
    missing = KubernetesAdapter(kubeconfig_spec(kube_api, namespace, text, "nope"))
    try:
        await good.apply("shop", manifests())
        assert [s.name for s in (await good.status("shop")).services] == ["web"]
        checked = await good.check()
        assert checked.reachable and checked.version == "v1.20.2"
        with pytest.raises(OrchestratorError, match="rejected WindFlow's credentials"):
            await bad.status("shop")
        assert not (await bad.check()).reachable
        with pytest.raises(InvalidInput, match=r"kubeconfig.*cannot be used"):
            await missing.inventory()
    finally:
        for adapter in (good, bad, missing):
            adapter.close()


async def test_bad_token_and_unreachable_api(kube_api: KubeApiServer, namespace: str) -> None:
    wrong = KubernetesAdapter(spec_for(kube_api, namespace, token="not-a-valid-token"))
    with pytest.raises(OrchestratorError, match="401") as raised:
        await wrong.apply("shop", manifests())
    assert raised.value.hint and "token" in raised.value.hint
    assert not (await wrong.check()).reachable
    wrong.close()

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec = spec_for(kube_api, namespace)
    gone = KubernetesAdapter(
        TargetSpec(
            id=spec.id,
            org_id=spec.org_id,
            name="kube-gone",
            kind=spec.kind,
            environment=spec.environment,
            connection={**spec.connection, "api_url": f"https://127.0.0.1:{port}"},
            secrets=spec.secrets,
        )
    )
    started = time.monotonic()
    with pytest.raises(TargetUnreachable, match="kube-gone"):
        await gone.status("shop")
    assert time.monotonic() - started < 5
    assert not (await gone.check()).reachable
    gone.close()


async def test_tools_are_typed_and_refuse_other_targets(kube_api: KubeApiServer) -> None:
    names = [t.name for t in KUBERNETES_TOOLS]
    assert len(names) == len(set(names)) == 10
    for item in KUBERNETES_TOOLS:
        assert item.targets == {TargetKind.KUBERNETES}
        assert item.permission == ("targets:read" if item.risk == "read" else "deployments:execute")
        assert item.function_schema()["function"]["parameters"]["additionalProperties"] is False
    assert k8s_delete_stack.risk == "destructive"
    assert {t.name for t in KUBERNETES_TOOLS if t.risk == "mutate"} == {
        "k8s_apply_manifests",
        "k8s_scale_deployment",
        "k8s_rollout_undo",
    }
    with pytest.raises(InvalidInput, match="stack"):
        k8s_stack_status.parse({"stack": "Shop; rm"})
    with pytest.raises(InvalidInput, match="works on Kubernetes targets"):
        await k8s_list_workloads.execute(context(object(), spec=None), k8s_list_workloads.parse({}))
