// The template marketplace: the catalog with search, category chips and tag filters
// (#/templates), and one template's page (#/templates/<id>): what it is, where it comes
// from, its compose file, and a Deploy form (template-deploy.js). Loaded on demand.

import { h, clear, problem, spinner } from "./dom.js";
import { get, query } from "./api.js";
import { codeBlock } from "./highlight.js";
import { deploySection } from "./template-deploy.js";

const SEARCH_DELAY_MS = 250;
const LINKS = [["homepage", "Homepage"], ["docs", "Documentation"], ["source", "Source code"]];
const SOURCES = { windflow: "WindFlow's catalog", dokploy: "Dokploy's catalog", coolify: "Coolify's catalog", caprover: "CapRover's catalog" };

export function templatesPage(main, app, params) {
  // The filters outlive a visit to one template: "All templates" comes back to them.
  const filters = { q: "", category: "", tag: "" };
  let current = null;
  function show([id]) {
    current?.dispose();
    current = id ? detailView(main, app, id) : listView(main, filters);
  }
  show(params);
  return {
    update: show,
    focusTarget: () => main.querySelector("h1"),
    dispose: () => current?.dispose(),
  };
}

const versionText = (v) => (/^\d/.test(v || "") ? `v${v}` : v || "");

function tagList(tags, onTag) {
  if (!tags?.length) return null;
  return h("ul", { class: "tags", "aria-label": "Tags" }, tags.map((tag) => h("li", {},
    onTag
      ? h("button", { type: "button", class: "tag", title: `Show templates tagged ${tag}`, onclick: () => onTag(tag) }, tag)
      : h("span", { class: "tag" }, tag))));
}

function templateCard(t, onTag) {
  return h("article", { class: "card template-card", testid: "template-card", dataset: { id: t.id } },
    h("div", { class: "template-title" },
      h("span", { class: "monogram", "aria-hidden": "true" }, (t.name || t.id).slice(0, 1).toUpperCase()),
      h("h2", {}, h("a", { href: `#/templates/${t.id}`, testid: "template-link" }, t.name)),
      h("span", { class: "version muted", title: "Version" }, versionText(t.version))),
    h("p", { class: "template-meta" }, h("span", { class: "kind-tag", title: "Category" }, t.category)),
    h("p", { class: "template-desc" }, t.description),
    tagList(t.tags, onTag));
}

function listView(main, filters) {
  document.title = "Templates · WindFlow";
  const search = h("input", {
    id: "tpl-search", type: "search", name: "q", value: filters.q, autocomplete: "off", spellcheck: "false",
    placeholder: "redis, wiki, monitoring…", testid: "template-search", "aria-controls": "template-results",
  });
  const chips = h("div", { class: "chips", role: "group", "aria-labelledby": "tpl-category-label", testid: "category-chips" });
  const tagRow = h("div", { class: "active-tag" });
  const count = h("p", { class: "muted", role: "status", testid: "templates-count" });
  const errors = h("div");
  const results = h("div", { id: "template-results", class: "template-grid", testid: "templates-list" }, spinner("Loading templates…"));
  const form = h("form", { class: "filters template-filters", role: "search", "aria-label": "Find a template" },
    h("div", { class: "field field-grow" }, h("label", { for: "tpl-search" }, "Search"), search),
    h("div", { class: "field field-chips" }, h("span", { id: "tpl-category-label", class: "label" }, "Category"), chips),
    tagRow);
  clear(main, h("div", { class: "page" },
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Templates")),
    h("p", { class: "lede" }, "Ready-made stacks (databases, caches, CMSs, monitoring…) to deploy on your Docker, Swarm or Vagrant targets. Passwords are generated; every deploy waits for an approval."),
    form, errors, count, results));

  const controller = new AbortController();
  let categories = null;
  let timer = null;
  let generation = 0;

  function renderChips() {
    const chip = (value, label) => h("button", {
      type: "button", class: "chip", testid: "category-chip", dataset: { category: value },
      onclick: () => {
        filters.category = filters.category === value ? "" : value;
        pressed();
        load();
      },
    }, label);
    const entries = Object.entries(categories || {}).filter(([, n]) => n > 0).sort(([a], [b]) => a.localeCompare(b));
    clear(chips, chip("", "All"), entries.map(([name, n]) => chip(name, `${name} (${n})`)));
    pressed();
  }

  // Only the pressed state changes on a click: the chip keeps the keyboard focus.
  function pressed() {
    for (const el of chips.children) el.setAttribute("aria-pressed", String(el.dataset.category === filters.category));
  }

  function renderTag() {
    clear(tagRow, filters.tag ? [h("span", {}, "Tag: ", h("strong", {}, filters.tag)), " ",
      h("button", { type: "button", class: "btn btn-small", testid: "clear-tag", onclick: () => setTag("") }, "Clear tag")] : null);
  }

  function setTag(tag) {
    filters.tag = tag;
    renderTag();
    load();
    if (!tag) search.focus();
  }

  async function load() {
    clearTimeout(timer);
    const mine = ++generation;
    results.setAttribute("aria-busy", "true");
    try {
      const page = await get(`/templates${query(filters)}`, { signal: controller.signal });
      if (mine !== generation) return;
      clear(errors);
      if (!categories) {
        categories = page.categories;
        renderChips();
      }
      const n = page.items.length;
      count.textContent = n ? `${n} template${n === 1 ? "" : "s"}` : "";
      clear(results, n ? page.items.map((t) => templateCard(t, setTag))
        : h("p", { class: "empty", testid: "templates-empty" }, "No template matches. Try fewer words, or another category."));
    } catch (err) {
      if (err?.name === "AbortError" || mine !== generation) return;
      clear(errors, problem(err, "templates-error"));
      clear(results);
    } finally {
      if (mine === generation) results.removeAttribute("aria-busy");
    }
  }

  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      filters.q = search.value.trim();
      load();
    }, SEARCH_DELAY_MS);
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    filters.q = search.value.trim();
    load();
  });
  renderChips();
  renderTag();
  load();
  return {
    dispose() {
      clearTimeout(timer);
      controller.abort();
    },
  };
}

