// The approval queue: filters (status, environment, age, decidable), live updates from
// GET /approvals/stream, and approval cards with plan, diff, Approve / Deny.

import { h, clear, problem, spinner, ROLE_RANK } from "./dom.js";
import { get, query } from "./api.js";
import { follow } from "./sse.js";
import { approvalCard, fromApproval } from "./cards.js";

const AGES = [
  ["", "Any age"],
  ["new:900", "Newer than 15 minutes"],
  ["new:3600", "Newer than 1 hour"],
  ["old:300", "Older than 5 minutes"],
  ["old:3600", "Older than 1 hour"],
  ["old:86400", "Older than 1 day"],
];

function select(id, label, options, value, testid) {
  const el = h("select", { id, name: id, testid },
    options.map(([v, text]) => h("option", { value: v, selected: v === value ? true : null }, text)));
  return [h("div", { class: "field" }, h("label", { for: id }, label), el), el];
}

export function approvalsPage(main, app) {
  const canDecideSome = (ROLE_RANK[app.role] ?? 0) >= ROLE_RANK.operator;
  const filters = { status: "pending", environment: "", age: "", decidable: false };
  const [statusField, statusSel] = select("f-status", "Status", [
    ["pending", "Pending"], ["approved", "Approved"], ["denied", "Denied"], ["expired", "Expired"],
  ], filters.status, "filter-status");
  const [envField, envSel] = select("f-env", "Environment", [["", "Any environment"]], "", "filter-environment");
  const [ageField, ageSel] = select("f-age", "Age", AGES, "", "filter-age");
  const decidable = h("input", { id: "f-decidable", type: "checkbox", testid: "filter-decidable" });
  const live = h("p", { class: "live-state", testid: "approvals-live", role: "status" }, "Connecting…");
  const count = h("p", { class: "muted", testid: "approvals-count", "aria-live": "polite" });
  const errors = h("div");
  const list = h("div", { class: "approval-list", testid: "approvals-list" }, spinner("Loading approvals…"));

  clear(main, h("div", { class: "page" },
    h("div", { class: "page-head" },
      h("h1", { tabindex: "-1" }, "Approvals"), live),
    h("p", { class: "lede" }, canDecideSome
      ? "Changes wait here until someone allowed to decide approves or denies them. The list updates by itself."
      : "Changes wait here for a decision. Your role can read the queue; operators and above decide."),
    h("form", { class: "filters", "aria-label": "Filter approvals", onsubmit: (e) => e.preventDefault() },
      statusField, envField, ageField,
      canDecideSome ? h("div", { class: "field field-check" }, decidable, h("label", { for: "f-decidable" }, "Only those I may decide")) : null),
    errors, count, list));

  const cards = new Map();
  const keep = new Set(); // decided here: stay visible with their outcome
  const targetNames = new Map();
  const controller = new AbortController();
  let timer = null;
  let generation = 0;

  get("/targets?limit=200", { signal: controller.signal }).then((page) => {
    const envs = new Set(page.items.map((t) => t.environment));
    for (const t of page.items) targetNames.set(t.id, t.name);
    for (const env of [...envs].sort()) envSel.append(h("option", { value: env }, env));
    envSel.append(h("option", { value: "none" }, "No target"));
    if (filters.environment) envSel.value = filters.environment;
    refresh();
  }).catch(() => {});

  const changed = () => {
    filters.status = statusSel.value;
    filters.environment = envSel.value;
    filters.age = ageSel.value;
    filters.decidable = decidable.checked;
    keep.clear();
    refresh();
  };
  for (const el of [statusSel, envSel, ageSel, decidable]) el.addEventListener("change", changed);

  function params() {
    const [kind, seconds] = filters.age.split(":");
    return query({
      status: filters.status,
      environment: filters.environment || null,
      older_than_seconds: kind === "old" ? seconds : null,
      newer_than_seconds: kind === "new" ? seconds : null,
      decidable: filters.decidable ? "true" : null,
      limit: 50,
    });
  }

  async function refresh() {
    const mine = ++generation;
    try {
      const page = await get(`/approvals${params()}`, { signal: controller.signal });
      if (mine !== generation) return;
      clear(errors);
      reconcile(page.items);
      const shown = page.items.length;
      count.textContent = `${shown} ${filters.status} approval${shown === 1 ? "" : "s"}${page.total > shown ? ` (of ${page.total})` : ""}`;
    } catch (err) {
      if (err?.name === "AbortError") return;
      clear(errors, problem(err, "approvals-error"));
    }
  }

  function reconcile(items) {
    const ctx = { role: app.role, who: app.who };
    const wanted = [];
    const ids = new Set(items.map((v) => v.id));
    for (const view of items) {
      const facts = fromApproval(view, { target: targetNames.get(view.target_id) || (view.target_id ? "a target" : null) });
      let card = cards.get(view.id);
      if (card) card.update(facts);
      else {
        card = approvalCard(facts, ctx, {
          // Decided here: the card stays with its outcome, even when a refresh triggered by
          // the decision itself arrives before the answer to the request does.
          onDeciding: () => keep.add(view.id),
          onDecided: (decided) => {
            if (!decided) keep.delete(view.id);
            schedule();
          },
        });
        cards.set(view.id, card);
      }
      wanted.push(card.el);
    }
    for (const [id, card] of cards) {
      if (ids.has(id)) continue;
      if (keep.has(id)) wanted.push(card.el);
      else {
        card.el.remove();
        cards.delete(id);
      }
    }
    if (!wanted.length) {
      clear(list, h("p", { class: "empty", testid: "approvals-empty" }, `No ${filters.status} approvals match these filters.`));
      return;
    }
    list.querySelector(".empty, .loading")?.remove();
    // Re-order only what moved: moving a node would take the focus away from it.
    wanted.forEach((el, i) => {
      if (list.children[i] !== el) list.insertBefore(el, list.children[i] || null);
    });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 120);
  }

  const stream = follow("/approvals/stream", {
    onEvent: () => schedule(),
    onState: (state, err) => {
      live.dataset.state = state;
      live.textContent = state === "open" ? "● Live: updates appear by themselves"
        : state === "failed" ? `Live updates stopped: ${err?.detail || "error"}` : "Reconnecting…";
    },
  });
  refresh();

  return {
    dispose() {
      controller.abort();
      clearTimeout(timer);
      stream.close();
    },
  };
}
