// Review tablet: the staff card; after this window finishes a ticket, five rating buttons, reasons
// on a bad one, then POST /api/v1/reviews with the tablet's token and back to the staff card.

import { api, centerInfo, pageToken } from "./api.js";
import { bi, h } from "./i18n.js";
import { LiveSocket, bindBanner } from "./live.js";
import { renderStaff } from "./staffcard.js";

const [, , centerRaw, windowRaw] = location.pathname.split("/");
const center = decodeURIComponent(centerRaw);
const windowId = decodeURIComponent(windowRaw);
const token = pageToken();
const $ = (id) => document.getElementById(id);

const LEVELS = [
  [5, "非常满意", "Very satisfied"],
  [4, "满意", "Satisfied"],
  [3, "基本满意", "Basically satisfied"],
  [2, "不满意", "Dissatisfied"],
  [1, "非常不满意", "Very dissatisfied"],
];
const REASONS = [
  ["efficiency", "办理效率", "Service efficiency"],
  ["attitude", "服务态度", "Attitude"],
  ["professionalism", "业务水平", "Professional level"],
  ["process", "流程材料", "Process & materials"],
  ["environment", "环境设施", "Environment"],
  ["other", "其他", "Other"],
];
const PROMPT_MS = 120_000;   // an unanswered prompt goes back to the staff card
const THANKS_MS = 4_000;

let win = null;
let prompt = null;            // {ticket, level, reasons:Set}
let backTimer = null;
let sending = false;

function show(view) {
  for (const v of ["staff", "rate", "thanks"]) $(`view-${v}`).hidden = v !== view;
}

function renderCard() {
  $("window-name").replaceChildren(bi(win?.name_zh || windowId, win?.name_en || windowId));
  renderStaff(win, { card: $("staff"), avatar: $("avatar"), name: $("staff-name"), no: $("staff-no"), state: $("win-state") });
}

function backLater(ms) {
  clearTimeout(backTimer);
  backTimer = setTimeout(() => { prompt = null; show("staff"); }, ms);
}

function askFor(ticket) {
  prompt = { ticket, level: null, reasons: new Set() };
  $("rate-for").replaceChildren(bi(`号码 ${ticket.number}`, `Ticket ${ticket.number}`));
  $("comment").value = "";
  showBad(false);
  clearErrors();
  renderLevels();
  renderReasons();
  show("rate");
  backLater(PROMPT_MS);
}

function renderLevels() {
  $("levels").classList.toggle("has-choice", Boolean(prompt?.level));
  $("levels").replaceChildren(...LEVELS.map(([level, zh, en]) => h("button", {
    type: "button", class: `btn level${prompt?.level === level ? " selected" : ""}`, dataset: { level },
    onclick: () => choose(level),
  }, h("span", { class: "stars", "aria-hidden": "true" }, "★".repeat(level), h("span", { class: "off" }, "★".repeat(5 - level))), h("span", { class: "zh" }, zh), h("span", { class: "en" }, en))));
}

function renderReasons() {
  $("reasons").replaceChildren(...REASONS.map(([code, zh, en]) => h("button", {
    type: "button", class: `btn reason${prompt?.reasons.has(code) ? " selected" : ""}`, dataset: { reason: code },
    "aria-pressed": String(Boolean(prompt?.reasons.has(code))),
    onclick: () => {
      if (prompt.reasons.has(code)) prompt.reasons.delete(code); else prompt.reasons.add(code);
      $("rate-error").hidden = true;
      renderReasons();
    },
  }, bi(zh, en, "stack"))));
}

function choose(level) {
  if (!prompt || sending) return;
  prompt.level = level;
  renderLevels();
  backLater(PROMPT_MS);
  if (level <= 2) {
    showBad(true);
    return;
  }
  showBad(false);
  submit();
}

// The reasons take the room of the question above the buttons, so all fits on a 10-inch screen.
function showBad(on) {
  $("bad").hidden = !on;
  $("view-rate").classList.toggle("bad-open", on);
}

// A bad rating's error sits beside its submit button, where the resident looks (and always on
// screen); a good rating is sent on the tap, so its error goes under the levels.
function fail(zh, en) {
  const box = $(prompt?.level <= 2 ? "rate-error" : "send-error");
  box.replaceChildren(bi(zh, en));
  box.hidden = false;
}

function clearErrors() {
  $("rate-error").hidden = true;
  $("send-error").hidden = true;
}

async function submit() {
  if (!prompt || sending) return;
  if (prompt.level <= 2 && prompt.reasons.size === 0) {
    fail("请至少选择一个原因", "Please choose at least one reason");
    return;
  }
  sending = true;
  clearErrors();
  const body = { ticket_id: prompt.ticket.id, level: prompt.level, reasons: [...prompt.reasons],
    comment: prompt.level <= 2 ? $("comment").value.trim() : "", channel: "tablet" };
  try {
    await api("POST", "/api/v1/reviews", { body, token });
    prompt = null;
    show("thanks");
    backLater(THANKS_MS);
  } catch (err) {
    fail(`评价未能提交：${err.detail || err.message}`, `The rating was not stored (${err.status || "network"})`);
  } finally {
    sending = false;
  }
}

function onSnapshot(msg) {
  win = (msg.windows || []).find((w) => w.id === windowId) || win;
  renderCard();
}

function onEvent(evt) {
  if (evt.window?.id === windowId) {
    win = evt.window;
    renderCard();
  }
  if (evt.type === "ticket.finished" && evt.ticket?.window === windowId) askFor(evt.ticket);
}

async function main() {
  $("bad-submit").addEventListener("click", submit);
  $("bad-back").addEventListener("click", () => { if (prompt) { prompt.level = null; prompt.reasons.clear(); } clearErrors(); showBad(false); renderLevels(); renderReasons(); });
  try {
    const info = await centerInfo(center);
    $("center-name").replaceChildren(bi(info.name_zh, info.name_en));
    const w = info.windows.find((x) => x.code === windowId);
    if (w && !win) win = { id: windowId, name_zh: w.name_zh, name_en: w.name_en, state: "closed" };
  } catch { /* the snapshot brings the window too */ }
  renderCard();
  show("staff");
  new LiveSocket(`/ws/centers/${encodeURIComponent(center)}/windows/${encodeURIComponent(windowId)}/tablet`, {
    token, onSnapshot, onEvent, onStatus: bindBanner($("offline")),
  }).start();
}

main();
