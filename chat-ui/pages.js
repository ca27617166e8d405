// Read-mostly pages: targets (with a reachability check and live stack status),
// deployments (with their rendered config) and the audit trail.

import { h, clear, badge, time, duration, problem, spinner } from "./dom.js";
import { get, post, query } from "./api.js";
import { codeBlock } from "./highlight.js";

function page(main, title, lede, ...body) {
  clear(main, h("div", { class: "page" },
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, title)),
    lede ? h("p", { class: "lede" }, lede) : null, ...body));
}

function connectionText(connection) {
  const entries = Object.entries(connection || {});
  if (!entries.length) return h("span", { class: "muted" }, "defaults");
  return entries.map(([k, v]) => h("span", { class: "kv" }, `${k}: `, h("code", {}, typeof v === "object" ? JSON.stringify(v) : String(v))));
}

const STATUS_TOOL = { docker: "stack_status", swarm: "stack_status", vagrant: "stack_status", kubernetes: "k8s_stack_status" };

export function targetsPage(main) {
  const list = h("div", { class: "target-list", testid: "targets-list" }, spinner("Loading targets…"));
  page(main, "Targets", "The Docker hosts, Swarms, Kubernetes clusters and Vagrant machines WindFlow manages. Check tests the connection; Status shows what runs of a saved stack.", list);
  const controller = new AbortController();

  Promise.all([
    get("/targets?limit=200", { signal: controller.signal }),
    get("/stacks?limit=200", { signal: controller.signal }).catch(() => ({ items: [] })),
  ]).then(([targets, stacks]) => {
    if (!targets.items.length) {
      clear(list, h("p", { class: "empty" }, "No targets yet. An admin adds them with POST /targets or `windflow target add`."));
      return;
    }
    clear(list, targets.items.map((t) => targetCard(t, stacks.items)));
  }).catch((err) => {
    if (err?.name !== "AbortError") clear(list, problem(err));
  });
  return { dispose: () => controller.abort() };
}

function targetCard(t, stacks) {
  const result = h("div", { class: "check-result", testid: "check-result", "aria-live": "polite" });
  const check = h("button", { type: "button", class: "btn btn-small", testid: "check-button" }, "Check");
  check.addEventListener("click", async () => {
    check.disabled = true;
    clear(result, spinner(`Checking ${t.name}…`));
    try {
      const r = await post(`/targets/${t.id}/check`);
      clear(result, badge(r.reachable ? "reachable" : "unreachable"), " ",
        r.detail || "", r.version ? ` · version ${r.version}` : "", ` · ${duration(r.latency_ms)}`);
    } catch (err) {
      clear(result, problem(err));
    } finally {
      check.disabled = false;
    }
  });
  const statusTool = STATUS_TOOL[t.kind];
  let status = null;
  if (statusTool && stacks.length) {
    const id = `stack-${t.id}`;
    const choose = h("select", { id }, stacks.map((s) => h("option", { value: s.name }, s.name)));
    const out = h("div", { class: "stack-status", "aria-live": "polite" });
    const show = h("button", { type: "button", class: "btn btn-small" }, "Status");
    show.addEventListener("click", async () => {
      show.disabled = true;
      clear(out, spinner("Asking the target…"));
      try {
        const r = await post(`/tools/${statusTool}/call`, { target: t.name, arguments: { stack: choose.value } });
        clear(out, r.status === "ok" ? servicesTable(r.data) : problem({ title: r.status, detail: r.error, hint: r.hint }));
      } catch (err) {
        clear(out, problem(err));
      } finally {
        show.disabled = false;
      }
    });
    status = h("div", { class: "stack-picker" }, h("label", { for: id }, "Stack"), choose, show, out);
  }
  return h("article", { class: "card target-card", testid: "target-row", dataset: { name: t.name } },
    h("div", { class: "card-head" },
      h("h2", {}, t.name),
      h("span", { class: "kind-tag" }, t.kind),
      h("span", { class: "env-tag" }, t.environment)),
    t.description ? h("p", {}, t.description) : null,
    h("p", { class: "connection" }, connectionText(t.connection), t.has_secrets ? h("span", { class: "kv" }, "🔒 has secrets") : null),
    h("div", { class: "actions" }, check, result),
    status);
}

function servicesTable(data) {
  const services = data?.services || data?.workloads || [];
  if (!services.length) return h("p", { class: "muted" }, "Nothing of this stack runs there.");
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, ["Service", "State", "Running", "Health", "Restarts"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, services.map((s) => h("tr", {},
      h("th", { scope: "row" }, s.name), h("td", {}, badge(s.state === "running" ? "ok" : s.state, s.state)),
      h("td", {}, `${s.running ?? "?"} / ${s.desired ?? "?"}`), h("td", {}, s.health || "—"), h("td", {}, String(s.restarts ?? "—")))))));
}

