// The app shell: session and organization, the header with navigation, the login page,
// and a hash router (#/chat/<id>, #/templates/<id>, #/approvals, #/targets, #/deployments,
// #/audit, #/login). Pages off the first screen load on demand (lazy()).

import { h, clear, problem, spinner } from "./dom.js";
import { session, login, logout, get, whenSessionEnds } from "./api.js";
import { chatPage } from "./chat.js";
import { approvalsPage } from "./approvals.js";
import { targetsPage, deploymentsPage, auditPage } from "./pages.js";

/** A page whose module is imported the first time it is opened (the first load stays small). */
function lazy(load, name) {
  return (into, app, params) => {
    let inner = null;
    let gone = false;
    let wantsFocus = false;
    let latest = params;
    clear(into, h("div", { class: "page" }, spinner("Loading…")));
    load().then((module) => {
      if (gone) return;
      inner = module[name](into, app, latest);
      if (wantsFocus) (inner.focusTarget ? inner.focusTarget() : into.querySelector("h1"))?.focus();
    }).catch((err) => {
      if (!gone) clear(into, h("div", { class: "page" }, problem({ title: "Could not load the page", detail: err?.message, hint: "reload the page" })));
    });
    return {
      update(next) {
        latest = next;
        inner?.update?.(next);
      },
      focusTarget() {
        if (!inner) wantsFocus = true;
        return inner?.focusTarget ? inner.focusTarget() : into.querySelector("h1");
      },
      dispose() {
        gone = true;
        inner?.dispose?.();
      },
    };
  };
}

const templatesPage = lazy(() => import("./templates.js"), "templatesPage");

const ROUTES = [
  { pattern: /^chat(?:\/([\w-]+))?$/, page: chatPage, nav: "chat", title: "Chat" },
  { pattern: /^templates(?:\/([a-z0-9][a-z0-9-]*))?$/, page: templatesPage, nav: "templates", title: "Templates" },
  { pattern: /^approvals$/, page: approvalsPage, nav: "approvals", title: "Approvals" },
  { pattern: /^targets$/, page: targetsPage, nav: "targets", title: "Targets" },
  { pattern: /^deployments$/, page: deploymentsPage, nav: "deployments", title: "Deployments" },
  { pattern: /^audit$/, page: auditPage, nav: "audit", title: "Audit" },
];
const NAV = [["chat", "Chat"], ["templates", "Templates"], ["approvals", "Approvals"], ["targets", "Targets"], ["deployments", "Deployments"], ["audit", "Audit"]];

const main = document.getElementById("main");
const bar = document.getElementById("app-bar");

const app = {
  me: null,
  org: null,
  role: null,
  orgs: new Map(),
  people: new Map(),
  who(userId) {
    if (!userId) return "someone";
    if (userId === app.me?.id) return "you";
    const person = app.people.get(userId);
    return person ? person.display_name || person.email : `user ${userId.slice(0, 8)}`;
  },
};

let view = null;
let viewRoute = null;
let wanted = "";
let notice = null;

