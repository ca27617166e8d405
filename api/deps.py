"""FastAPI dependencies: the app state, a database session, the caller and their org.

Endpoints declare what they need with the ``Annotated`` aliases at the bottom; nothing
reaches for a global.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import api_tokens, jwt_tokens
from api.db.models import ApiToken, Organization, User
from api.db.repo import audit, identity
from api.db.types import utcnow
from api.state import AppState
from guardrails.rbac import Permission, Principal, Role
from windflow.errors import AuthenticationFailed, InvalidInput, NotFound


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.windflow
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the endpoint returns, rolled back on error.

    Function scope makes the commit happen before the response is sent, so a failed
    commit is an error response rather than a success the database never saw.
    """
    async with state.db.sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="WindFlow access token, API token or OIDC token")


@dataclass(frozen=True)
class Caller:
    user: User
    principal: Principal
    api_token: ApiToken | None = None


def _principal(user: User, token: ApiToken | None = None) -> Principal:
    roles = {m.org_id: Role(m.role) for m in user.memberships}
    if token is None:
        return Principal(user_id=user.id, roles=roles)
    return Principal(
        user_id=user.id,
        roles=roles,
        role_cap=Role(token.role_cap) if token.role_cap else None,
        token_org_id=token.org_id,
    )


async def _from_api_token(session: AsyncSession, raw: str) -> Caller:
    found = await identity.api_token_by_hash(session, api_tokens.digest(raw))
    now = utcnow()
    token, user = found if found is not None else (None, None)
    if token is None or token.revoked_at is not None:
        raise AuthenticationFailed(
            "the API token is unknown or revoked", hint="create a new one with POST /auth/tokens"
        )
    if token.expires_at is not None and token.expires_at <= now:
        raise AuthenticationFailed("the API token has expired", hint="create a new token")
    if user is None or not user.is_active:
        raise AuthenticationFailed("the token's user is disabled")
    # Touch at most once a minute so busy bots do not turn every read into a write.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now
    return Caller(user=user, principal=_principal(user, token), api_token=token)


async def _from_oidc(state: AppState, session: AsyncSession, raw: str) -> Caller:
    assert state.oidc is not None
    identity_claims = await state.oidc.verify(raw)
    user = await identity.user_by_oidc(session, identity_claims.subject)
    if user is None and identity_claims.email and identity_claims.email_verified:
        user = await identity.user_by_email(session, identity_claims.email)
        if user is not None and user.oidc_subject is None:
            user.oidc_subject = identity_claims.subject
    if user is None or not user.is_active:
        raise AuthenticationFailed(
            "no active WindFlow user for identity "
            f"{identity_claims.email or identity_claims.subject}",
            hint="ask an admin to add this user (same email) to an organization",
        )
    return Caller(user=user, principal=_principal(user))


async def authenticate(state: AppState, session: AsyncSession, raw: str) -> Caller:
    if api_tokens.looks_like_api_token(raw):
        return await _from_api_token(session, raw)
    if jwt_tokens.is_windflow_token(state.settings, raw):
        claims = jwt_tokens.verify(state.settings, raw, "access")
        user = await identity.get_user(session, claims.user_id)
        if user is None or not user.is_active:
            raise AuthenticationFailed("the token's user no longer exists or is disabled")
        return Caller(user=user, principal=_principal(user))
    if state.oidc is not None and state.oidc.is_ours(raw):
        return await _from_oidc(state, session, raw)
    raise AuthenticationFailed(
        "the bearer token is not a WindFlow token, an API token, or from the configured issuer",
        hint="log in with POST /auth/login and send 'Authorization: Bearer <access_token>'",
    )


async def get_caller(
    state: StateDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None or not credentials.credentials:
        raise AuthenticationFailed(
            "this endpoint needs a bearer token",
            hint="log in with POST /auth/login and send 'Authorization: Bearer <access_token>'",
        )
    return await authenticate(state, session, credentials.credentials)


CallerDep = Annotated[Caller, Depends(get_caller)]


@dataclass(frozen=True)
class OrgContext:
    """The caller acting inside one organization, with their effective role there."""

    org_id: str
    role: Role
    caller: Caller
    state: AppState
    session: AsyncSession

    async def organization(self) -> Organization:
        """The organization's row, loaded only by the endpoints that show or change it."""
        return await identity.get_org(self.session, self.org_id)

    @property
    def user_id(self) -> str:
        return self.caller.user.id

    def require(self, permission: Permission, *, environment: str | None = None) -> None:
        self.state.rbac.require(
            self.caller.principal, permission, self.org_id, environment=environment
        )

    async def audit(
        self,
        action: str,
        arguments: dict[str, Any],
        *,
        target_id: str | None = None,
        outcome: str = "ok",
    ) -> None:
        await audit.record(
            self.session,
            org_id=self.org_id,
            user_id=self.user_id,
            tool=f"api:{action}",
            risk="mutate",
            arguments=arguments,
            outcome=outcome,
            target_id=target_id,
        )


async def get_org_context(
    state: StateDep,
    session: SessionDep,
    caller: CallerDep,
    x_windflow_org: Annotated[
        str | None,
        Header(description="Organization id or slug; defaults to the token's or your only one"),
    ] = None,
) -> OrgContext:
    principal = caller.principal
    wanted = x_windflow_org or principal.token_org_id
    if wanted is None:
        member_of = [org_id for org_id in principal.roles if principal.is_member(org_id)]
        if len(member_of) != 1:
            raise InvalidInput(
                "you belong to several organizations or none; say which one to act in"
                if member_of
                else "you are not a member of any organization",
                hint="send the header 'X-WindFlow-Org: <id or slug>'"
                if member_of
                else "create one with POST /orgs or ask an owner to add you",
            )
        wanted = member_of[0]
    # A membership proves the organization exists: look it up only when named by slug.
    org_id: str | None = wanted if principal.role_in(wanted) is not None else None
    if org_id is None:
        org = await identity.find_org(session, wanted)
        org_id = org.id if org is not None else None
    role = principal.role_in(org_id) if org_id is not None else None
    if org_id is None or role is None:
        raise NotFound(
            f"organization {wanted!r} not found or you are not a member",
            hint="GET /orgs lists the organizations you belong to",
        )
    return OrgContext(org_id=org_id, role=role, caller=caller, state=state, session=session)


OrgDep = Annotated[OrgContext, Depends(get_org_context)]


@dataclass(frozen=True)
class PageParams:
    offset: int
    limit: int


def get_page(
    state: StateDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> PageParams:
    return PageParams(offset=offset, limit=min(limit, state.settings.page_size_max))


PageDep = Annotated[PageParams, Depends(get_page)]
