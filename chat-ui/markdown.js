// A small, safe Markdown renderer for assistant messages: the text is never parsed as
// HTML; blocks and inline marks become DOM nodes and everything else stays text.
// Supported: paragraphs, line breaks, headings (as bold lines), bullet and numbered
// lists, fenced code blocks (highlighted, with Copy and Download), `code`, **bold**,
// *emphasis*, and [links](https://...) to http(s) addresses only.

import { h } from "./dom.js";
import { codeBlock } from "./highlight.js";

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)[^`]*$/;
const LIST_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$/;

export function renderMarkdown(text) {
  const fragment = document.createDocumentFragment();
  const lines = String(text ?? "").replace(/\r\n?/g, "\n").split("\n");
  let paragraph = [];

  const flushParagraph = () => {
    if (!paragraph.length) return;
    const p = h("p");
    paragraph.forEach((line, i) => {
      if (i) p.append(h("br"));
      p.append(...inline(line));
    });
    fragment.append(p);
    paragraph = [];
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = FENCE.exec(line);
    if (fence) {
      flushParagraph();
      const marker = fence[1];
      const body = [];
      i += 1;
      // An unclosed fence (a message still streaming) runs to the end.
      while (i < lines.length && !lines[i].trim().startsWith(marker)) body.push(lines[i++]);
      fragment.append(codeBlock(body.join("\n"), fence[2]));
      continue;
    }
    if (!line.trim()) {
      flushParagraph();
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      flushParagraph();
      fragment.append(h("p", { class: "md-heading" }, h("strong", {}, ...inline(heading[2]))));
      continue;
    }
    if (LIST_ITEM.test(line)) {
      flushParagraph();
      i = list(lines, i, fragment) - 1;
      continue;
    }
    paragraph.push(line);
  }
  flushParagraph();
  return fragment;
}

function list(lines, start, parent) {
  const first = LIST_ITEM.exec(lines[start]);
  const ordered = /\d/.test(first[2]);
  const el = h(ordered ? "ol" : "ul");
  if (ordered && parseInt(first[2], 10) !== 1) el.setAttribute("start", String(parseInt(first[2], 10)));
  let item = null;
  let i = start;
  for (; i < lines.length; i++) {
    const line = lines[i];
    const match = LIST_ITEM.exec(line);
    if (match && /\d/.test(match[2]) === ordered && match[1].length <= first[1].length + 1) {
      item = h("li", {}, ...inline(match[3]));
      el.append(item);
    } else if (line.trim() && /^\s+/.test(line) && item && !FENCE.test(line)) {
      item.append(h("br"), ...inline(line.trim()));
    } else break;
  }
  parent.append(el);
  return i;
}

// Inline marks: code spans first (nothing inside them is formatted), then links, bold,
// emphasis. Each pattern captures the inner text, which is formatted recursively.
const INLINE = [
  [/`([^`\n]+)`/y, (m) => h("code", {}, m[1])],
  [/\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/y, (m) => link(m[1], m[2])],
  [/\*\*(?=\S)([^\n]*?\S)\*\*/y, (m) => h("strong", {}, ...inline(m[1]))],
  [/\*(?=[^\s*])([^*\n]*?[^\s*])\*(?!\*)/y, (m) => h("em", {}, ...inline(m[1]))],
];

function link(label, href) {
  let url;
  try {
    url = new URL(href);
  } catch {
    return `[${label}](${href})`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return label;
  return h("a", { href: url.href, rel: "noopener noreferrer nofollow", target: "_blank" }, label);
}

export function inline(text) {
  const out = [];
  let plain = "";
  let pos = 0;
  outer: while (pos < text.length) {
    const ch = text[pos];
    if (ch === "`" || ch === "[" || ch === "*") {
      for (const [regex, build] of INLINE) {
        regex.lastIndex = pos;
        const match = regex.exec(text);
        if (match) {
          if (plain) out.push(plain);
          plain = "";
          out.push(build(match));
          pos += match[0].length;
          continue outer;
        }
      }
    }
    plain += ch;
    pos += 1;
  }
  if (plain) out.push(plain);
  return out;
}
