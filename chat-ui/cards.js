// Cards shared by the chat and the approval queue: a tool call, and an approval request
// with its plan, diff and (for those allowed) Approve / Deny with a reason.

import { h, clear, badge, time, problem, mayDecide, whyNotDecide } from "./dom.js";
import { codeBlock, diffView, jsonBlock } from "./highlight.js";
import { post } from "./api.js";

const MULTILINE_LANG = { compose: "yaml", manifests: "yaml", manifest: "yaml", script: "sh", command: "sh" };

/** Tool arguments as a definition list; multi-line strings as highlighted code. */
export function argumentsView(args) {
  const entries = Object.entries(args || {});
  if (!entries.length) return h("p", { class: "muted" }, "No arguments.");
  return h("dl", { class: "args" }, entries.map(([key, value]) => {
    let shown;
    if (typeof value === "string" && value.includes("\n")) {
      shown = codeBlock(value.replace(/^\n/, ""), MULTILINE_LANG[key] || "", {
        filename: `${key}.${MULTILINE_LANG[key] === "yaml" ? "yaml" : "txt"}`, label: key,
      });
    } else if (value !== null && typeof value === "object") {
      shown = h("code", { class: "inline-json" }, JSON.stringify(value));
    } else shown = h("code", {}, String(value));
    return [h("dt", {}, key), h("dd", {}, shown)];
  }));
}

const STATUS_LABEL = {
  running: "running", ok: "ok", error: "error", denied: "denied",
  approval_required: "waiting for approval",
};

/** A collapsible tool call card; update(finished) fills in the result. */
export function toolCard(started) {
  const summaryStatus = h("span", { class: "tool-status" });
  const result = h("div", { class: "tool-result" });
  const el = h("details", { class: "card tool-card", testid: "tool-card", dataset: { tool: started.tool } },
    h("summary", {},
      h("span", { class: "tool-icon", "aria-hidden": "true" }, "⚙"),
      h("span", { class: "tool-name" }, "Tool ", h("code", {}, started.tool)),
      started.target ? h("span", { class: "tool-target" }, " on ", h("strong", {}, started.target)) : null,
      summaryStatus),
    h("div", { class: "card-body" },
      h("h4", {}, "Arguments"), argumentsView(started.arguments),
      result));

  function setStatus(status) {
    el.dataset.status = status;
    clear(summaryStatus, badge(status, STATUS_LABEL[status]));
  }
  setStatus("running");

  return {
    el,
    waiting() { setStatus("approval_required"); },
    update(finished) {
      setStatus(finished.status);
      const parts = [];
      if (finished.error) {
        parts.push(h("div", { class: `notice ${finished.status === "denied" ? "notice-warn" : "notice-bad"}` },
          h("p", {}, finished.error),
          finished.hint ? h("p", { class: "hint" }, `Hint: ${finished.hint}`) : null));
      }
      if (finished.output) {
        parts.push(h("h4", {}, "Output"), jsonBlock(finished.output, { label: "output" }));
        if (finished.truncated) parts.push(h("p", { class: "muted" }, "The output was cut short; ask for a narrower view to see more."));
      }
      clear(result, parts);
    },
  };
}

function changesList(changes) {
  if (!changes?.length) return null;
  return h("ul", { class: "changes" }, changes.map((c) => h("li", {},
    h("span", { class: `change change-${c.action}` }, c.action), " ",
    h("strong", {}, c.resource),
    c.detail ? h("span", { class: "muted" }, ` — ${c.detail}`) : null)));
}

/** The plan's words: summary, changes, warnings (the diff is shown beside them). */
export function planView(plan) {
  if (!plan) return null;
  return [
    plan.summary ? h("p", { class: "plan-summary" }, plan.summary) : null,
    changesList(plan.changes),
    plan.warnings?.length
      ? h("ul", { class: "notice notice-warn warnings" }, plan.warnings.map((w) => h("li", {}, `⚠ ${w}`)))
      : null,
  ];
}

/**
 * An approval request. info: {approval_id, tool, target, environment, plan, arguments,
 * status, decided_by, reason, requested_by, created_at, expires_at, required_approvals,
 * votes}. ctx: {role, who(userId)}. update(partial) re-renders with new facts.
 * onDeciding() runs before a decision is sent, onDecided(view or null on failure) after.
 */
