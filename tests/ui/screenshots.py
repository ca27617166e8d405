"""Screenshots of the main pages for docs/screenshots/, taken by the browser tests at the
moments that show the most (a pending approval, a finished deployment).

1280x800 unless noted; the phone view is 375x740 (see test_chat_ui.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.live_server import LiveServer
from tests.ui.ui import Tab, expect, open_tab, screenshot

if TYPE_CHECKING:
    from playwright.async_api import Browser


async def login(browser: Browser, server: LiveServer) -> None:
    tab = await open_tab(browser, server)
    await screenshot(tab.page, "login")
    await tab.page.context.close()


async def chat_and_queue(operator: Tab, admin: Tab) -> None:
    """The chat with tool cards and an approval card; the admin's queue with the plan."""
    page = operator.page
    await page.get_by_test_id("messages").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    await screenshot(page, "chat-approval")
    await screenshot(admin.page, "approvals")


async def chat_finished(operator: Tab) -> None:
    """The chat after the approval: decided card, tool cards ok, the final answer."""
    page = operator.page
    await page.get_by_test_id("messages").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    await screenshot(page, "chat-finished")


async def pages_after_deploy(admin: Tab) -> None:
    page = admin.page
    await admin.go("targets")
    await page.get_by_test_id("check-button").first.click()
    await expect(page.get_by_test_id("check-result").first).to_contain_text("reachable")
    await page.locator(".stack-picker button").first.click()
    await expect(page.locator(".stack-status table")).to_be_visible()
    await screenshot(page, "targets")
    await admin.go("deployments")
    row = page.get_by_test_id("deployment-row").first
    await row.locator("summary").click()
    await expect(row.locator(".code-block")).to_be_visible()
    await screenshot(page, "deployments")
    await admin.go("audit")
    await expect(page.get_by_test_id("audit-row").first).to_be_visible()
    await screenshot(page, "audit")
