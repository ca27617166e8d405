"""The chat in a real browser without an engine: streaming and reconnection, keyboard use,
safe Markdown with highlighted code, the phone layout, and the size of the first load."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from assistant.scripted import ScriptedModel, call, say, stall
from guardrails.rbac import Role
from tests.api.harness import PASSWORD, SeededOrg
from tests.live_server import LiveServer
from tests.ui.ui import PHONE, events, expect, log_in, open_tab, screenshot, wait_for_event

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

LONG_ANSWER = (
    "Nothing is saved yet, so there is nothing to deploy. Save a compose file as a stack "
    "(POST /stacks), then ask me to deploy it to a target; I will show you the plan and "
    "wait for an approval before anything changes."
)

# The bubble had the "streaming" class (tokens shown before the final text) at some point.
WATCH_STREAMING = """
el => {
  window.__streamed = 0;
  new MutationObserver((records) => {
    for (const r of records) {
      if ((r.oldValue || "").includes("streaming")) window.__streamed += 1;
    }
  }).observe(el, { subtree: true, attributes: true, attributeFilter: ["class"],
                   attributeOldValue: true });
}
"""


async def test_streamed_answer_survives_a_dropped_connection(
    browser: Browser,
    server: LiveServer,
    org: SeededOrg,
    http: httpx.AsyncClient,
    model: ScriptedModel,
) -> None:
    first = "Hello! I deploy stacks, diagnose failing services and review compose files " * 2
    model.script(
        say(first.strip()),
        call("saved_stacks"),
        stall(1.5, say(LONG_ANSWER)),
    )
    tab = await log_in(browser, server, org, Role.OPERATOR)
    page = tab.page
    await page.get_by_test_id("messages").evaluate(WATCH_STREAMING)
    await tab.send("hello")
    answers = page.get_by_test_id("message-assistant")
    await expect(answers.first.locator(".bubble-text")).to_have_text(first.strip())
    assert await page.evaluate("window.__streamed") > 0, "tokens were shown as they came"
    await expect(page.get_by_test_id("stream-state")).to_have_attribute("data-state", "open")

    await tab.send("what can you deploy?")
    await expect(page.get_by_test_id("tool-card").first).to_have_attribute("data-status", "ok")
    await expect(page.get_by_test_id("run-status")).to_have_text("Thinking…")
    await page.context.set_offline(True)
    await expect(page.get_by_test_id("stream-state")).to_have_attribute(
        "data-state", "reconnecting"
    )
    await expect(page.get_by_test_id("stream-state")).to_contain_text("reconnecting")
    # The run ends while the browser is offline; the events wait in the log.
    await wait_for_event(http, org, Role.OPERATOR, tab.conversation_id, "run_finished")
    await asyncio.sleep(0.3)
    await page.context.set_offline(False)

    await expect(answers).to_have_count(2)
    await expect(answers.nth(1).locator(".bubble-text")).to_have_text(LONG_ANSWER)
    await expect(page.get_by_test_id("stream-state")).to_have_attribute("data-state", "open")
    await expect(page.get_by_test_id("run-outcome")).to_have_count(2)
    await expect(page.get_by_test_id("tool-card")).to_have_count(1)
    await expect(page.get_by_test_id("message-user")).to_have_count(2)
    assert await page.locator(".run").count() == 2
    log = await events(http, org, Role.OPERATOR, tab.conversation_id)
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    model.assert_complete()
    tab.assert_no_script_errors()


async def test_cancel_stops_a_running_run(
    browser: Browser, server: LiveServer, org: SeededOrg, model: ScriptedModel
) -> None:
    model.script(stall(30, say("This answer never comes.")))
    tab = await log_in(browser, server, org, Role.OPERATOR)
    page = tab.page
    await tab.send("take your time")
    await expect(page.get_by_test_id("run-status")).to_have_text("Thinking…")
    await page.get_by_test_id("cancel-button").click()
    await expect(page.get_by_test_id("run-outcome")).to_have_attribute("data-outcome", "cancelled")
    await expect(page.get_by_test_id("message-assistant")).to_contain_text("cancelled")
    await expect(page.get_by_test_id("cancel-button")).to_be_hidden()
    await expect(page.get_by_test_id("run-status")).to_have_text("")
    model.assert_complete()
    tab.assert_no_script_errors()


async def _tab_to(page: Page, testid: str, limit: int = 40) -> list[dict[str, Any]]:
    """Press Tab until the element with this test id has the focus; what was focused."""
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(
            """() => {
              const el = document.activeElement;
              const style = getComputedStyle(el);
              return { testid: el.dataset.testid || "", tag: el.tagName,
                       text: (el.textContent || "").trim().slice(0, 40),
                       outline: style.outlineStyle, width: parseFloat(style.outlineWidth) };
            }"""
        )
        seen.append(focused)
        if focused["testid"] == testid:
            return seen
    raise AssertionError(f"{testid} not reached with Tab; focus went through {seen}")


async def test_keyboard_only_login_and_chat(
    browser: Browser, server: LiveServer, org: SeededOrg, model: ScriptedModel
) -> None:
    model.script(call("saved_stacks"), say("No stacks are saved yet."))
    tab = await open_tab(browser, server)
    page = tab.page
    await _tab_to(page, "login-email")
    await page.keyboard.type(org.emails[Role.OPERATOR])
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("user-role")).to_have_text("operator")
    # After logging in, the focus is in the message box already; from the top it is reachable.
    await expect(page.get_by_test_id("message-input")).to_be_focused()
    await page.reload()
    await expect(page.get_by_test_id("user-role")).to_have_text("operator")
    path = await _tab_to(page, "message-input")
    reached = {f["testid"] for f in path}
    assert {"nav-chat", "nav-approvals", "nav-targets", "logout", "new-conversation"} <= reached
    for focused in path:
        assert focused["outline"] != "none" and focused["width"] >= 2, f"no focus ring: {focused}"

    await page.keyboard.type("what is saved?")
    await page.keyboard.press("Shift+Enter")
    await page.keyboard.type("list it")
    await page.keyboard.press("Enter")
    user = page.get_by_test_id("message-user")
    await expect(user.locator(".bubble-text")).to_have_text("what is saved?\nlist it")
    answer = page.get_by_test_id("message-assistant").last.locator(".bubble-text")
    await expect(answer).to_have_text("No stacks are saved yet.")
    await expect(page.get_by_test_id("message-input")).to_be_focused()
    # The tool card opens from the keyboard too.
    for _ in range(12):
        await page.keyboard.press("Shift+Tab")
        if await page.evaluate("document.activeElement.tagName === 'SUMMARY'"):
            break
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("tool-card")).to_have_attribute("open", "")
    model.assert_complete()
    tab.assert_no_script_errors()


MARKDOWN_ANSWER = """**Done.** Here is the `compose` file:

