"""Validation of bearer tokens issued by an external OpenID Connect provider.

The issuer's signing keys come from its JWKS document (found through discovery unless
configured), cached for a while and refetched once when a token names an unknown key,
so that key rotation at the provider needs no restart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from jwt import PyJWK, PyJWKSet

from windflow.errors import AuthenticationFailed, ConfigurationError
from windflow.settings import Settings

ALLOWED_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


@dataclass(frozen=True)
class OidcIdentity:
    subject: str
    email: str | None
    email_verified: bool
    claims: dict[str, Any]


class OidcVerifier:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        if not settings.oidc_issuer:
            raise ConfigurationError("OIDC is not configured", hint="set WINDFLOW_OIDC_ISSUER")
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.audience = settings.oidc_audience
        self.jwks_url = settings.oidc_jwks_url
        self.cache_seconds = settings.oidc_jwks_cache_seconds
        self._http = http
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = 0.0

    def is_ours(self, token: str) -> bool:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return False
        return str(claims.get("iss", "")).rstrip("/") == self.issuer

    async def _discover_jwks_url(self) -> str:
        if self.jwks_url:
            return self.jwks_url
        url = f"{self.issuer}/.well-known/openid-configuration"
        document = await self._get_json(url)
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise AuthenticationFailed(
                f"the OIDC discovery document at {url} has no jwks_uri",
                hint="set WINDFLOW_OIDC_JWKS_URL explicitly",
            )
        self.jwks_url = jwks_uri
        return jwks_uri

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http.get(url, timeout=5.0)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise AuthenticationFailed(
                f"could not fetch {url} from the OIDC issuer: {exc}",
                hint="check that the issuer is reachable and WINDFLOW_OIDC_* settings are right",
            ) from exc
        if not isinstance(data, dict):
            raise AuthenticationFailed(f"{url} did not return a JSON object")
        return data

    async def _refresh_keys(self) -> None:
        document = await self._get_json(await self._discover_jwks_url())
        try:
            key_set = PyJWKSet.from_dict(document)
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed(f"the issuer's JWKS is unusable: {exc}") from exc
        self._keys = {key.key_id: key for key in key_set.keys if key.key_id}
        self._fetched_at = time.monotonic()

    async def _key_for(self, kid: str) -> PyJWK:
        stale = time.monotonic() - self._fetched_at > self.cache_seconds
        if stale or kid not in self._keys:
            await self._refresh_keys()
        key = self._keys.get(kid)
        if key is None:
            raise AuthenticationFailed(
                f"the token was signed with key {kid!r}, which the issuer does not publish",
                hint="the token is forged or from another issuer",
            )
        return key

    async def verify(self, token: str) -> OidcIdentity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed(f"the token is not a JWT: {exc}") from exc
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise AuthenticationFailed(
                f"algorithm {header.get('alg')!r} is not accepted for OIDC tokens",
                hint=f"the issuer must sign with one of {', '.join(ALLOWED_ALGORITHMS)}",
            )
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise AuthenticationFailed("the token has no key id (kid) in its header")
        key = await self._key_for(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=ALLOWED_ALGORITHMS,
                issuer=self.issuer,
                audience=self.audience,
                options={
                    "require": ["exp", "iat", "sub", "iss"],
                    "verify_aud": bool(self.audience),
                },
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationFailed(
                "the identity provider's token has expired", hint="sign in again"
            ) from exc
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed(f"the identity provider's token is invalid: {exc}") from exc
        return OidcIdentity(
            subject=str(claims["sub"]),
            email=claims.get("email"),
            email_verified=bool(claims.get("email_verified", False)),
            claims=claims,
        )
