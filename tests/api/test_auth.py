"""Login, refresh rotation, API tokens, OIDC bearer tokens, and rejection of bad tokens."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from guardrails.rbac import Role
from tests.api.harness import PASSWORD, ApiHarness


async def _login(api: ApiHarness, email: str, password: str = PASSWORD) -> Any:
    return await api.client.post("/auth/login", json={"email": email, "password": password})


async def test_login_refresh_rotation_and_logout(api: ApiHarness) -> None:
    org = await api.seed_org("acme")
    response = await _login(api, org.emails[Role.OPERATOR])
    assert response.status_code == 200, response.text
    pair = response.json()
    me = await api.client.get(
        "/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["memberships"] == [{"org_id": org.id, "role": "operator"}]

    # The access token is no refresh token and vice versa.
    wrong = await api.client.get(
        "/auth/me", headers={"Authorization": f"Bearer {pair['refresh_token']}"}
    )
    assert wrong.status_code == 401
    assert "refresh" in wrong.json()["detail"]

    rotated = await api.client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert rotated.status_code == 200
    replay = await api.client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert replay.status_code == 401, "a refresh token must work only once"

    new_refresh = rotated.json()["refresh_token"]
    assert (
        await api.client.post("/auth/logout", json={"refresh_token": new_refresh})
    ).status_code == 204
    after_logout = await api.client.post("/auth/refresh", json={"refresh_token": new_refresh})
    assert after_logout.status_code == 401


async def test_wrong_password_and_unknown_user_look_the_same(api: ApiHarness) -> None:
    org = await api.seed_org("acme")
    wrong = await _login(api, org.emails[Role.VIEWER], "not-the-password")
    unknown = await _login(api, "nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.headers["content-type"] == "application/problem+json"


async def test_login_is_rate_limited(database_url: str, tmp_path: Path) -> None:
    async with ApiHarness.start(database_url, tmp_path, login_attempts_per_minute=3) as api:
        org = await api.seed_org("acme")
        codes = [
            (await _login(api, org.emails[Role.VIEWER], "bad-password")).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        limited = await _login(api, org.emails[Role.VIEWER])
        assert limited.status_code == 429, "the right password does not bypass the limit"
        assert int(limited.headers["Retry-After"]) >= 1


async def test_api_token_lifecycle_and_role_cap(api: ApiHarness) -> None:
    org = await api.seed_org("acme")
    created = await api.client.post(
        "/auth/tokens", headers=org.headers(Role.ADMIN), json={"name": "bot", "role_cap": "viewer"}
    )
    assert created.status_code == 201, created.text
    raw = created.json()["token"]
    bot = {"Authorization": f"Bearer {raw}"}
    assert (await api.client.get("/targets", headers=bot)).status_code == 200
    denied = await api.client.post("/targets", headers=bot, json={"name": "x", "kind": "docker"})
    assert denied.status_code == 403, "a viewer-capped token cannot write even for an admin"
    listed = await api.client.get("/auth/tokens", headers=org.headers(Role.ADMIN))
    assert [t["name"] for t in listed.json()] == ["bot"]
    assert "token" not in listed.json()[0]

    above = await api.client.post(
        "/auth/tokens", headers=org.headers(Role.OPERATOR), json={"name": "x", "role_cap": "owner"}
    )
    assert above.status_code == 403

    revoke = await api.client.delete(
        f"/auth/tokens/{created.json()['id']}", headers=org.headers(Role.ADMIN)
    )
    assert revoke.status_code == 204
    assert (await api.client.get("/targets", headers=bot)).status_code == 401


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "wf_" + "x" * 40,
        jwt.encode(
            {"sub": "u", "iss": "windflow", "typ": "access", "jti": "j", "iat": 1, "exp": 2},
            "k" * 32,
        ),
    ],
    ids=["garbage", "unknown-api-token", "forged-signature"],
)
async def test_invalid_tokens_are_401(api: ApiHarness, token: str) -> None:
    response = await api.client.get("/targets", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_expired_access_token_is_401(database_url: str, tmp_path: Path) -> None:
    async with ApiHarness.start(database_url, tmp_path) as api:
        org = await api.seed_org("acme")
        now = int(time.time())
        expired = jwt.encode(
            {
                "sub": org.users[Role.OWNER],
                "iss": "windflow",
                "typ": "access",
                "jti": "j",
                "iat": now - 100,
                "exp": now - 10,
            },
            api.settings.secret_key.get_secret_value(),
            algorithm="HS256",
        )
        response = await api.client.get("/targets", headers={"Authorization": f"Bearer {expired}"})
        assert response.status_code == 401
        assert "expired" in response.json()["detail"]


# --- OIDC: a real JWKS served over HTTP on 127.0.0.1 ---------------------------------


class _Issuer:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": "test-key", "use": "sig", "alg": "RS256"})
        self.jwks = {"keys": [jwk]}
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                # Keycloak-style: discovery and keys live under the realm's path.
                path = self.path.removeprefix("/realms/test")
                body: dict[str, Any]
                if path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"}
                elif path == "/jwks":
                    body = issuer.jwks
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/realms/test"

    def token(self, *, key: Any = None, iss: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": iss or self.url,
            "sub": "kc-123",
            "aud": "windflow",
            "iat": now,
            "exp": now + 300,
            "email": "alice@example.com",
            "email_verified": True,
        }
        payload.update(claims)
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": "test-key"})


@pytest.fixture
def issuer() -> Iterator[_Issuer]:
    issuer = _Issuer()
    thread = threading.Thread(target=issuer.server.serve_forever, daemon=True)
    thread.start()
    yield issuer
    issuer.server.shutdown()
    issuer.server.server_close()


async def test_oidc_tokens_from_the_issuer_are_accepted_and_others_refused(
    database_url: str, tmp_path: Path, issuer: _Issuer
) -> None:
    async with ApiHarness.start(
        database_url, tmp_path, oidc_issuer=issuer.url, oidc_audience="windflow"
    ) as api:
        org = await api.seed_org("acme")
        add = await api.client.post(
            "/users",
            headers=org.headers(Role.ADMIN),
            json={"email": "alice@example.com", "role": "operator"},
        )
        assert add.status_code == 201, add.text

        ok = await api.client.get("/auth/me", headers={"Authorization": f"Bearer {issuer.token()}"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["email"] == "alice@example.com"

        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cases = {
            "forged": issuer.token(key=other_key),
            "wrong-audience": issuer.token(aud="someone-else"),
            "expired": issuer.token(exp=int(time.time()) - 60, iat=int(time.time()) - 600),
            "unknown-user": issuer.token(sub="kc-999", email="mallory@example.com"),
            "wrong-issuer": issuer.token(iss="http://127.0.0.1:1/realms/evil"),
        }
        for name, token in cases.items():
            response = await api.client.get(
                "/auth/me", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 401, f"{name}: {response.status_code} {response.text}"