```yaml
services:
  web:
    image: nginx:1.27   # pinned
    ports: ["8080:80"]
    restart: true
```

- one <img src=x onerror="window.__pwned=1">
- two <script>window.__pwned=2</script>

1. first [docs](https://docs.docker.com/compose/)
2. second [bad](javascript:window.__pwned=3)"""


async def test_phone_width_markdown_and_code_blocks(
    browser: Browser, server: LiveServer, org: SeededOrg, model: ScriptedModel
) -> None:
    model.script(say(MARKDOWN_ANSWER))
    tab = await log_in(browser, server, org, Role.OPERATOR, viewport=PHONE)
    page = tab.page
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await expect(page.locator("#site-nav")).to_be_hidden()
    await tab.send("show me a compose file for nginx")
    bubble = page.get_by_test_id("message-assistant").last
    await expect(bubble.locator(".code-block")).to_be_visible()
    await expect(page.get_by_test_id("run-outcome")).to_be_visible()

    # Safe: HTML in the answer is text; only http(s) links become links.
    assert await bubble.locator("img, script, iframe").count() == 0
    await expect(bubble).to_contain_text('<img src=x onerror="window.__pwned=1">')
    await expect(bubble.locator("strong").first).to_have_text("Done.")
    await expect(bubble.locator("p code")).to_have_text("compose")
    await expect(bubble.locator("ul > li")).to_have_count(2)
    await expect(bubble.locator("ol > li")).to_have_count(2)
    await expect(bubble.locator("a")).to_have_count(1)
    await expect(bubble.locator("a")).to_have_attribute("href", "https://docs.docker.com/compose/")
    assert await page.evaluate("window.__pwned === undefined")
    code = bubble.locator(".code-block")
    await expect(code).to_have_attribute("data-lang", "yaml")
    await expect(code.locator(".tok-key")).to_have_count(5)
    await expect(code.locator(".tok-comment")).to_have_text("# pinned")
    await expect(code.locator(".tok-literal")).to_have_text("true")

    await code.get_by_test_id("copy-code").click()
    await expect(code.locator(".copy-status")).to_have_text("Copied")
    copied = await page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("services:\n  web:") and "<" not in copied
    async with page.expect_download() as downloading:
        await code.get_by_test_id("download-code").click()
    download = await downloading.value
    assert download.suggested_filename.endswith(".yaml")

    # Phone layout: no horizontal scroll, the list above the chat, the menu collapses.
    assert await _no_horizontal_scroll(page)
    listed = await page.locator(".conv-list").bounding_box()
    chat = await page.locator(".chat-pane").bounding_box()
    assert listed and chat and listed["y"] < chat["y"]
    await page.get_by_test_id("message-input").scroll_into_view_if_needed()
    await screenshot(page, "phone-chat")
    for nav in ("approvals", "targets", "deployments", "audit"):
        await tab.go(nav)
        await expect(page.locator("h1")).to_be_focused()
        assert await _no_horizontal_scroll(page), f"{nav} scrolls sideways at 375 px"
    model.assert_complete()
    tab.assert_no_script_errors()


async def _no_horizontal_scroll(page: Page) -> bool:
    return bool(
        await page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


async def test_first_load_is_small_and_self_contained(browser: Browser, server: LiveServer) -> None:
    # Its time is a benchmark (bench/sse.py prints it), not a pass/fail on a shared machine.
    tab = await open_tab(browser, server)
    timing = await tab.page.evaluate(
        """() => {
          const nav = performance.getEntriesByType("navigation")[0];
          const resources = performance.getEntriesByType("resource");
          return { load: nav.loadEventEnd, bytes: nav.transferSize +
                   resources.reduce((sum, r) => sum + r.transferSize, 0),
                   files: resources.map((r) => r.name) };
        }"""
    )
    print(f"first load: {timing['bytes']} bytes in {timing['load']:.0f} ms, {timing['files']}")
    assert timing["bytes"] < 300_000
    assert all("/ui/" in name for name in timing["files"]), "no third-party requests"
    tab.assert_no_script_errors()


async def test_session_refreshes_once_then_goes_back_to_login(
    browser: Browser, server: LiveServer, org: SeededOrg
) -> None:
    tab = await log_in(browser, server, org, Role.ADMIN, path="targets")
    page = tab.page
    await expect(page.locator("h1")).to_have_text("Targets")
    # An expired access token: the client refreshes (single-use) and carries on.
    await page.evaluate("sessionStorage.setItem('wf.access', 'expired.token.value')")
    await tab.go("deployments")
    await expect(page.get_by_test_id("deployments-list")).to_contain_text("No deployments yet")
    assert await page.evaluate("sessionStorage.getItem('wf.access') !== 'expired.token.value'")
    # Both tokens unusable: back to the login page with a polite notice.
    await page.evaluate(
        "sessionStorage.setItem('wf.access', 'bad'); sessionStorage.setItem('wf.refresh', 'bad')"
    )
    await tab.go("targets")
    await expect(page.get_by_test_id("login-email")).to_be_visible()
    await expect(page.get_by_test_id("login-error")).to_contain_text("log in again")
    tab.assert_no_script_errors()


async def test_a_member_of_two_organizations_switches_between_them(
    browser: Browser, server: LiveServer, org: SeededOrg, http: httpx.AsyncClient
) -> None:
    other = await server.seed_org("globex")
    email = org.emails[Role.OPERATOR]
    added = await http.post(
        "/users", headers=other.headers(Role.ADMIN), json={"email": email, "role": "viewer"}
    )
    assert added.status_code == 201, added.text
    tab = await open_tab(browser, server)
    page = tab.page
    await page.get_by_test_id("login-email").fill(email)
    await page.get_by_test_id("login-password").fill(PASSWORD)
    await page.get_by_test_id("login-submit").click()
    picker = page.get_by_test_id("org-picker")
    await expect(picker.locator("option")).to_have_count(2)
    for slug, target, role in (("acme", org, "operator"), ("globex", other, "viewer")):
        await picker.select_option(target.id)
        await expect(page.get_by_test_id("user-role")).to_have_text(role)
        await expect(picker).to_have_value(target.id)
        await expect(picker.locator("option:checked")).to_contain_text(slug.title())
        assert await page.evaluate("sessionStorage.getItem('wf.org')") == target.id
        await expect(page.get_by_test_id("conversation-list")).to_contain_text("No conversations")
    tab.assert_no_script_errors()
