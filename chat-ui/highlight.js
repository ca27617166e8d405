// A tiny syntax highlighter (YAML, JSON, shell, diff) and code blocks with Copy and
// Download buttons. It only ever creates text nodes and spans.

import { h, copyText, download } from "./dom.js";

const ALIASES = {
  yml: "yaml", yaml: "yaml", compose: "yaml", json: "json", jsonc: "json",
  sh: "sh", bash: "sh", shell: "sh", console: "sh", zsh: "sh", diff: "diff", patch: "diff",
};

const EXTENSIONS = { yaml: "yaml", json: "json", sh: "sh", diff: "diff" };

export const language = (name) => ALIASES[String(name || "").toLowerCase()] || "";

// Sticky rules tried in order at each position; a "word" rule makes keywords match whole.
const WORD = [/[\w./@%+-]+/y, null];
const SPACE = [/\s+/y, null];

const RULES = {
  yaml: [
    [/(?<=^|\s)#.*/y, "tok-comment"],
    [/"(?:[^"\\\n]|\\.)*"?|'(?:[^'\n]|'')*'?/y, "tok-string"],
    [/(?:true|false|yes|no|on|off|null|True|False|Null|NULL|~)(?![\w.-])/y, "tok-literal"],
    [/-?(?:0x[\da-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.:-])/y, "tok-number"],
    [/[&*][\w-]+|![\w!]*/y, "tok-anchor"],
    [/\$\{[^}\n]*\}?|\$[A-Za-z_]\w*/y, "tok-variable"],
    SPACE, WORD,
  ],
  json: [
    [/"(?:[^"\\\n]|\\.)*"(?=\s*:)/y, "tok-key"],
    [/"(?:[^"\\\n]|\\.)*"?/y, "tok-string"],
    [/(?:true|false|null)(?![\w])/y, "tok-literal"],
    [/-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y, "tok-number"],
    SPACE, [/[\w.-]+/y, null],
  ],
  sh: [
    [/(?<=^|\s)#.*/y, "tok-comment"],
    [/"(?:[^"\\]|\\.)*"?|'[^']*'?/y, "tok-string"],
    [/\$\{[^}\n]*\}?|\$[A-Za-z_]\w*|\$[?$!#@*\d]/y, "tok-variable"],
    [/(?<=^|[\s|;&(])--?[\w-]+(?:=)?/y, "tok-flag"],
    [/(?<=^|[|;&]\s*|^\$\s)(?:sudo\s+)?[A-Za-z_][\w.-]*(?=\s|$)/y, "tok-command"],
    [/[|&;<>]+/y, "tok-punct"],
    SPACE, WORD,
  ],
};

function tokenize(text, rules) {
  const out = [];
  let plain = "";
  let pos = 0;
  const flush = () => { if (plain) out.push(plain); plain = ""; };
  outer: while (pos < text.length) {
    for (const [regex, cls] of rules) {
      regex.lastIndex = pos;
      const match = regex.exec(text);
      if (match && match[0].length) {
        if (cls) {
          flush();
          out.push(h("span", { class: cls }, match[0]));
        } else plain += match[0];
        pos += match[0].length;
        continue outer;
      }
    }
    plain += text[pos];
    pos += 1;
  }
  flush();
  return out;
}

function yamlLine(line) {
  // "  - key: value" -> indent, dash, key, colon, then the value tokens.
  const match = /^(\s*(?:-\s+)*)((?:"[^"]*"|'[^']*'|[^\s#'"{}[\],&*!|>][^:#]*?)\s*)(:)(?=\s|$)(.*)$/.exec(line);
  if (!match || /^\s*#/.test(line)) {
    const dash = /^(\s*-\s)(.*)$/.exec(line);
    if (dash) return [h("span", { class: "tok-punct" }, dash[1]), ...tokenize(dash[2], RULES.yaml)];
    return tokenize(line, RULES.yaml);
  }
  const [, lead, key, colon, rest] = match;
  return [
    lead ? h("span", { class: "tok-punct" }, lead) : null,
    h("span", { class: "tok-key" }, key),
    h("span", { class: "tok-punct" }, colon),
    ...tokenize(rest, RULES.yaml),
  ];
}

function diffLine(line) {
  let cls = null;
  if (line.startsWith("+++") || line.startsWith("---")) cls = "diff-file";
  else if (line.startsWith("@@")) cls = "diff-hunk";
  else if (line.startsWith("+")) cls = "diff-add";
  else if (line.startsWith("-")) cls = "diff-del";
  return h("span", { class: `diff-line ${cls || "diff-ctx"}` }, line || " ");
}

/** Highlighted nodes for a code text in a language ("" gives plain text). */
export function highlight(code, lang) {
  const kind = language(lang);
  const lines = code.split("\n");
  const nodes = [];
  lines.forEach((line, index) => {
    if (kind === "diff") nodes.push(diffLine(line));
    else {
      if (kind === "yaml") nodes.push(...yamlLine(line));
      else if (RULES[kind]) nodes.push(...tokenize(line, RULES[kind]));
      else nodes.push(line);
      if (index < lines.length - 1) nodes.push("\n");
    }
  });
  return nodes;
}

let blockCount = 0;

/** A code block with its language, a Copy and a Download button. */
export function codeBlock(code, lang = "", { filename, label } = {}) {
  const kind = language(lang);
  const name = filename || `windflow-snippet.${EXTENSIONS[kind] || "txt"}`;
  const id = `code-${++blockCount}`;
  const status = h("span", { class: "copy-status", role: "status" });
  const copy = h("button", {
    type: "button", class: "btn btn-small", testid: "copy-code", "aria-describedby": id,
    onclick: async () => {
      const ok = await copyText(code);
      status.textContent = ok ? "Copied" : "Copy failed: select the text instead";
      setTimeout(() => { status.textContent = ""; }, 2500);
    },
  }, "Copy");
  const save = h("button", {
    type: "button", class: "btn btn-small", testid: "download-code", "aria-describedby": id,
    onclick: () => download(code, name),
  }, "Download");
  return h("figure", { class: "code-block", dataset: { lang: kind || lang || "text" } },
    h("figcaption", { class: "code-bar" },
      h("span", { class: "code-lang", id }, label || (lang ? `${lang} code` : "code")),
      h("span", { class: "code-actions" }, status, copy, save)),
    h("pre", { tabindex: "0", class: kind === "diff" ? "diff" : null },
      h("code", { class: kind ? `lang-${kind}` : null }, highlight(code, kind))));
}

/** A unified diff with +/- lines colored (and the +/- kept: color is not the only cue). */
export function diffView(diff, label = "Diff") {
  return codeBlock(diff.replace(/\n$/, ""), "diff", { filename: "windflow-plan.diff", label });
}

/** JSON text pretty-printed and highlighted, or the raw text if it is not JSON. */
export function jsonBlock(text, { label = "JSON", filename } = {}) {
  let pretty = text;
  try {
    pretty = JSON.stringify(typeof text === "string" ? JSON.parse(text) : text, null, 2);
  } catch {
    return codeBlock(String(text), "", { label, filename });
  }
  return codeBlock(pretty, "json", { label, filename: filename || "windflow-output.json" });
}