export function approvalCard(info, ctx, { onDeciding = () => {}, onDecided = () => {} } = {}) {
  const state = { status: "pending", ...info };
  const titleId = `approval-${state.approval_id}`;
  const head = h("div", { class: "card-head" });
  const meta = h("p", { class: "approval-meta muted" });
  const decision = h("div", { class: "decision" });
  const el = h("article", {
    class: "card approval-card", testid: "approval-card", "aria-labelledby": titleId,
    dataset: { approvalId: state.approval_id },
  }, head, meta, h("div", { class: "approval-main" },
    h("div", { class: "approval-text" },
      h("div", { class: "plan" }, planView(state.plan)),
      h("details", { class: "args-details" }, h("summary", {}, "Arguments"), argumentsView(state.arguments)),
      decision),
    state.plan?.diff ? h("div", { class: "approval-diff" }, diffView(state.plan.diff, "Planned diff")) : null));
  let reasonText = "";

  function render(decisionChanged = true) {
    el.dataset.status = state.status;
    const where = state.target ? [" on ", h("strong", {}, state.target)] : [];
    const env = state.environment ? h("span", { class: "env-tag" }, state.environment) : null;
    clear(head,
      h("h3", { id: titleId }, state.status === "pending" ? "Approval needed: " : "Approval: ",
        h("code", {}, state.tool), where, env ? " " : null, env),
      badge(state.status, state.status === "pending" ? "waiting for approval" : null));
    const votes = state.votes?.filter((v) => v.decision === "approve").length || 0;
    clear(meta,
      state.requested_by ? ["Requested by ", ctx.who(state.requested_by)] : null,
      state.created_at ? [" · ", time(state.created_at)] : null,
      state.status === "pending" && state.expires_at ? [" · expires ", time(state.expires_at)] : null,
      state.required_approvals > 1 ? ` · ${votes} of ${state.required_approvals} approvals` : null);
    if (decisionChanged) renderDecision();
  }

  function renderDecision() {
    if (state.status !== "pending") {
      const by = state.decided_by ? [" by ", ctx.who(state.decided_by)] : "";
      clear(decision, h("p", { class: `decided decided-${state.status}`, testid: "approval-outcome" },
        badge(state.status), " ", state.status === "expired" ? "Nobody decided in time." : ["Decided", by, "."],
        state.reason ? [" Reason: ", h("q", {}, state.reason)] : null,
        state.status === "denied" ? " Nothing was changed." : null));
      return;
    }
    if (state.environment === undefined) {
      clear(decision, h("p", { class: "muted" }, "Checking who may decide…"));
      return;
    }
    if (!mayDecide(ctx.role, state.environment)) {
      clear(decision, h("p", { class: "muted", testid: "cannot-decide" }, whyNotDecide(ctx.role, state.environment)));
      return;
    }
    const inputId = `reason-${state.approval_id}`;
    const input = h("input", {
      id: inputId, type: "text", maxlength: "2000", testid: "decision-reason", value: reasonText,
      placeholder: "Shown to the requester",
      oninput: () => { reasonText = input.value; },
    });
    const errors = h("div", { class: "decision-errors" });
    const approve = h("button", { type: "button", class: "btn btn-primary", testid: "approve-button" }, "Approve");
    const deny = h("button", { type: "button", class: "btn btn-danger", testid: "deny-button" }, "Deny");
    const decide = async (verdict) => {
      approve.disabled = deny.disabled = true;
      clear(errors);
      onDeciding();
      try {
        const view = await post(`/approvals/${state.approval_id}/${verdict}`, { reason: input.value.trim() || null });
        update(fromApproval(view, state));
        onDecided(view);
      } catch (err) {
        onDecided(null);
        clear(errors, problem(err, "decision-error"));
        approve.disabled = deny.disabled = false;
      }
    };
    approve.addEventListener("click", () => decide("approve"));
    deny.addEventListener("click", () => decide("deny"));
    clear(decision,
      h("div", { class: "decision-row" },
        h("div", { class: "field" }, h("label", { for: inputId }, "Reason (optional)"), input),
        h("div", { class: "actions" }, approve, deny)),
      errors);
  }

  function update(partial) {
    const before = `${state.status}|${state.environment}`;
    Object.assign(state, Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)));
    // Keep the reason field (and its focus) unless what can be decided has changed.
    render(`${state.status}|${state.environment}` !== before);
  }

  render();
  return { el, update, get status() { return state.status; } };
}

/** The card's facts from an approval as the API returns it (GET /approvals). */
export function fromApproval(view, known = {}) {
  return {
    approval_id: view.id,
    tool: view.tool,
    target: known.target,
    environment: view.target_environment,
    plan: view.plan,
    arguments: view.arguments,
    status: view.status,
    decided_by: view.decided_by,
    reason: view.reason,
    requested_by: view.requested_by,
    created_at: view.created_at,
    expires_at: view.expires_at,
    required_approvals: view.required_approvals,
    votes: view.votes,
  };
}
