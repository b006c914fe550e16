// The chat page. Everything that comes from articles or the model is put in the page as text
// (textContent / text nodes), never as HTML: a hostile article cannot run script here.
"use strict";

const conversation = document.getElementById("conversation");
const form = document.getElementById("ask");
const input = document.getElementById("question");
const send = document.getElementById("send");
const modeSelect = document.getElementById("mode");
const keyInput = document.getElementById("apikey");
const CONTEXT_CHARS = 280;
const HISTORY_MESSAGES = 6;
const articleTexts = new Map();
let history = [];
let turns = 0;

keyInput.value = localStorage.getItem("rag-api-key") || "";
keyInput.addEventListener("change", () => localStorage.setItem("rag-api-key", keyInput.value.trim()));
document.getElementById("reset").addEventListener("click", () => {
  history = [];
  conversation.replaceChildren();
  turns = 0;
  input.focus();
});

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  node.append(...children); // strings become text nodes
  return node;
}

function headers(extra = {}) {
  const key = keyInput.value.trim();
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

async function errorText(response) {
  try {
    const body = await response.json();
    return body.detail || response.statusText;
  } catch {
    return response.statusText;
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const question = input.value.trim();
  if (!question) return;
  input.value = "";
  send.disabled = true;
  try {
    await ask(question);
  } finally {
    send.disabled = false;
    input.focus();
  }
});

async function ask(question) {
  const turn = ++turns;
  const box = el("article", { class: "turn", id: `turn-${turn}`, "data-state": "streaming" });
  const answer = el("p", { class: "answer" });
  box.append(el("p", { class: "question" }, question), answer);
  conversation.append(box);
  box.scrollIntoView({ block: "end" });

  let response;
  try {
    response = await fetch("/v1/ask", {
      method: "POST",
      headers: headers({ "content-type": "application/json", accept: "text/event-stream" }),
      body: JSON.stringify({ question, mode: modeSelect.value, stream: true, history }),
    });
  } catch (err) {
    return fail(box, `the server could not be reached (${err})`);
  }
  if (!response.ok) {
    if (response.status === 401) document.getElementById("settings").open = true;
    return fail(box, await errorText(response));
  }

  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let streamed = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const name = (frame.match(/^event: (.*)$/m) || [])[1];
      const data = frame.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (name === "token") {
        streamed += JSON.parse(data).text;
        answer.textContent = streamed;
      } else if (name === "final") {
        await render(box, turn, JSON.parse(data));
        history.push({ role: "user", content: question });
        history.push({ role: "assistant", content: JSON.parse(data).answer });
        history = history.slice(-HISTORY_MESSAGES);
      } else if (name === "error") {
        return fail(box, JSON.parse(data).detail);
      }
    }
  }
  if (box.dataset.state === "streaming") fail(box, "the answer stream ended early");
}

function fail(box, message) {
  box.append(el("p", { class: "error" }, `Error: ${message}`));
  box.dataset.state = "error";
}

async function render(box, turn, result) {
  const answer = box.querySelector(".answer");
  answer.replaceChildren(...withMarkers(result.answer, turn, new Set(result.citations.map((c) => String(c.n)))));
  if (result.refused) box.classList.add("refused");
  const reasons = result.unsupported_reasons || [];
  (result.unsupported || []).forEach((sentence, i) => {
    const why = reasons[i] || "not supported by the quoted sources";
    box.append(el("p", { class: "unsupported" }, `Left out: “${sentence}” (${why})`));
  });
  if (typeof result.confidence === "number" && !result.refused) {
    box.append(el("p", { class: "confidence", title: "the calibrated probability that this answer is right" },
      `Confidence: ${Math.round(result.confidence * 100)}%`));
  }
  const v = result.verification || {};
  if (v.dropped) {
    box.append(el("p", { class: "notice" },
      `${v.dropped} of the ${v.quotes_total} quotes the model gave were not in the articles and were dropped.`));
  }
  if (result.notice) box.append(el("p", { class: "notice" }, result.notice));
  if (result.citations.length) {
    const list = el("ol", { class: "sources" });
    for (const citation of result.citations) list.append(await source(turn, citation));
    box.append(list);
  }
  box.dataset.state = "done";
}

// Only the server's markers become links: an [n] with no citation n is article text, and the
// server writes an article's own "[2]" with full-width brackets, so it never matches here.
function withMarkers(text, turn, cited) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    const n = match[1];
    if (!cited.has(n)) continue;
    parts.push(text.slice(last, match.index));
    const link = el("a", { class: "marker", href: `#src-${turn}-${n}`, "data-n": n }, `[${n}]`);
    link.addEventListener("click", () => flash(`src-${turn}-${n}`));
    parts.push(link);
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

function flash(id) {
  const target = document.getElementById(id);
  if (!target) return;
  target.classList.add("flash");
  setTimeout(() => target.classList.remove("flash"), 1500);
}

async function articleText(id) {
  if (!articleTexts.has(id)) {
    const response = await fetch(`/v1/articles/${encodeURIComponent(id)}`, { headers: headers() });
    articleTexts.set(id, response.ok ? (await response.json()).text : null);
  }
  return articleTexts.get(id);
}

async function source(turn, c) {
  const kinds = { reattributed: "found in another source than the model said",
                  repaired: "the model paraphrased; this is the article's sentence" };
  const head = el("div", { class: "source-head" }, el("span", { class: "n" }, `[${c.n}]`), c.title);
  if (c.published_at) head.append(` · ${c.published_at}`);
  if (c.language && c.language !== "en") head.append(el("span", { class: "language" }, ` · ${c.language}`));
  if (kinds[c.kind]) head.append(el("span", { class: "kind" }, `(${kinds[c.kind]})`));
  const item = el("li", { id: `src-${turn}-${c.n}`, "data-article": c.article_id }, head);
  const text = await articleText(c.article_id);
  const context = el("p", c.language ? { class: "context", lang: c.language } : { class: "context" });
  if (text === null) {
    context.append(el("mark", {}, c.quote));
  } else {
    // Offsets count code points (Python's), not UTF-16 units: index the text by code point, so a
    // quote after an emoji or a CJK extension character is cut where the server cut it.
    const chars = Array.from(text);
    const cut = (a, b) => chars.slice(a, b).join("");
    // about CONTEXT_CHARS either side, widened to whole words
    let from = Math.max(0, c.start - CONTEXT_CHARS);
    while (from > 0 && !/\s/.test(chars[from - 1])) from--;
    let to = Math.min(chars.length, c.end + CONTEXT_CHARS);
    while (to < chars.length && !/\s/.test(chars[to])) to++;
    context.append(from > 0 ? "…" : "", cut(from, c.start), el("mark", {}, cut(c.start, c.end)),
                   cut(c.end, to), to < chars.length ? "…" : "");
  }
  item.append(context);
  return item;
}
