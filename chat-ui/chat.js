// The chat page: conversation list, the timeline of the open conversation fed by its
// event stream, a status line with Cancel, and the message composer.

import { h, clear, time, problem, spinner } from "./dom.js";
import { get, post, query } from "./api.js";
import { follow } from "./sse.js";
import { Timeline, statusText } from "./timeline.js";

const EXAMPLES = [
  "What runs on docker-local?",
  "Deploy the blog stack to docker-local",
  "Why does the api container keep restarting?",
];

export function chatPage(main, app, params) {
  const list = h("ul", { class: "conv-items", testid: "conversation-list" });
  const listStatus = h("div", { class: "conv-status" });
  const title = h("h1", { id: "chat-title", tabindex: "-1" }, "New conversation");
  const messages = h("div", {
    class: "messages", role: "log", "aria-live": "polite", "aria-labelledby": "chat-title",
    testid: "messages", tabindex: "0",
  });
  const status = h("p", { class: "run-status", role: "status", testid: "run-status" });
  const streamState = h("span", { class: "stream-state", testid: "stream-state" });
  const cancel = h("button", { type: "button", class: "btn btn-small btn-danger", testid: "cancel-button", hidden: true, onclick: () => cancelRun() }, "Cancel run");
  const input = h("textarea", {
    id: "message-input", name: "text", rows: "2", testid: "message-input", required: true,
    placeholder: "Ask WindFlow… (Enter sends, Shift+Enter adds a line)", "aria-describedby": "composer-help",
  });
  const send = h("button", { type: "submit", class: "btn btn-primary", testid: "send-button" }, "Send");
  const sendErrors = h("div", { class: "send-errors", testid: "send-errors" });
  const form = h("form", { class: "composer", testid: "composer", onsubmit: (e) => { e.preventDefault(); submit(); } },
    h("label", { for: "message-input", class: "visually-hidden" }, "Message to WindFlow"),
    h("p", { id: "composer-help", class: "visually-hidden" }, "Enter sends the message; Shift+Enter starts a new line."),
    h("div", { class: "composer-row" }, input, send), sendErrors);

  clear(main, h("div", { class: "chat-layout" },
    h("aside", { class: "conv-list", "aria-labelledby": "conv-heading" },
      h("div", { class: "conv-head" },
        h("h2", { id: "conv-heading" }, "Conversations"),
        h("a", { class: "btn btn-small", href: "#/chat", testid: "new-conversation", onclick: () => { if (!current) input.focus(); } }, "+ New conversation")),
      listStatus, list),
    h("section", { class: "chat-pane", "aria-labelledby": "chat-title" },
      h("div", { class: "chat-head" }, title),
      messages,
      h("div", { class: "run-bar" }, status, streamState, cancel),
      form)));

  let current = null; // {id, controller, stream, timeline}
  let sending = false;
  let keepFocus = false;
  let targets = null;
  const environments = new Map();

  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", () => {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 220)}px`;
  });

  async function loadTargets() {
    targets ??= get("/targets?limit=200").then((page) => {
      for (const t of page.items) environments.set(t.name, t.environment);
    }).catch(() => {});
    return targets;
  }

  async function loadList() {
    try {
      const page = await get("/conversations?limit=50");
      clear(listStatus);
      clear(list, page.items.length ? page.items.map((c) => h("li", {},
        h("a", {
          href: `#/chat/${c.id}`, testid: "conversation-item", dataset: { id: c.id },
          "aria-current": current?.id === c.id ? "page" : null,
        }, h("span", { class: "conv-title" }, c.title || "Untitled"), " ", h("span", { class: "conv-time" }, time(c.updated_at)))))
        : h("li", { class: "muted" }, "No conversations yet."));
    } catch (err) {
      clear(listStatus, problem(err));
    }
  }

  function empty() {
    clear(messages, h("div", { class: "empty-chat" },
      h("p", {}, h("strong", {}, "Ask for what you need."), " WindFlow plans with its tools, shows you what it will change and waits for a human approval before anything runs."),
      h("p", { class: "muted" }, "Try:"),
      h("ul", { class: "examples" }, EXAMPLES.map((text) => h("li", {},
        h("button", { type: "button", class: "btn btn-ghost", onclick: () => { input.value = text; input.focus(); } }, text))))));
  }

  function stick(fn) {
    const near = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 120;
    fn();
    if (near) messages.scrollTop = messages.scrollHeight;
  }

  function showState(st) {
    status.textContent = statusText(st);
    status.dataset.phase = st.active ? st.phase : "idle";
    cancel.hidden = !st.active;
  }

  function showStream(state, err) {
    streamState.dataset.state = state;
    streamState.textContent = state === "open" ? "● Live" : state === "reconnecting" ? "Connection lost: reconnecting…" : state === "failed" ? `Live updates stopped: ${err?.detail || "error"}` : "Connecting…";
    streamState.classList.toggle("stream-bad", state === "reconnecting" || state === "failed");
  }

  async function open(id) {
    close();
    sendErrors.replaceChildren();
    showState({ active: false });
    if (!id) {
      title.textContent = "New conversation";
      document.title = "New conversation · WindFlow";
      streamState.textContent = "";
      empty();
      return;
    }
    const controller = new AbortController();
    const me = { id, controller, stream: null, timeline: null };
    current = me;
    clear(messages, spinner("Loading the conversation…"));
    messages.setAttribute("aria-busy", "true");
    try {
      const [history, page] = await Promise.all([
        loadMessages(id, controller.signal),
        loadEvents(id, controller.signal),
        loadTargets(),
      ]);
      if (current !== me) return;
      const conv = listTitle(id);
      title.textContent = conv || history.find((m) => m.role === "user")?.content.slice(0, 80) || "Conversation";
      document.title = `${title.textContent} · WindFlow`;
      clear(messages);
      const timeline = new Timeline(messages, {
        role: app.role, who: app.who, environmentOf: (name) => (name ? environments.get(name) : "none"),
      }, (st) => {
        showState(st);
        if (timeline.live && st.outcome && !st.active) loadList(); // a run ended: reorder
      });
      me.timeline = timeline;
      for (const m of history) if (m.role === "user") timeline.addUser(m.meta?.run_id || m.id, m.content);
      for (const event of page) timeline.apply(event);
      for (const m of history) if (m.role === "assistant") timeline.addStoredAnswer(m.meta?.run_id || m.id, m.content);
      if (!history.length && !page.length) empty();
      timeline.live = true;
      messages.removeAttribute("aria-busy");
      messages.scrollTop = messages.scrollHeight;
      showState(timeline.state);
      timeline.refreshPending(controller.signal);
      me.stream = follow(`/conversations/${id}/stream`, {
        lastEventId: () => timeline.lastSeq,
        onState: showStream,
        onEvent: (message) => {
          if (current !== me) return;
          let event;
          try {
            event = JSON.parse(message.data);
          } catch {
            return;
          }
          if (messages.querySelector(".empty-chat")) clear(messages);
          stick(() => timeline.apply(event));
        },
      });
    } catch (err) {
      if (err?.name === "AbortError" || current !== me) return;
      messages.removeAttribute("aria-busy");
      clear(messages, problem(err, "load-error"));
    }
  }

  function listTitle(id) {
    return list.querySelector(`[data-id="${CSS.escape(id)}"] .conv-title`)?.textContent || "";
  }

  async function loadMessages(id, signal) {
    const all = [];
    for (;;) {
      const page = await get(`/conversations/${id}/messages${query({ offset: all.length, limit: 200 })}`, { signal });
      all.push(...page.items);
      if (!page.items.length || all.length >= page.total) return all;
    }
  }

  async function loadEvents(id, signal) {
    const all = [];
    for (;;) {
      const after = all.length ? all[all.length - 1].seq : 0;
      const page = await get(`/conversations/${id}/events${query({ after, limit: 1000 })}`, { signal });
      all.push(...page);
      if (page.length < 1000) return all;
    }
  }

  function close() {
    if (!current) return;
    current.controller.abort();
    current.stream?.close();
    current = null;
  }

  async function submit() {
    const text = input.value.trim();
    if (!text || sending) return;
    sending = true;
    send.disabled = true;
    clear(sendErrors);
    try {
      if (!current) {
        const created = await post("/conversations", { title: text.replace(/\s+/g, " ").slice(0, 80) });
        await post(`/conversations/${created.id}/messages`, { text });
        input.value = "";
        keepFocus = true; // the page changes address, the person keeps typing
        location.hash = `#/chat/${created.id}`;
        return;
      }
      const mine = current;
      const started = await post(`/conversations/${mine.id}/messages`, { text });
      input.value = "";
      input.style.height = "auto";
      if (mine.timeline && current === mine) {
        if (messages.querySelector(".empty-chat")) clear(messages);
        stick(() => mine.timeline.addUser(started.run_id, text));
        if (!mine.timeline.state.active) showState({ active: true, phase: "thinking" });
      }
    } catch (err) {
      clear(sendErrors, problem(err, "send-error"));
    } finally {
      sending = false;
      send.disabled = false;
      input.focus();
    }
  }

  async function cancelRun() {
    if (!current) return;
    cancel.disabled = true;
    try {
      await post(`/conversations/${current.id}/cancel`);
    } catch (err) {
      clear(sendErrors, problem(err, "cancel-error"));
    } finally {
      cancel.disabled = false;
    }
  }

  loadList().then(() => {
    if (current) title.textContent = listTitle(current.id) || title.textContent;
  });
  open(params[0] || null);

  return {
    update(next) {
      const id = next[0] || null;
      if (id === (current?.id || null)) return;
      for (const a of list.querySelectorAll("a[aria-current]")) a.removeAttribute("aria-current");
      list.querySelector(`[data-id="${CSS.escape(id || "")}"]`)?.setAttribute("aria-current", "page");
      if (id && !list.querySelector(`[data-id="${CSS.escape(id)}"]`)) loadList();
      open(id);
    },
    focusTarget() {
      if (keepFocus) {
        keepFocus = false;
        return null;
      }
      return current ? title : input;
    },
    dispose: close,
  };
}