function safeUrl(url) {
  return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
}

function linksList(links) {
  const found = LINKS.map(([key, label]) => [label, safeUrl(links?.[key])]).filter(([, url]) => url);
  if (!found.length) return null;
  return h("ul", { class: "template-links", testid: "template-links" }, found.map(([label, url]) => h("li", {},
    h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, label, h("span", { class: "visually-hidden" }, " (opens in a new tab)")))));
}

function sourceView(source) {
  if (!source) return null;
  return h("p", { class: "template-source muted", testid: "template-source" },
    h("strong", {}, "Source: "), SOURCES[source.kind] || source.kind || "unknown",
    source.license ? [" · License: ", h("strong", {}, source.license)] : null,
    source.attribution ? [" · ", source.attribution] : null,
    source.path ? [" · ", h("code", {}, source.path)] : null);
}

function detailView(main, app, id) {
  const controller = new AbortController();
  const title = h("h1", { tabindex: "-1" }, id);
  const tags = h("div", { class: "template-head-tags" });
  const body = h("div", { class: "template-detail", testid: "template-detail" }, spinner("Loading the template…"));
  clear(main, h("div", { class: "page" },
    h("p", { class: "crumbs" }, h("a", { href: "#/templates", testid: "back-to-templates" }, "← All templates")),
    h("div", { class: "page-head" }, title, tags), body));
  let deploy = null;

  get(`/templates/${encodeURIComponent(id)}`, { signal: controller.signal }).then((t) => {
    document.title = `${t.name} · Templates · WindFlow`;
    title.textContent = t.name;
    clear(tags, h("span", { class: "version muted", title: "Version" }, versionText(t.version)), " ",
      h("span", { class: "kind-tag", title: "Category" }, t.category));
    deploy = deploySection(t, app);
    clear(body,
      h("section", { class: "template-about", "aria-label": "About" },
        h("p", { class: "template-desc", testid: "template-description" }, t.description),
        tagList(t.tags), linksList(t.links), sourceView(t.source),
        t.warnings?.length ? h("ul", { class: "notice notice-warn warnings", testid: "template-warnings" },
          t.warnings.map((w) => h("li", {}, `⚠ ${w}`))) : null),
      deploy.el,
      h("section", { class: "template-compose", "aria-labelledby": "compose-title" },
        h("h2", { id: "compose-title" }, "Compose file"),
        h("p", { class: "muted" }, "What WindFlow deploys, with ", h("code", {}, "${NAME}"), " filled in from the parameters (passwords at deploy time, never written here)."),
        codeBlock(t.compose || "", "yaml", { filename: `${t.id}-compose.yaml`, label: "compose.yaml" })));
  }).catch((err) => {
    if (err?.name === "AbortError") return;
    clear(body, problem(err, "template-error"),
      h("p", {}, h("a", { href: "#/templates" }, "Back to all templates")));
  });

  return {
    dispose() {
      controller.abort();
      deploy?.dispose();
    },
  };
}
