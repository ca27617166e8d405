"""The browser side: strict headers on every response, no inline code in the chat UI, and
no cookie authentication anywhere (so there is nothing for a cross-site request to ride).
"""

from __future__ import annotations

import re
from pathlib import Path

from api.auth import jwt_tokens
from guardrails.rbac import Role
from tests.api.harness import ApiHarness

UI = Path(__file__).resolve().parents[2] / "chat-ui"


def test_the_chat_ui_has_no_inline_script_or_style() -> None:
    html = (UI / "index.html").read_text()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert 'src="/ui/' in tag and 'type="module"' in tag, tag
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html), "a script element has inline code"
    assert "<style" not in html and not re.search(r"\sstyle\s*=", html)
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler attribute"
    for source in UI.glob("*.js"):
        text = source.read_text()
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text, source.name
        assert not re.search(r"setAttribute\(\s*[\"']style", text), source.name
        assert "javascript:" not in text and "eval(" not in text, source.name


async def test_every_response_carries_the_hardening_headers(api: ApiHarness) -> None:
    pages = [await api.client.get(path) for path in ("/", "/ui/app.js", "/ui/app.css")]
    for page in pages:
        assert page.status_code == 200, page.request.url
        policy = page.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if " " in d.strip())
        assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'" and directives["default-src"] == "'none'"
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    health = await api.client.get("/health")
    for response in [*pages, health]:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cross-origin-opener-policy"] == "same-origin"
        assert response.headers["cross-origin-resource-policy"] == "same-origin"
        assert response.headers["x-frame-options"] == "DENY"


async def test_a_cookie_alone_never_authenticates(api: ApiHarness) -> None:
    org = await api.seed_org("acme")
    token = jwt_tokens.issue(api.settings, org.users[Role.OWNER], "access").token
    cookies = "; ".join(
        f"{name}={token}" for name in ("access_token", "token", "session", "Authorization")
    )
    for method, path in (
        ("GET", "/auth/me"),
        ("GET", "/targets"),
        ("POST", "/targets"),
        ("PUT", "/policies"),
        ("GET", "/audit/export"),
        ("POST", "/tools/saved_stacks/call"),
    ):
        response = await api.client.request(
            method, path, headers={"Cookie": cookies, "X-WindFlow-Org": org.id}, json={}
        )
        assert response.status_code == 401, (method, path, response.status_code)
    with_bearer = await api.client.get("/auth/me", headers=org.headers(Role.OWNER))
    assert with_bearer.status_code == 200

    login = await api.client.post(
        "/auth/login", json={"email": org.emails[Role.OWNER], "password": "correct-horse-battery"}
    )
    assert login.status_code == 200 and "set-cookie" not in login.headers
    schema = (await api.client.get("/openapi.json")).json()
    for path in schema["paths"].values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                assert parameter["in"] != "cookie", parameter
    schemes = schema.get("components", {}).get("securitySchemes", {})
    assert all(s.get("in") != "cookie" for s in schemes.values())
