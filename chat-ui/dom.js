// Small DOM helpers: elements built node by node (no HTML strings), badges, times, errors, files.

/** Build an element: h("button", {class: "x", onclick: fn, testid: "send"}, "Send"). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "testid") el.dataset.testid = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "text") el.textContent = value;
    else if (key === "value" || key === "checked") el[key] = value;
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else el.setAttribute(key, value === true ? "" : String(value));
  }
  add(el, children);
  return el;
}

/** Append children (nodes, strings, nested arrays; null and false are skipped). */
export function add(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return add(el, children);
}

// Status -> [css tone, glyph]. The label is always written out: color is never the only cue.
const TONES = {
  ok: ["ok", "✓"], succeeded: ["ok", "✓"], approved: ["ok", "✓"], reachable: ["ok", "✓"],
  running: ["info", "↻"], started: ["info", "↻"], thinking: ["info", "↻"],
  pending: ["warn", "◷"], waiting: ["warn", "◷"], approval_required: ["warn", "◷"],
  denied: ["bad", "⊘"], error: ["bad", "✕"], failed: ["bad", "✕"], unreachable: ["bad", "✕"],
  rolled_back: ["warn", "↺"], expired: ["muted", "–"], cancelled: ["muted", "–"],
  stopped: ["muted", "–"],
};

export function badge(status, label) {
  const [tone, glyph] = TONES[status] || ["muted", "•"];
  const text = label || String(status || "unknown").replaceAll("_", " ");
  return h("span", { class: `badge badge-${tone}`, dataset: { status: status || "" } },
    h("span", { "aria-hidden": "true" }, glyph), ` ${text}`);
}

export function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const date = new Date(iso);
  return h("time", { datetime: iso, title: date.toLocaleString() }, ago(date));
}

export function ago(date) {
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  const future = seconds < 0;
  const s = Math.abs(seconds);
  let text;
  if (s < 45) text = "just now";
  else if (s < 3600) text = `${Math.round(s / 60)} min`;
  else if (s < 86400) text = `${Math.round(s / 3600)} h`;
  else return date.toLocaleDateString();
  if (text === "just now") return text;
  return future ? `in ${text}` : `${text} ago`;
}

export function duration(ms) {
  if (ms == null) return "—";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** A problem document (or any error) as a readable alert: detail, then hint. */
export function problem(err, testid = "error") {
  const detail = err?.detail || err?.message || "Something went wrong.";
  return h("div", { class: "notice notice-bad", role: "alert", testid },
    h("p", {}, h("strong", {}, err?.title ? `${err.title}: ` : "Error: "), detail),
    err?.hint ? h("p", { class: "hint" }, `Hint: ${err.hint}`) : null);
}

export function spinner(label) {
  return h("p", { class: "muted loading", role: "status" }, h("span", { class: "dot-pulse", "aria-hidden": "true" }), ` ${label}`);
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h("textarea", { class: "visually-hidden", "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    const done = document.execCommand("copy");
    area.remove();
    return done;
  }
}

export function download(text, filename, type = "text/plain") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export const ROLE_RANK = { viewer: 0, operator: 1, admin: 2, owner: 3 };
export const PROTECTED_ENVIRONMENTS = ["prod", "production"];

/** Whether a role may decide approvals on an environment (the API decides in the end). */
export function mayDecide(role, environment) {
  const rank = ROLE_RANK[role] ?? -1;
  if (rank < ROLE_RANK.operator) return false;
  return !PROTECTED_ENVIRONMENTS.includes(String(environment || "").toLowerCase())
    || rank >= ROLE_RANK.admin;
}

export function whyNotDecide(role, environment) {
  if ((ROLE_RANK[role] ?? -1) < ROLE_RANK.operator) {
    return `Your role (${role}) can read approvals but not decide them; operators and above decide.`;
  }
  return `Changes on "${environment}" are decided by admins and owners; your role is ${role}.`;
}
