// Server-Sent Events over fetch() (EventSource cannot send the Authorization header):
// a parser for the text/event-stream format and a stream that reconnects with backoff,
// resuming with Last-Event-ID.

import { raw, ApiError } from "./api.js";

/** Returns feed(text): call it with decoded chunks; onEvent({id, event, data}) per event. */
export function sseParser(onEvent, onComment = () => {}) {
  let buffer = "";
  let data = [];
  let event = "";
  let id = null;

  function line(text) {
    if (text === "") {
      if (data.length) onEvent({ id, event: event || "message", data: data.join("\n") });
      data = [];
      event = "";
      return;
    }
    if (text.startsWith(":")) {
      onComment(text.slice(1));
      return;
    }
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") event = value;
    else if (field === "id" && !value.includes("\0")) id = value;
  }

  return function feed(chunk) {
    buffer += chunk;
    for (;;) {
      const match = /\r\n|\r|\n/.exec(buffer);
      if (!match) return;
      // A lone "\r" at the end may be the first half of "\r\n": wait for more.
      if (match[0] === "\r" && match.index === buffer.length - 1) return;
      line(buffer.slice(0, match.index));
      buffer = buffer.slice(match.index + match[0].length);
    }
  };
}

const SILENCE_MS = 45_000; // the server sends a heartbeat every 15 s
const MAX_BACKOFF_MS = 4_000;

/**
 * Follow an SSE endpoint until close(). onState gets "connecting" | "open" |
 * "reconnecting" | "failed" (with the error). lastEventId() is sent as Last-Event-ID.
 */
export function follow(path, { onEvent, onState = () => {}, lastEventId = () => null }) {
  let closed = false;
  let attempt = null;
  let wake = null;
  let delay = 500;

  const abortAttempt = () => attempt?.abort();
  const offline = () => { abortAttempt(); onState("reconnecting"); };
  const online = () => { delay = 250; wake?.(); };
  window.addEventListener("offline", offline);
  window.addEventListener("online", online);

  async function once() {
    attempt = new AbortController();
    let silence = setTimeout(abortAttempt, SILENCE_MS);
    const alive = () => {
      clearTimeout(silence);
      silence = setTimeout(abortAttempt, SILENCE_MS);
    };
    const headers = { Accept: "text/event-stream" };
    const last = lastEventId();
    if (last != null) headers["Last-Event-ID"] = String(last);
    try {
      const response = await raw("GET", path, { headers, signal: attempt.signal });
      if (!response.ok) throw await ApiError.of(response);
      onState("open");
      delay = 500;
      const feed = sseParser((message) => {
        alive();
        onEvent(message);
      }, alive);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        alive();
        feed(value);
      }
    } finally {
      clearTimeout(silence);
    }
  }

  (async () => {
    while (!closed) {
      onState("connecting");
      try {
        await once();
      } catch (err) {
        if (closed) return;
        // The resource is gone or forbidden: retrying cannot help.
        if (err instanceof ApiError && [401, 403, 404, 422].includes(err.status)) {
          onState("failed", err);
          return;
        }
      }
      if (closed) return;
      onState("reconnecting");
      await new Promise((resolve) => {
        wake = resolve;
        setTimeout(resolve, delay + Math.random() * 200);
      });
      wake = null;
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);
    }
  })();

  return {
    close() {
      closed = true;
      window.removeEventListener("offline", offline);
      window.removeEventListener("online", online);
      abortAttempt();
      wake?.();
    },
  };
}