export function deploymentsPage(main) {
  const list = h("div", { class: "deployment-list", testid: "deployments-list" }, spinner("Loading deployments…"));
  page(main, "Deployments", "Every approved deployment, newest first. Open one to see the configuration that was applied.", list);
  const controller = new AbortController();
  Promise.all([
    get("/deployments?limit=50", { signal: controller.signal }),
    get("/stacks?limit=200", { signal: controller.signal }).catch(() => ({ items: [] })),
    get("/targets?limit=200", { signal: controller.signal }).catch(() => ({ items: [] })),
  ]).then(([deployments, stacks, targets]) => {
    const stackName = new Map(stacks.items.map((s) => [s.id, s.name]));
    const targetName = new Map(targets.items.map((t) => [t.id, t.name]));
    if (!deployments.items.length) {
      clear(list, h("p", { class: "empty" }, "No deployments yet. Ask the assistant to deploy a stack; it runs after an approval."));
      return;
    }
    clear(list, deployments.items.map((d) => {
      const stack = stackName.get(d.stack_id) || d.stack_id.slice(0, 8);
      return h("details", { class: "card deployment", testid: "deployment-row", dataset: { status: d.status } },
        h("summary", {},
          badge(d.status), " ", h("strong", {}, stack), ` revision ${d.revision} on `,
          h("strong", {}, targetName.get(d.target_id) || d.target_id.slice(0, 8)), " · ", time(d.created_at),
          d.finished_at && d.started_at ? ` · took ${duration(new Date(d.finished_at) - new Date(d.started_at))}` : null),
        h("div", { class: "card-body" },
          d.error ? h("div", { class: "notice notice-bad" }, h("p", {}, d.error)) : null,
          h("p", { class: "muted" }, "Finished ", time(d.finished_at), d.approval_id ? ` · approval ${d.approval_id.slice(0, 8)}` : ""),
          codeBlock(d.rendered_config || "", "yaml", { filename: `${stack}-r${d.revision}.yaml`, label: "Rendered config (YAML)" })));
    }));
  }).catch((err) => {
    if (err?.name !== "AbortError") clear(list, problem(err));
  });
  return { dispose: () => controller.abort() };
}

export function auditPage(main, app) {
  const body = h("div", { testid: "audit" });
  page(main, "Audit", "Every tool call and API change, allowed or not, newest first.", body);
  const controller = new AbortController();
  const rows = h("tbody");
  const more = h("button", { type: "button", class: "btn", hidden: true }, "Load more");
  let offset = 0;
  async function load() {
    more.disabled = true;
    try {
      const pageData = await get(`/audit${query({ limit: 100, offset })}`, { signal: controller.signal });
      if (!offset && !pageData.items.length) {
        clear(body, h("p", { class: "empty" }, "Nothing audited yet."));
        return;
      }
      rows.append(...pageData.items.map((e) => h("tr", { testid: "audit-row" },
        h("td", {}, time(e.created_at)), h("td", {}, app.who(e.user_id)),
        h("td", {}, h("code", {}, e.tool)), h("td", {}, e.risk),
        h("td", {}, badge(e.outcome), e.error ? h("div", { class: "muted small" }, e.error) : null),
        h("td", {}, duration(e.duration_ms)),
        h("td", {}, h("details", {}, h("summary", {}, "arguments"), h("code", { class: "inline-json" }, JSON.stringify(e.arguments)))))));
      offset += pageData.items.length;
      more.hidden = offset >= pageData.total;
    } catch (err) {
      if (err?.name === "AbortError") return;
      clear(body, err.status === 403 ? forbidden(app.role) : problem(err));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", load);
  clear(body, h("div", { class: "table-wrap" }, h("table", { class: "audit-table", testid: "audit-table" },
    h("caption", { class: "visually-hidden" }, "Audit trail"),
    h("thead", {}, h("tr", {}, ["When", "Who", "Action", "Risk", "Outcome", "Took", "Details"].map((c) => h("th", { scope: "col" }, c)))),
    rows)), more);
  load();
  return { dispose: () => controller.abort() };
}

function forbidden(role) {
  return h("div", { class: "notice notice-info", testid: "audit-forbidden" },
    h("p", {}, `The audit trail is for admins and owners, and your role here is ${role}.`),
    h("p", {}, "If you need it, ask an admin of the organization; everything you do is recorded there too."));
}
