"""Organizations, users, memberships, API tokens and refresh sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from api.db.models import ApiToken, Membership, Organization, RefreshSession, User
from api.db.repo.pages import Page, paginate
from api.db.types import utcnow
from windflow.errors import Conflict, NotFound


async def create_org(session: AsyncSession, slug: str, name: str) -> Organization:
    if await session.scalar(select(Organization).where(Organization.slug == slug)):
        raise Conflict(f"an organization with slug {slug!r} exists", hint="choose another slug")
    org = Organization(slug=slug, name=name)
    session.add(org)
    await session.flush()
    return org


async def get_org(session: AsyncSession, org_id: str) -> Organization:
    org = await session.get(Organization, org_id)
    if org is None:
        raise NotFound(f"organization {org_id!r} not found")
    return org


async def find_org(session: AsyncSession, id_or_slug: str) -> Organization | None:
    return await session.scalar(
        select(Organization).where(
            (Organization.id == id_or_slug) | (Organization.slug == id_or_slug)
        )
    )


async def orgs_of(session: AsyncSession, org_ids: list[str]) -> list[Organization]:
    rows = await session.scalars(
        select(Organization).where(Organization.id.in_(org_ids)).order_by(Organization.slug)
    )
    return list(rows)


async def create_user(
    session: AsyncSession,
    email: str,
    *,
    display_name: str = "",
    password_hash: str | None = None,
    oidc_subject: str | None = None,
) -> User:
    email = email.strip().lower()
    if await session.scalar(select(User).where(User.email == email)):
        raise Conflict(f"a user with email {email!r} exists", hint="add the existing user instead")
    user = User(
        email=email,
        display_name=display_name,
        password_hash=password_hash,
        oidc_subject=oidc_subject,
    )
    session.add(user)
    await session.flush()
    return user


async def get_user(session: AsyncSession, user_id: str) -> User | None:
    """The user with their memberships, in one query (this runs on every request)."""
    return await session.scalar(
        select(User).where(User.id == user_id).options(joinedload(User.memberships))
    )


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.strip().lower()))


async def user_by_oidc(session: AsyncSession, subject: str) -> User | None:
    return await session.scalar(select(User).where(User.oidc_subject == subject))


async def set_membership(session: AsyncSession, org_id: str, user_id: str, role: str) -> Membership:
    membership = await session.scalar(
        select(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id)
    )
    if membership is None:
        membership = Membership(org_id=org_id, user_id=user_id, role=role)
        session.add(membership)
    else:
        membership.role = role
    try:
        await session.flush()
    except IntegrityError as exc:
        raise NotFound("organization or user not found") from exc
    return membership


async def get_membership(session: AsyncSession, org_id: str, user_id: str) -> Membership | None:
    return await session.scalar(
        select(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id)
    )


async def remove_membership(session: AsyncSession, org_id: str, user_id: str) -> None:
    membership = await get_membership(session, org_id, user_id)
    if membership is None:
        raise NotFound("that user is not a member of this organization")
    await session.delete(membership)
    await session.flush()


async def members(session: AsyncSession, org_id: str, offset: int, limit: int) -> Page[Membership]:
    query = (
        select(Membership)
        .where(Membership.org_id == org_id)
        .join(User, User.id == Membership.user_id)
        .order_by(User.email)
    )
    return await paginate(session, query, offset, limit)


async def count_role(session: AsyncSession, org_id: str, role: str) -> int:
    rows = await session.scalars(
        select(Membership).where(Membership.org_id == org_id, Membership.role == role)
    )
    return len(rows.all())


async def add_api_token(
    session: AsyncSession,
    *,
    org_id: str,
    user_id: str,
    name: str,
    token_hash: str,
    prefix: str,
    role_cap: str | None,
    expires_at: datetime | None,
) -> ApiToken:
    token = ApiToken(
        org_id=org_id,
        user_id=user_id,
        name=name,
        token_hash=token_hash,
        prefix=prefix,
        role_cap=role_cap,
        expires_at=expires_at,
    )
    session.add(token)
    await session.flush()
    return token


async def api_token_by_hash(session: AsyncSession, token_hash: str) -> tuple[ApiToken, User] | None:
    """The token and its user with memberships, in one query (this runs on every request)."""
    row = (
        (
            await session.execute(
                select(ApiToken, User)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_hash == token_hash)
                .options(joinedload(User.memberships))
            )
        )
        .unique()
        .first()
    )
    return (row[0], row[1]) if row is not None else None


async def api_tokens_of(session: AsyncSession, user_id: str, org_id: str) -> list[ApiToken]:
    rows = await session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.org_id == org_id)
        .order_by(ApiToken.created_at)
    )
    return list(rows)


async def revoke_api_token(session: AsyncSession, token_id: str, user_id: str) -> ApiToken:
    token = await session.get(ApiToken, token_id)
    if token is None or token.user_id != user_id:
        raise NotFound(f"API token {token_id!r} not found")
    token.revoked_at = token.revoked_at or utcnow()
    await session.flush()
    return token


async def add_refresh_session(
    session: AsyncSession, jti: str, user_id: str, expires_at: datetime
) -> None:
    session.add(RefreshSession(id=jti, user_id=user_id, expires_at=expires_at))
    await session.flush()


async def consume_refresh_session(session: AsyncSession, jti: str) -> RefreshSession | None:
    """Return the session if it was live, revoking it: a refresh token works once."""
    refresh = await session.get(RefreshSession, jti)
    if refresh is None or refresh.revoked_at is not None or refresh.expires_at <= utcnow():
        return None
    refresh.revoked_at = utcnow()
    await session.flush()
    return refresh
