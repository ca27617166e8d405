"""Fixtures of the browser tests: a real WindFlow server, a scripted model and Chromium.

Chromium is Debian's (``/usr/bin/chromium``), driven by the ``playwright`` package; no
browser is ever downloaded. Without either, browser tests skip with the reason, and fail
under ``CI=true`` (:func:`tests.infra.availability.require`).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from assistant.scripted import ScriptedModel
from tests.api.harness import SeededOrg
from tests.infra.availability import require
from tests.infra.browser import CHROMIUM, CHROMIUM_ARGS
from tests.live_server import LiveServer, test_settings

if TYPE_CHECKING:
    from playwright.async_api import Browser


@pytest.fixture
def server(database_url: str, tmp_path: Path, model: ScriptedModel) -> Iterator[LiveServer]:
    settings = test_settings(
        database_url, tmp_path, llm_model=model.install(), llm_retry_backoff_seconds=0.01
    )
    live = LiveServer(settings)
    # Open event streams must not hold the shutdown up (uvicorn waits for them otherwise).
    live.server.config.timeout_graceful_shutdown = 1
    with live:
        yield live


@pytest.fixture
async def org(server: LiveServer) -> SeededOrg:
    return await server.seed_org("acme")


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture
async def browser(server: LiveServer) -> AsyncIterator[Browser]:
    """Chromium, closed before the server stops (so its streams end first)."""
    try:
        from playwright.async_api import async_playwright
    except ImportError as exc:
        require("playwright", f"the Python package is missing ({exc}); pip install playwright")
    if shutil.which(CHROMIUM) is None:
        require("chromium", f"{CHROMIUM} is missing; install Debian's chromium package")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()
