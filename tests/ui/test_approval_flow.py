"""The issue's story in a real browser: an operator asks the assistant to deploy, an admin
approves (or denies) in another browser, live, and the containers run on a real engine.

Each test runs its own WindFlow server (uvicorn on 127.0.0.1, SQLite) with a scripted
model, and Debian's Chromium with one browser context per person.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import httpx
import pytest

from assistant.scripted import ScriptedModel, call, say
from guardrails.rbac import Role
from tests.adapters.test_docker_host import ids
from tests.api.harness import SeededOrg
from tests.assistant.test_scripted_deploy import TWO_SERVICES, _cleanup
from tests.infra.docker_engine import DockerEngine
from tests.live_server import LiveServer
from tests.ui import screenshots
from tests.ui.ui import expect, log_in, wait_for_event, world

if TYPE_CHECKING:
    from playwright.async_api import Browser

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _stack() -> str:
    return f"blog{uuid.uuid4().hex[:8]}"


async def test_admin_asks_an_operator_approves_live_and_the_stack_runs(
    browser: Browser,
    server: LiveServer,
    org: SeededOrg,
    http: httpx.AsyncClient,
    model: ScriptedModel,
    docker_engine: DockerEngine,
) -> None:
    stack = _stack()
    answer = f"The **{stack}** stack is running on docker-local:\n\n- db\n- api"
    model.script(
        call("saved_stack", name=stack),
        call("deploy_stack", target="docker-local", stack=stack, compose=TWO_SERVICES),
        say(answer),
    )
    await world(http, org, docker_engine.host, stack)
    try:
        requester = await log_in(browser, server, org, Role.ADMIN)
        await screenshots.login(browser, server)
        # An requester watches the queue before anything is asked: the card must arrive live.
        approver = await log_in(browser, server, org, Role.OPERATOR, path="approvals")
        await expect(approver.page.get_by_test_id("approvals-live")).to_contain_text("Live")
        await expect(approver.page.get_by_test_id("approvals-empty")).to_be_visible()
        await approver.mark()
        await requester.mark()

        await requester.page.get_by_test_id("new-conversation").click()
        await requester.send(f"deploy {stack} to docker-local")
        chat = requester.page
        card = chat.get_by_test_id("approval-card")
        await expect(card).to_be_visible()
        await expect(card).to_contain_text("create db")
        await expect(card.locator(".diff-add").first).to_be_visible()
        await expect(chat.get_by_test_id("run-status")).to_contain_text("Waiting for approval")
        await expect(chat.get_by_test_id("cancel-button")).to_be_visible()
        await expect(card.get_by_test_id("approve-button")).to_be_visible()  # admins may
        tools = chat.get_by_test_id("tool-card")
        await expect(tools).to_have_count(2)
        await expect(tools.nth(0)).to_have_attribute("data-status", "ok")
        await expect(tools.nth(1)).to_have_attribute("data-status", "approval_required")
        await expect(chat.get_by_test_id("conversation-item")).to_have_count(1)
        assert ids(docker_engine, stack) == {}, "nothing runs before the approval"

        queued = approver.page.get_by_test_id("approval-card")
        await expect(queued).to_have_count(1)
        await expect(queued).to_contain_text("deploy_stack")
        await expect(queued).to_contain_text("docker-local")
        await expect(queued.locator(".diff-add").first).to_be_visible()
        await screenshots.chat_and_queue(requester, approver)

        await queued.get_by_test_id("decision-reason").fill("looks right")
        await queued.get_by_test_id("approve-button").click()
        await expect(queued).to_have_attribute("data-status", "approved")

        # The requester's page follows by itself: decision, tool result, final answer.
        await expect(card).to_have_attribute("data-status", "approved")
        await expect(card.get_by_test_id("approval-outcome")).to_contain_text("looks right")
        await expect(card.get_by_test_id("approve-button")).to_have_count(0)
        await expect(tools.nth(1)).to_have_attribute("data-status", "ok")
        final = chat.get_by_test_id("message-assistant").last
        await expect(final).to_contain_text(f"The {stack} stack is running on docker-local")
        await expect(final.locator("strong")).to_have_text(stack)
        await expect(chat.get_by_test_id("run-outcome")).to_have_attribute(
            "data-outcome", "succeeded"
        )
        await expect(chat.get_by_test_id("run-status")).to_have_text("")
        await expect(chat.get_by_test_id("cancel-button")).to_be_hidden()
        assert await requester.still_same_page() and await approver.still_same_page(), "no reload"
        assert set(ids(docker_engine, stack)) == {"db", "api"}
        model.assert_complete()

        await screenshots.chat_finished(requester)
        await screenshots.pages_after_deploy(requester)  # an admin may read the audit log
        requester.assert_no_script_errors()
        approver.assert_no_script_errors()
    finally:
        _cleanup(docker_engine, stack)


async def test_admin_denies_from_the_queue_and_nothing_runs(
    browser: Browser,
    server: LiveServer,
    org: SeededOrg,
    http: httpx.AsyncClient,
    model: ScriptedModel,
    docker_engine: DockerEngine,
) -> None:
    stack = _stack()
    model.script(
        call("deploy_stack", target="docker-local", stack=stack, compose=TWO_SERVICES),
        say("The deployment was denied, so nothing was changed."),
    )
    await world(http, org, docker_engine.host, stack)
    try:
        operator = await log_in(browser, server, org, Role.OPERATOR)
        await operator.send(f"deploy {stack} to docker-local")
        chat = operator.page
        card = chat.get_by_test_id("approval-card")
        await expect(card).to_be_visible()

        # One run at a time: a second message now is refused with the API's reason.
        await operator.send("and deploy it again")
        refused = chat.get_by_test_id("send-error")
        await expect(refused).to_contain_text("waits for approval")
        await expect(refused).to_contain_text("Hint:")
        await expect(chat.get_by_test_id("message-input")).to_have_value("and deploy it again")

        admin = await log_in(browser, server, org, Role.ADMIN, path="approvals")
        queued = admin.page.get_by_test_id("approval-card")
        await queued.get_by_test_id("decision-reason").fill("not today")
        await queued.get_by_test_id("deny-button").click()
        await expect(queued).to_have_attribute("data-status", "denied")

        await expect(card).to_have_attribute("data-status", "denied")
        await expect(card.get_by_test_id("approval-outcome")).to_contain_text("not today")
        await expect(card.get_by_test_id("approval-outcome")).to_contain_text("Nothing was changed")
        tool = chat.get_by_test_id("tool-card")
        await expect(tool).to_have_attribute("data-status", "denied")
        await tool.locator("summary").click()
        await expect(tool).to_contain_text("not today")
        answer = chat.get_by_test_id("message-assistant").last.locator(".bubble-text")
        await expect(answer).to_have_text("The deployment was denied, so nothing was changed.")
        await expect(chat.get_by_test_id("run-outcome")).to_be_visible()
        assert ids(docker_engine, stack) == {}
        finished = await wait_for_event(
            http, org, Role.OPERATOR, operator.conversation_id, "run_finished"
        )
        assert finished["payload"]["outcome"] == "succeeded"

        # Opened again later, the conversation shows the same story from its history.
        await chat.reload()
        await expect(card).to_have_attribute("data-status", "denied")
        await expect(tool).to_have_attribute("data-status", "denied")
        await expect(answer).to_have_text("The deployment was denied, so nothing was changed.")
        await expect(chat.get_by_test_id("message-assistant")).to_have_count(1)
        await expect(chat.get_by_test_id("message-user")).to_have_count(1)
        await expect(chat.get_by_test_id("run-outcome")).to_have_count(1)
        await expect(chat.get_by_test_id("stream-state")).to_have_attribute("data-state", "open")
        model.assert_complete()
        operator.assert_no_script_errors()
        admin.assert_no_script_errors()
    finally:
        _cleanup(docker_engine, stack)


async def test_viewer_sees_the_queue_without_buttons_and_cannot_forge_a_decision(
    browser: Browser,
    server: LiveServer,
    org: SeededOrg,
    http: httpx.AsyncClient,
    docker_engine: DockerEngine,
) -> None:
    stack = _stack()
    await world(http, org, docker_engine.host, stack)
    proposed = await http.post(
        "/tools/deploy_stack/call",
        headers=org.headers(Role.OPERATOR),
        json={"target": "docker-local", "arguments": {"stack": stack, "compose": TWO_SERVICES}},
    )
    assert proposed.json()["status"] == "approval_required", proposed.text
    approval_id = proposed.json()["approval_id"]

    viewer = await log_in(browser, server, org, Role.VIEWER, path="approvals")
    card = viewer.page.get_by_test_id("approval-card")
    await expect(card).to_have_count(1)
    await expect(card).to_contain_text("deploy_stack")
    await expect(card.get_by_test_id("cannot-decide")).to_contain_text("viewer")
    await expect(card.get_by_test_id("approve-button")).to_have_count(0)
    await expect(card.get_by_test_id("deny-button")).to_have_count(0)
    await expect(viewer.page.get_by_test_id("filter-decidable")).to_have_count(0)

    forged = await http.post(
        f"/approvals/{approval_id}/approve",
        headers=org.headers(Role.VIEWER),
        json={"reason": "I approve myself"},
    )
    assert forged.status_code == 403, forged.text
    assert forged.json()["detail"], "a problem document with a detail"
    still = await http.get(f"/approvals/{approval_id}", headers=org.headers(Role.ADMIN))
    assert still.json()["status"] == "pending" and still.json()["votes"] == []

    await viewer.go("audit")
    await expect(viewer.page.get_by_test_id("audit-forbidden")).to_contain_text("admins")
    assert ids(docker_engine, stack) == {}
    viewer.assert_no_script_errors()


async def test_operator_may_decide_dev_changes_but_not_prod_ones(
    browser: Browser,
    server: LiveServer,
    org: SeededOrg,
    http: httpx.AsyncClient,
    docker_engine: DockerEngine,
) -> None:
    stack = _stack()
    await world(http, org, docker_engine.host, stack)
    prod = await http.post(
        "/targets",
        headers=org.headers(Role.ADMIN),
        json={
            "name": "docker-prod",
            "kind": "docker",
            "environment": "prod",
            "connection": {"host": docker_engine.host},
        },
    )
    assert prod.status_code == 201, prod.text
    for target, role in (("docker-local", Role.OPERATOR), ("docker-prod", Role.ADMIN)):
        proposed = await http.post(
            "/tools/deploy_stack/call",
            headers=org.headers(role),
            json={"target": target, "arguments": {"stack": stack, "compose": TWO_SERVICES}},
        )
        assert proposed.json()["status"] == "approval_required", proposed.text

    operator = await log_in(browser, server, org, Role.OPERATOR, path="approvals")
    page = operator.page
    cards = page.get_by_test_id("approval-card")
    await expect(cards).to_have_count(2)
    prod_card = cards.filter(has_text="docker-prod")
    dev_card = cards.filter(has_text="docker-local")
    await expect(prod_card.get_by_test_id("cannot-decide")).to_contain_text("admins")
    await expect(prod_card.get_by_test_id("approve-button")).to_have_count(0)
    await expect(dev_card.get_by_test_id("approve-button")).to_be_visible()

    await page.get_by_test_id("filter-decidable").check()
    await expect(cards).to_have_count(1)
    await expect(cards).to_contain_text("docker-local")
    await page.get_by_test_id("filter-decidable").uncheck()
    await page.get_by_test_id("filter-environment").select_option("prod")
    await expect(cards).to_have_count(1)
    await expect(cards).to_contain_text("docker-prod")
    await page.get_by_test_id("filter-environment").select_option("")
    await page.get_by_test_id("filter-age").select_option("old:3600")
    await expect(page.get_by_test_id("approvals-empty")).to_be_visible()
    assert ids(docker_engine, stack) == {}
    operator.assert_no_script_errors()
