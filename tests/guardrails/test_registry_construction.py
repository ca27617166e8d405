"""By construction, no mutating tool in the registry runs without a consumed approval.

For every tool WindFlow ships: its schema is sound and closed to unknown fields; for every
mutating one, execution without an approval, with a made-up approval, or with an approval
that is still pending is refused before the adapter is touched.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import jsonschema
import pytest

from api.db.models import Approval, Target
from api.db.repo import identity, resources
from api.db.types import utcnow
from guardrails.rbac import Principal, Role
from tests.api.harness import ApiHarness
from tools.base import Tool, args_hash
from tools.catalog import default_registry
from windflow.errors import ApprovalError

REGISTRY = default_registry()

SAMPLES: dict[str, dict[str, Any]] = {
    "deploy_stack": {"stack": "blog", "compose": "services:\n  web:\n    image: nginx:1.27\n"},
    "restart_service": {"stack": "blog", "service": "web"},
    "scale_service": {"stack": "blog", "service": "web", "replicas": 2},
    "rollback_stack": {"stack": "blog"},
    "remove_stack": {"stack": "blog"},
    "k8s_apply_manifests": {
        "stack": "blog",
        "manifests": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    },
    "k8s_scale_deployment": {"stack": "blog", "deployment": "web", "replicas": 2},
    "k8s_rollout_undo": {"stack": "blog", "deployment": "web"},
    "k8s_delete_stack": {"stack": "blog"},
    "vagrant_up": {"stack": "blog", "compose": "services:\n  web:\n    image: nginx:1.27\n"},
    "vagrant_halt": {"stack": "blog"},
    "vagrant_destroy": {"stack": "blog"},
    "deploy_template": {"template": "redis", "stack": "blog"},
    "migrate_stack": {"stack": "blog", "from_target": "old-host", "source_revision": 1},
}


class Tripwire:
    """Stands where the adapter would be; any use of it fails the test."""

    touched: ClassVar[list[str]] = []

    def __getattr__(self, name: str) -> Any:
        Tripwire.touched.append(name)
        raise AssertionError(f"the adapter was used ({name}) without an approval")


def test_every_tool_is_described_and_typed() -> None:
    assert len(REGISTRY) >= 9
    for tool in REGISTRY:
        schema = tool.function_schema()
        assert schema["function"]["description"] == tool.description and len(tool.description) > 20
        jsonschema.Draft202012Validator.check_schema(schema["function"]["parameters"])
        assert schema["function"]["parameters"].get("additionalProperties") is False, tool.name
        assert tool.risk in ("read", "mutate", "destructive")
        # Only reads may work without a target (saved stacks, compose review); every change
        # is bound to a target so its approval names where it will run.
        assert tool.targets or not tool.mutates, tool.name
        assert not any(
            callable(getattr(tool, attr)) and attr in ("fn", "function", "func")
            for attr in dir(tool)
        ), "the raw function must not be reachable as a public attribute"


MUTATING = [t for t in REGISTRY if t.mutates]


def test_every_mutating_tool_has_a_sample() -> None:
    assert {t.name for t in MUTATING} == set(SAMPLES), "add samples for new mutating tools"


@pytest.mark.parametrize("tool", MUTATING, ids=lambda t: t.name)
async def test_mutating_tools_refuse_without_a_valid_approval(
    api: ApiHarness, tool: Tool[Any, Any]
) -> None:
    Tripwire.touched.clear()
    org = await api.seed_org("acme")
    kind = sorted(tool.targets)[0]
    async with api.state.db.transaction() as session:
        target = await resources.add_target(
            session, Target(org_id=org.id, name="t", kind=kind.value, environment="dev")
        )
        spec = api.state.tooling.spec(target)
        requester = await identity.get_user(session, org.users[Role.OWNER])
        assert requester is not None
    ctx = api.state.tooling.context(
        user_id=requester.id, org_id=org.id, target=spec, adapter=Tripwire()
    )
    args = tool.parse(SAMPLES[tool.name])

    with pytest.raises(ApprovalError):
        await tool.execute(ctx, args)
    with pytest.raises(ApprovalError, match="no such approval"):
        await tool.execute(ctx, args, approval_id="0" * 32)

    async with api.state.db.transaction() as session:
        pending = Approval(
            org_id=org.id,
            target_id=spec.id,
            tool=tool.name,
            risk=tool.risk,
            arguments=args.model_dump(mode="json"),
            args_hash=args_hash(tool.name, spec.id, args.model_dump(mode="json")),
            requested_by=requester.id,
            expires_at=utcnow() + timedelta(hours=1),
            votes=[],
        )
        session.add(pending)
    with pytest.raises(ApprovalError, match="pending"):
        await tool.execute(ctx, args, approval_id=pending.id)

    # Through the gate the same call only ever yields a refusal, never the effect.
    result = await api.state.tooling.gate.execute_approved(
        tool, ctx, Principal(user_id=requester.id, roles={org.id: Role.OWNER}), pending.id
    )
    assert result.status == "denied"
    assert Tripwire.touched == []
