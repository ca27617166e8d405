"""Organizations and their members."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.auth.passwords import hash_password
from api.db.models import Membership
from api.db.repo import identity
from api.deps import CallerDep, OrgDep, PageDep, SessionDep
from api.schemas import MemberOut, MemberPatch, OrgIn, OrgOut, OrgPatch, Page, UserIn
from guardrails.rbac import Permission, Role, can_grant
from windflow.errors import Conflict, NotFound, PermissionDenied

router = APIRouter(tags=["organizations"])


@router.get("/orgs", response_model=list[OrgOut])
async def list_orgs(caller: CallerDep, session: SessionDep) -> list[OrgOut]:
    """The organizations you belong to."""
    visible = [org_id for org_id in caller.principal.roles if caller.principal.is_member(org_id)]
    return [OrgOut.model_validate(o) for o in await identity.orgs_of(session, visible)]


@router.post("/orgs", response_model=OrgOut, status_code=status.HTTP_201_CREATED)
async def create_org(body: OrgIn, caller: CallerDep, session: SessionDep) -> OrgOut:
    """Create an organization; you become its owner."""
    if caller.api_token is not None:
        raise PermissionDenied("API tokens cannot create organizations", hint="log in as a user")
    org = await identity.create_org(session, body.slug, body.name)
    await identity.set_membership(session, org.id, caller.user.id, Role.OWNER.value)
    return OrgOut.model_validate(org)


@router.get("/orgs/current", response_model=OrgOut)
async def current_org(ctx: OrgDep) -> OrgOut:
    """The organization this request acts in (X-WindFlow-Org or the default)."""
    ctx.require(Permission.ORG_READ)
    return OrgOut.model_validate(await ctx.organization())


@router.patch("/orgs/current", response_model=OrgOut)
async def rename_org(body: OrgPatch, ctx: OrgDep) -> OrgOut:
    """Rename the organization (owners only)."""
    ctx.require(Permission.ORG_WRITE)
    org = await ctx.organization()
    org.name = body.name
    await ctx.audit("orgs.update", {"name": body.name})
    return OrgOut.model_validate(org)


def _member_out(membership: Membership) -> MemberOut:
    return MemberOut(
        user_id=membership.user_id,
        email=membership.user.email,
        display_name=membership.user.display_name,
        role=Role(membership.role),
    )


@router.get("/users", response_model=Page[MemberOut])
async def list_members(ctx: OrgDep, page: PageDep) -> Page[MemberOut]:
    """Members of the organization with their roles."""
    ctx.require(Permission.MEMBERS_READ)
    result = await identity.members(ctx.session, ctx.org_id, page.offset, page.limit)
    return Page[MemberOut].of(result, _member_out)


@router.post("/users", response_model=MemberOut, status_code=status.HTTP_201_CREATED)
async def add_member(body: UserIn, ctx: OrgDep) -> MemberOut:
    """Add a user to the organization, creating the account if it does not exist.

    Nobody grants a role above their own.
    """
    ctx.require(Permission.MEMBERS_WRITE)
    if not can_grant(ctx.role, body.role):
        raise PermissionDenied(f"you cannot grant role {body.role.value!r}, above your own")
    user = await identity.user_by_email(ctx.session, body.email)
    if user is None:
        user = await identity.create_user(
            ctx.session,
            body.email,
            display_name=body.display_name,
            password_hash=hash_password(body.password) if body.password else None,
        )
    elif await identity.get_membership(ctx.session, ctx.org_id, user.id):
        raise Conflict(
            f"{body.email} is already a member", hint="change the role with PATCH /users/{id}"
        )
    membership = await identity.set_membership(ctx.session, ctx.org_id, user.id, body.role.value)
    await ctx.session.refresh(membership, ["user"])
    await ctx.audit("users.add", {"email": user.email, "role": body.role.value})
    return _member_out(membership)


async def _guard_member_change(ctx: OrgDep, user_id: str, new_role: Role | None) -> None:
    membership = await identity.get_membership(ctx.session, ctx.org_id, user_id)
    if membership is None:
        raise NotFound(f"user {user_id!r} is not a member of this organization")
    current = Role(membership.role)
    if not can_grant(ctx.role, current) or (
        new_role is not None and not can_grant(ctx.role, new_role)
    ):
        raise PermissionDenied("you cannot change a member whose role is above your own")
    losing_owner = current is Role.OWNER and new_role is not Role.OWNER
    if losing_owner and await identity.count_role(ctx.session, ctx.org_id, Role.OWNER.value) <= 1:
        raise Conflict(
            "this is the organization's last owner", hint="make someone else an owner first"
        )


@router.patch("/users/{user_id}", response_model=MemberOut)
async def change_role(user_id: str, body: MemberPatch, ctx: OrgDep) -> MemberOut:
    """Change a member's role."""
    ctx.require(Permission.MEMBERS_WRITE)
    await _guard_member_change(ctx, user_id, body.role)
    membership = await identity.set_membership(ctx.session, ctx.org_id, user_id, body.role.value)
    await ctx.session.refresh(membership, ["user"])
    await ctx.audit("users.role", {"user_id": user_id, "role": body.role.value})
    return _member_out(membership)


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(user_id: str, ctx: OrgDep) -> None:
    """Remove a member from the organization (the account stays)."""
    ctx.require(Permission.MEMBERS_WRITE)
    await _guard_member_change(ctx, user_id, None)
    await identity.remove_membership(ctx.session, ctx.org_id, user_id)
    await ctx.audit("users.remove", {"user_id": user_id})
