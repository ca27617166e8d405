"""The template marketplace: browse, search, show, and deploy through the approval path."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from api.deps import OrgDep
from api.schemas import Input, Output
from guardrails.rbac import Permission
from tools.base import ToolResult
from tools.template_tools import deploy_template, summary_of

router = APIRouter(prefix="/templates", tags=["templates"])


class TemplateOut(Output):
    id: str
    name: str
    description: str
    category: str
    tags: list[str]
    version: str
    logo: str | None
    links: dict[str, Any]


class ParameterOut(Output):
    name: str
    type: str
    description: str
    required: bool
    default: Any
    secret: bool
    choices: list[str] | None = None


class TemplateDetailOut(TemplateOut):
    parameters: list[ParameterOut]
    compose: str
    source: dict[str, Any]
    warnings: list[str]


class TemplateList(Output):
    items: list[TemplateOut]
    total: int
    categories: dict[str, int]


class DeployTemplateIn(Input):
    target: str = Field(max_length=100, description="Target name or id")
    stack: str = Field(max_length=100, description="Name of the stack to create or update")
    parameters: dict[str, str | int | bool] = Field(default_factory=dict)


def _out(template: Any) -> TemplateOut:
    return TemplateOut(
        **summary_of(template).model_dump(),
        logo=template.logo,
        links=template.links.model_dump(mode="json"),
    )


@router.get("", response_model=TemplateList)
async def list_templates(
    ctx: OrgDep,
    q: Annotated[str, Query(max_length=200, description="Words to search for")] = "",
    category: Annotated[str | None, Query(max_length=40)] = None,
    tag: Annotated[list[str] | None, Query()] = None,
) -> TemplateList:
    """The catalog, best matches first when searching."""
    ctx.require(Permission.STACKS_READ)
    catalog = ctx.state.tooling.templates
    found = catalog.search(q, category, tag or ())
    return TemplateList(
        items=[_out(t) for t in found], total=len(found), categories=catalog.categories()
    )


@router.get("/{template_id}", response_model=TemplateDetailOut)
async def show_template(template_id: str, ctx: OrgDep) -> TemplateDetailOut:
    ctx.require(Permission.STACKS_READ)
    template = ctx.state.tooling.templates.get(template_id)
    return TemplateDetailOut(
        **_out(template).model_dump(),
        parameters=[
            ParameterOut(
                name=p.name,
                type=p.type,
                description=p.description,
                required=p.required,
                default=None if p.secret else p.default,
                secret=p.secret,
                choices=p.choices,
            )
            for p in template.parameters
        ],
        compose=template.compose,
        source=template.source.model_dump(mode="json"),
        warnings=list(template.warnings),
    )


@router.post("/{template_id}/deploy", response_model=ToolResult)
async def deploy(template_id: str, body: DeployTemplateIn, ctx: OrgDep) -> ToolResult:
    """Plan a deploy of the template on a target: answers approval_required with the plan.

    Once approved, run it with ``POST /approvals/{id}/execute`` (or let the chat do it).
    """
    tooling = ctx.state.tooling
    spec = await tooling.resolve_target(ctx.session, ctx.org_id, body.target)
    tool_ctx = tooling.context(user_id=ctx.user_id, org_id=ctx.org_id, target=spec)
    arguments = {"template": template_id, "stack": body.stack, "parameters": body.parameters}
    return await tooling.gate.call(deploy_template, tool_ctx, ctx.caller.principal, arguments)
