"""Login, token refresh and logout, the caller's profile and their API tokens."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, status

from api.auth import api_tokens, jwt_tokens
from api.auth.passwords import verify_password
from api.db.repo import identity
from api.db.types import utcnow
from api.deps import CallerDep, OrgDep, SessionDep, StateDep
from api.limits import login_limit
from api.schemas import (
    ApiTokenCreated,
    ApiTokenIn,
    ApiTokenOut,
    LoginIn,
    MembershipOut,
    MeOut,
    RefreshIn,
    TokenPair,
)
from guardrails.rbac import Permission
from windflow.errors import AuthenticationFailed, PermissionDenied

router = APIRouter(prefix="/auth", tags=["auth"])


async def _issue_pair(state: StateDep, session: SessionDep, user_id: str) -> TokenPair:
    access = jwt_tokens.issue(state.settings, user_id, "access")
    refresh = jwt_tokens.issue(state.settings, user_id, "refresh")
    await identity.add_refresh_session(session, refresh.jti, user_id, refresh.expires_at)
    return TokenPair(
        access_token=access.token,
        refresh_token=refresh.token,
        expires_in=state.settings.access_token_ttl_seconds,
    )


@router.post("/login", response_model=TokenPair)
async def login(body: LoginIn, request: Request, state: StateDep, session: SessionDep) -> TokenPair:
    """Exchange email and password for an access token and a refresh token."""
    client = request.client.host if request.client else "unknown"
    limit = login_limit(state.settings)
    await state.limiter.hit(f"login:ip:{client}", limit)
    await state.limiter.hit(f"login:email:{body.email.lower()}", limit)
    user = await identity.user_by_email(session, body.email)
    valid = verify_password(user.password_hash if user else None, body.password)
    if user is None or not valid or not user.is_active:
        raise AuthenticationFailed(
            "wrong email or password", hint="check both; accounts are not locked, only throttled"
        )
    return await _issue_pair(state, session, user.id)


@router.post("/refresh", response_model=TokenPair)
async def refresh(body: RefreshIn, state: StateDep, session: SessionDep) -> TokenPair:
    """Trade a refresh token for a new pair; each refresh token works exactly once."""
    claims = jwt_tokens.verify(state.settings, body.refresh_token, "refresh")
    live = await identity.consume_refresh_session(session, claims.jti)
    user = await identity.get_user(session, claims.user_id)
    if live is None or user is None or not user.is_active:
        raise AuthenticationFailed(
            "the refresh token was already used, revoked or has expired", hint="log in again"
        )
    return await _issue_pair(state, session, user.id)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshIn, state: StateDep, session: SessionDep) -> None:
    """Revoke a refresh token."""
    claims = jwt_tokens.verify(state.settings, body.refresh_token, "refresh")
    await identity.consume_refresh_session(session, claims.jti)


@router.get("/me", response_model=MeOut)
async def me(caller: CallerDep) -> MeOut:
    """Who the bearer token belongs to, and their organizations and roles."""
    principal = caller.principal
    memberships = [
        MembershipOut(org_id=org_id, role=role)
        for org_id in principal.roles
        if (role := principal.role_in(org_id)) is not None
    ]
    return MeOut(
        id=caller.user.id,
        email=caller.user.email,
        display_name=caller.user.display_name,
        memberships=memberships,
    )


@router.post("/tokens", response_model=ApiTokenCreated, status_code=status.HTTP_201_CREATED)
async def create_token(body: ApiTokenIn, ctx: OrgDep) -> ApiTokenCreated:
    """Create a long-lived API token for this organization (for bots and the CLI).

    The token is shown once. It can never exceed your own role in the organization.
    """
    ctx.require(Permission.TOKENS_WRITE)
    if ctx.caller.api_token is not None:
        raise PermissionDenied(
            "an API token cannot create other API tokens", hint="log in as the user to do this"
        )
    cap = body.role_cap or ctx.role
    if not ctx.role.at_least(cap):
        raise PermissionDenied(f"you cannot create a token with role {cap.value!r} above your own")
    raw = api_tokens.generate()
    expires = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    token = await identity.add_api_token(
        ctx.session,
        org_id=ctx.org_id,
        user_id=ctx.user_id,
        name=body.name,
        token_hash=api_tokens.digest(raw),
        prefix=api_tokens.display_prefix(raw),
        role_cap=cap.value,
        expires_at=expires,
    )
    await ctx.audit("tokens.create", {"name": body.name, "role_cap": cap.value})
    return ApiTokenCreated(**ApiTokenOut.model_validate(token).model_dump(), token=raw)


@router.get("/tokens", response_model=list[ApiTokenOut])
async def list_tokens(ctx: OrgDep) -> list[ApiTokenOut]:
    """Your API tokens in this organization (never their secret values)."""
    tokens = await identity.api_tokens_of(ctx.session, ctx.user_id, ctx.org_id)
    return [ApiTokenOut.model_validate(t) for t in tokens]


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(token_id: str, ctx: OrgDep) -> None:
    """Revoke one of your API tokens."""
    await identity.revoke_api_token(ctx.session, token_id, ctx.user_id)
    await ctx.audit("tokens.revoke", {"token_id": token_id})