function currentPath() {
  return location.hash.replace(/^#\/?/, "");
}

function go(path) {
  history.replaceState(null, "", `#/${path}`);
  route();
}

async function loadMe() {
  const me = await get("/auth/me");
  app.me = me;
  if (!me.memberships.length) throw Object.assign(new Error("no organization"), {
    title: "No organization", detail: "You are not a member of any organization yet.",
    hint: "ask an owner to add you, then log in again",
  });
  const chosen = me.memberships.find((m) => m.org_id === session.org) || me.memberships[0];
  session.org = chosen.org_id;
  app.org = chosen.org_id;
  app.role = chosen.role;
  const [orgs, people] = await Promise.all([
    get("/orgs").catch(() => []),
    get("/users?limit=200").catch(() => ({ items: [] })),
  ]);
  app.orgs = new Map(orgs.map((o) => [o.id, o]));
  app.people = new Map(people.items.map((p) => [p.user_id, p]));
}

function renderBar() {
  if (!app.me) {
    clear(bar, h("a", { class: "brand", href: "#/login" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, "≋"), " WindFlow"));
    return;
  }
  const menu = h("button", { type: "button", class: "menu-toggle", "aria-expanded": "false", "aria-controls": "site-nav", testid: "menu-toggle" }, "☰ Menu");
  const nav = h("nav", { id: "site-nav", "aria-label": "Main" }, h("ul", {}, NAV.map(([key, label]) => h("li", {},
    h("a", { href: `#/${key}`, testid: `nav-${key}`, dataset: { nav: key } }, label)))));
  menu.addEventListener("click", () => {
    const open = menu.getAttribute("aria-expanded") !== "true";
    menu.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
  });
  nav.addEventListener("click", (e) => {
    if (e.target.closest("a")) {
      menu.setAttribute("aria-expanded", "false");
      nav.classList.remove("open");
    }
  });
  const memberships = app.me.memberships;
  const orgName = (id) => app.orgs.get(id)?.name || id.slice(0, 8);
  let org;
  if (memberships.length > 1) {
    const picker = h("select", { id: "org-picker", testid: "org-picker" }, memberships.map((m) =>
      h("option", { value: m.org_id, selected: m.org_id === app.org ? true : null }, `${orgName(m.org_id)} (${m.role})`)));
    picker.addEventListener("change", async () => {
      session.org = picker.value;
      await loadMe();
      renderBar();
      view?.dispose?.();
      view = viewRoute = null;
      go("chat");
    });
    org = h("span", { class: "org" }, h("label", { for: "org-picker", class: "visually-hidden" }, "Organization"), picker);
  } else org = h("span", { class: "org", testid: "org-name" }, orgName(app.org));
  clear(bar,
    h("a", { class: "brand", href: "#/chat" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, "≋"), " WindFlow"),
    menu, nav,
    h("div", { class: "who" },
      h("span", { class: "user", testid: "user-name", title: app.me.email }, app.me.display_name || app.me.email),
      h("span", { class: "role-tag", testid: "user-role" }, app.role), org,
      h("button", { type: "button", class: "btn btn-small btn-on-dark", testid: "logout", onclick: signOut }, "Log out")));
}

async function signOut() {
  view?.dispose?.();
  view = viewRoute = null;
  await logout();
  app.me = null;
  renderBar();
  go("login");
}

function loginPage() {
  const email = h("input", { id: "login-email", type: "email", name: "email", autocomplete: "username", required: true, testid: "login-email" });
  const password = h("input", { id: "login-password", type: "password", name: "password", autocomplete: "current-password", required: true, testid: "login-password" });
  const submit = h("button", { type: "submit", class: "btn btn-primary", testid: "login-submit" }, "Log in");
  const errors = h("div", { testid: "login-error" }, notice ? h("p", { class: "notice notice-info", role: "status" }, notice) : null);
  notice = null;
  const form = h("form", { class: "login-form", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title", tabindex: "-1" }, "Log in to WindFlow"),
    h("p", { class: "muted" }, "Your conversational ops assistant. Every change waits for a human approval."),
    h("div", { class: "field" }, h("label", { for: "login-email" }, "Email"), email),
    h("div", { class: "field" }, h("label", { for: "login-password" }, "Password"), password),
    errors, submit);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    submit.disabled = true;
    clear(errors);
    try {
      await login(email.value.trim(), password.value);
      await loadMe();
      renderBar();
      go(wanted && wanted !== "login" ? wanted : "chat");
    } catch (err) {
      if (session.access && !app.me) session.clear();
      clear(errors, problem(err, "login-problem"));
      submit.disabled = false;
      password.select();
    }
  });
  clear(main, h("div", { class: "login" }, form));
  document.title = "Log in · WindFlow";
  return email;
}

function setNav(key) {
  for (const a of bar.querySelectorAll("nav a")) {
    if (a.dataset.nav === key) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function route(initial = false) {
  const path = currentPath();
  if (!app.me) {
    view?.dispose?.();
    view = viewRoute = null;
    if (path && path !== "login") wanted = path;
    if (path !== "login") history.replaceState(null, "", "#/login");
    const first = loginPage();
    if (!initial) first.focus();
    return;
  }
  if (!path || path === "login") {
    go(wanted || "chat");
    wanted = "";
    return;
  }
  const found = ROUTES.map((r) => [r, r.pattern.exec(path)]).find(([, m]) => m);
  if (!found) {
    view?.dispose?.();
    view = viewRoute = null;
    clear(main, h("div", { class: "page" }, h("h1", { tabindex: "-1" }, "Page not found"),
      h("p", {}, "There is nothing at this address. ", h("a", { href: "#/chat" }, "Go to the chat"), ".")));
    main.querySelector("h1").focus();
    return;
  }
  const [routeDef, match] = found;
  const params = match.slice(1);
  setNav(routeDef.nav);
  if (viewRoute === routeDef && view?.update) {
    view.update(params);
  } else {
    view?.dispose?.();
    document.title = `${routeDef.title} · WindFlow`;
    view = routeDef.page(main, app, params);
    viewRoute = routeDef;
  }
  if (!initial) {
    const target = view.focusTarget ? view.focusTarget() : main.querySelector("h1");
    target?.focus();
  }
}

async function boot() {
  whenSessionEnds(() => {
    if (!app.me) return;
    app.me = null;
    notice = "Your session has ended: please log in again.";
    renderBar();
    route();
  });
  document.getElementById("skip-link").addEventListener("click", (e) => {
    e.preventDefault();
    (main.querySelector("h1") || main).focus();
  });
  window.addEventListener("hashchange", () => route());
  if (session.access) {
    try {
      await loadMe();
    } catch {
      session.clear();
      app.me = null;
    }
  }
  renderBar();
  route(true);
}

boot();
