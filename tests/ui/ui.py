"""What the browser tests share: a logged-in tab, the world they act on, waits, screenshots."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from guardrails.rbac import Role
from tests.api.harness import PASSWORD, SeededOrg
from tests.assistant.test_scripted_deploy import TWO_SERVICES
from tests.live_server import LiveServer

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

try:
    from playwright.async_api import expect
except ImportError:  # the browser fixture skips these tests (or fails them under CI=true)
    expect = None  # type: ignore[assignment]
else:
    expect.set_options(timeout=15_000)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCRATCH = Path(tempfile.gettempdir()) / "windflow-screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}


@dataclass
class Tab:
    """A browser context of its own (its own sessionStorage), logged in as one user."""

    page: Page
    role: Role
    errors: list[str] = field(default_factory=list)

    def assert_no_script_errors(self) -> None:
        assert not self.errors, f"errors in the page: {self.errors}"

    @property
    def conversation_id(self) -> str:
        url = self.page.url
        assert "#/chat/" in url, f"no conversation is open: {url}"
        return url.rsplit("/", 1)[-1]

    async def send(self, text: str) -> None:
        await self.page.get_by_test_id("message-input").fill(text)
        await self.page.get_by_test_id("send-button").click()

    async def go(self, nav: str) -> None:
        toggle = self.page.get_by_test_id("menu-toggle")
        if await toggle.is_visible():
            await toggle.click()
        await self.page.get_by_test_id(f"nav-{nav}").click()

    async def mark(self) -> None:
        """Remember this document: a reload would lose the mark (see ``still_same_page``)."""
        await self.page.evaluate("window.__windflowMark = 'kept'")

    async def still_same_page(self) -> bool:
        return bool(await self.page.evaluate("window.__windflowMark === 'kept'"))


async def open_tab(browser: Browser, server: LiveServer, viewport: dict[str, int] = DESKTOP) -> Tab:
    context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    page = await context.new_page()
    tab = Tab(page=page, role=Role.VIEWER)
    page.on("pageerror", lambda exc: tab.errors.append(f"{exc}"))
    await page.goto(f"{server.url}/")
    await expect(page.get_by_test_id("login-email")).to_be_visible()
    return tab


async def log_in(
    browser: Browser,
    server: LiveServer,
    org: SeededOrg,
    role: Role,
    viewport: dict[str, int] = DESKTOP,
    path: str = "",
) -> Tab:
    tab = await open_tab(browser, server, viewport)
    tab.role = role
    page = tab.page
    if path:
        await page.evaluate(f"location.hash = '#/{path}'")
    await page.get_by_test_id("login-email").fill(org.emails[role])
    await page.get_by_test_id("login-password").fill(PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("user-role")).to_have_text(role.value)
    return tab


async def world(
    http: httpx.AsyncClient, org: SeededOrg, engine_host: str, stack: str
) -> dict[str, Any]:
    """docker-local (the test engine) and a saved two-service stack, made by the admin."""
    admin = org.headers(Role.ADMIN)
    target = await http.post(
        "/targets",
        headers=admin,
        json={"name": "docker-local", "kind": "docker", "connection": {"host": engine_host}},
    )
    assert target.status_code == 201, target.text
    saved = await http.post(
        "/stacks",
        headers=admin,
        json={"name": stack, "description": "the blog", "compose_source": TWO_SERVICES},
    )
    assert saved.status_code == 201, saved.text
    return {"target": target.json(), "stack": saved.json()}


async def events(
    http: httpx.AsyncClient, org: SeededOrg, role: Role, conversation: str
) -> list[dict[str, Any]]:
    response = await http.get(
        f"/conversations/{conversation}/events?after=0&limit=1000", headers=org.headers(role)
    )
    assert response.status_code == 200, response.text
    return list(response.json())


async def wait_for_event(
    http: httpx.AsyncClient,
    org: SeededOrg,
    role: Role,
    conversation: str,
    event_type: str,
    within: float = 30.0,
) -> dict[str, Any]:
    """The first event of this type in the conversation, read over HTTP (not the browser)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for event in await events(http, org, role, conversation):
            if event["type"] == event_type:
                return event
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {event_type} event within {within} s")


async def screenshot(page: Page, name: str, full_page: bool = False) -> Path:
    """<name>.png of what the page shows now: in docs/screenshots/ when
    WINDFLOW_UPDATE_SCREENSHOTS=1, else in a scratch folder (a test run leaves git clean)."""
    folder = SCREENSHOTS if os.environ.get("WINDFLOW_UPDATE_SCREENSHOTS") == "1" else SCRATCH
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path
