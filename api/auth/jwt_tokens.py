"""WindFlow's own access and refresh tokens (HS256, signed with the secret key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import jwt

from api.db.types import new_id, utcnow
from windflow.errors import AuthenticationFailed
from windflow.settings import Settings

TokenType = Literal["access", "refresh"]
ALGORITHM = "HS256"


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    jti: str
    token_type: TokenType
    expires_at: datetime


def issue(settings: Settings, user_id: str, token_type: TokenType) -> IssuedToken:
    now = utcnow()
    ttl = (
        settings.access_token_ttl_seconds
        if token_type == "access"
        else settings.refresh_token_ttl_seconds
    )
    expires = now + timedelta(seconds=ttl)
    jti = new_id()
    payload: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "sub": user_id,
        "typ": token_type,
        "jti": jti,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    token = jwt.encode(payload, settings.secret_key.get_secret_value(), algorithm=ALGORITHM)
    return IssuedToken(token=token, jti=jti, expires_at=expires)


def is_windflow_token(settings: Settings, token: str) -> bool:
    """Cheap routing check: our tokens are HS256 and carry our issuer."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return header.get("alg") == ALGORITHM and claims.get("iss") == settings.jwt_issuer


def verify(settings: Settings, token: str, expected: TokenType) -> TokenClaims:
    try:
        claims = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[ALGORITHM],
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "jti", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationFailed(
            "the token has expired",
            hint="refresh it with POST /auth/refresh or log in again",
        ) from exc
    except jwt.PyJWTError as exc:
        raise AuthenticationFailed(
            f"the token is invalid: {exc}", hint="log in again to get a new token"
        ) from exc
    if claims.get("typ") != expected:
        raise AuthenticationFailed(
            f"a {claims.get('typ')!r} token was given where a {expected!r} token is needed",
            hint="send the access token as the bearer; the refresh token only to /auth/refresh",
        )
    return TokenClaims(
        user_id=str(claims["sub"]),
        jti=str(claims["jti"]),
        token_type=expected,
        expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=utcnow().tzinfo),
    )
