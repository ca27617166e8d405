// The conversation timeline: user messages and the events of each run (streamed text,
// tool cards, approval cards, errors, outcome), each event applied once, by sequence.

import { h, clear, badge } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { toolCard, approvalCard, fromApproval } from "./cards.js";
import { get } from "./api.js";

export class Timeline {
  /**
   * root: the aria-live message list. ctx: {role, who, environmentOf(targetName)}.
   * onChange(state): state = {active, phase, tool, target, outcome} after each event.
   */
  constructor(root, ctx, onChange = () => {}) {
    this.root = root;
    this.ctx = ctx;
    this.onChange = onChange;
    this.lastSeq = 0;
    this.runs = new Map();
    this.tools = new Map(); // "run:call" -> newest tool card with that call id
    this.approvals = new Map(); // approval id -> card
    this.state = { active: false, phase: "idle" };
    this.live = false; // true once the history is replayed and events arrive as they happen
  }

  run(runId) {
    let run = this.runs.get(runId);
    if (!run) {
      const user = h("div", { class: "run-user" });
      const body = h("div", { class: "run-body" });
      const el = h("section", { class: "run", dataset: { runId }, "aria-label": "Request and answer" }, user, body);
      run = { el, user, body, bubble: null, text: "", answered: false };
      this.runs.set(runId, run);
      this.root.append(el);
    }
    return run;
  }

  addUser(runId, text) {
    const run = this.run(runId);
    if (run.user.childElementCount) return;
    run.user.append(h("div", { class: "bubble bubble-user", testid: "message-user" },
      h("span", { class: "visually-hidden" }, "You said: "),
      h("div", { class: "bubble-text" }, text)));
  }

  /** Messages stored for a run that no event showed (older history, rules answers). */
  addStoredAnswer(runId, text) {
    const run = this.run(runId);
    if (run.answered || !text) return;
    this.assistantText(run, text, true);
  }

  assistantText(run, text, final) {
    if (!run.bubble) {
      run.content = h("div", { class: "bubble-text md" });
      run.bubble = h("div", { class: "bubble bubble-assistant", testid: "message-assistant" },
        h("span", { class: "visually-hidden" }, "WindFlow said: "), run.content);
      run.body.append(run.bubble);
      run.text = "";
    }
    run.text = text;
    clear(run.content, renderMarkdown(text));
    if (final !== null) {
      run.bubble.dataset.final = String(Boolean(final));
      if (final) run.answered = true;
      run.bubble.classList.remove("streaming");
      run.bubble = null;
    } else run.bubble.classList.add("streaming");
  }

  /** Apply one run event; false if it was already applied (seq not above the last). */
  apply(event) {
    if (event.seq <= this.lastSeq) return false;
    this.lastSeq = event.seq;
    const run = this.run(event.run_id);
    const p = event.payload || {};
    const st = this.state;
    switch (event.type) {
      case "run_started":
        Object.assign(st, { active: true, phase: "thinking", runId: event.run_id, outcome: null });
        break;
      case "token":
        this.assistantText(run, (run.bubble ? run.text : "") + (p.text || ""), null);
        st.phase = "writing";
        break;
      case "message":
        if (p.role === "user") this.addUser(event.run_id, p.text);
        else this.assistantText(run, p.text || "", Boolean(p.final));
        break;
      case "tool_started": {
        const card = toolCard(p);
        this.tools.set(`${event.run_id}:${p.call_id}`, card);
        run.body.append(card.el);
        Object.assign(st, { phase: "tool", tool: p.tool, target: p.target });
        break;
      }
      case "tool_finished": {
        const card = this.tools.get(`${event.run_id}:${p.call_id}`);
        if (card) card.update(p);
        st.phase = "thinking";
        break;
      }
      case "approval_required":
        this.approvalRequired(run, event.run_id, p);
        Object.assign(st, { phase: "approval", tool: p.tool, target: p.target });
        break;
      case "approval_decided": {
        this.approvals.get(p.approval_id)?.update({
          status: p.status, decided_by: p.decided_by, reason: p.reason,
        });
        st.phase = p.status === "approved" ? "executing" : "thinking";
        break;
      }
      case "error":
        run.body.append(h("div", { class: "notice notice-bad run-error", testid: "run-error" },
          h("p", {}, h("strong", {}, "Error"), p.code ? ` (${p.code})` : "", `: ${p.message || "the run failed"}`)));
        break;
      case "run_finished":
        run.body.append(outcomeLine(p));
        Object.assign(st, { active: false, phase: "idle", outcome: p.outcome });
        break;
      default:
        break;
    }
    this.onChange({ ...st });
    return true;
  }

  approvalRequired(run, runId, p) {
    this.tools.get(`${runId}:${p.call_id}`)?.waiting();
    const card = approvalCard({
      approval_id: p.approval_id, tool: p.tool, target: p.target, plan: p.plan,
      arguments: p.arguments, status: "pending", environment: this.ctx.environmentOf(p.target),
    }, this.ctx);
    this.approvals.set(p.approval_id, card);
    run.body.append(card.el);
    if (this.live) this.refreshPending();
  }

  /** Fetch the current state of approvals still shown as pending (expiry, votes, who). */
  async refreshPending(signal) {
    const pending = [...this.approvals.entries()].filter(([, card]) => card.status === "pending");
    await Promise.all(pending.map(async ([id, card]) => {
      try {
        const view = await get(`/approvals/${id}`, { signal });
        const facts = fromApproval(view);
        delete facts.target;
        card.update(facts);
      } catch {
        // Keep what the events said; the card still works.
      }
    }));
  }
}

function outcomeLine(p) {
  const usage = p.usage || {};
  const parts = [];
  if (p.steps != null) parts.push(`${p.steps} step${p.steps === 1 ? "" : "s"}`);
  if (usage.prompt || usage.completion) parts.push(`${usage.prompt || 0} + ${usage.completion || 0} tokens`);
  if (usage.cost_usd) parts.push(`$${Number(usage.cost_usd).toFixed(4)}`);
  parts.push(p.model ? `model ${p.model}` : "no model used (rules)");
  return h("p", { class: "run-outcome", testid: "run-outcome", dataset: { outcome: p.outcome } },
    badge(p.outcome, `run ${p.outcome}`), ` ${parts.join(" · ")}`);
}

/** The status line's text for a timeline state. */
export function statusText(st) {
  if (!st.active) return "";
  switch (st.phase) {
    case "tool": return `Running ${st.tool}${st.target ? ` on ${st.target}` : ""}…`;
    case "approval": return `Waiting for approval of ${st.tool}${st.target ? ` on ${st.target}` : ""}…`;
    case "executing": return `Approved: running ${st.tool}${st.target ? ` on ${st.target}` : ""}…`;
    case "writing": return "Writing the answer…";
    default: return "Thinking…";
  }
}
