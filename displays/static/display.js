// Hall call display: the newest call large and flashing, the last calls, waiting per queue, a
// clock, and a voice that announces each call once, in order, also the ones made while offline.

import { centerInfo, pageToken } from "./api.js";
import { Announcer } from "./announcer.js";
import { bi, dateText, h, spokenNumber, timeText, useTimeZone } from "./i18n.js";
import { LiveSocket, bindBanner } from "./live.js";

const center = decodeURIComponent(location.pathname.split("/")[2]);
const RECENT = 7;
const $ = (id) => document.getElementById(id);

const state = {
  info: null,
  windows: new Map(),    // window id → window view
  tickets: new Map(),    // live tickets by id
  calls: [],             // newest first: {key, id, number, window, at, recall}
  lastAt: 0,             // time of the newest event handled: a reset snapshot announces calls after it
};
const announced = new Set(); // ticket id + version: a call is announced once, whatever arrives twice
const announcer = new Announcer();
window.__snapshots = []; // for tests: every snapshot taken, and whether it replaced lost history

function windowName(id, view) {
  const w = view || state.windows.get(id) || state.info?.windows.find((x) => x.code === id) || {};
  return [w.name_zh || id || "", w.name_en || id || ""];
}

function callOf(t, view, recall) {
  return { key: `${t.id}@${t.version}`, id: t.id, number: t.number, window: t.window, at: t.called_at || Date.now(),
    recall, names: windowName(t.window, view) };
}

function announce(call) {
  if (announced.has(call.key)) return;
  announced.add(call.key);
  const [zh] = call.names;
  const again = call.recall ? "再次呼叫，" : "";
  announcer.say(`${again}请${spokenNumber(call.number)}号到${zh}办理`);
}

function pushCall(call, live) {
  state.calls = [call, ...state.calls.filter((c) => c.id !== call.id)].slice(0, RECENT + 1);
  renderCalls(live);
  if (live) announce(call);
}

function applySnapshot(msg, { reset }) {
  const before = state.lastAt;
  window.__snapshots.push({ reset });
  state.windows = new Map((msg.windows || []).map((w) => [w.id, w]));
  state.tickets = new Map((msg.tickets || []).filter((t) => t.id).map((t) => [t.id, t]));
  const atWindow = [...state.tickets.values()].filter((t) => (t.status === "called" || t.status === "serving") && t.called_at)
    .sort((a, b) => a.called_at - b.called_at || a.version - b.version);
  const known = new Map(state.calls.map((c) => [c.id, c]));
  state.calls = atWindow.map((t) => known.get(t.id) || callOf(t, state.windows.get(t.window), t.recalls > 0)).reverse()
    .slice(0, RECENT + 1);
  renderCalls(false);
  renderWaiting();
  // A reset means events were lost: calls made since the last one we handled still get their voice.
  if (reset && before) {
    atWindow.filter((t) => t.status === "called" && t.called_at > before)
      .forEach((t) => announce(callOf(t, state.windows.get(t.window), t.recalls > 0)));
  }
  state.lastAt = Math.max(before, msg.now || 0);
}

function applyEvent(evt) {
  state.lastAt = Math.max(state.lastAt, evt.at || 0);
  if (evt.window?.id) state.windows.set(evt.window.id, evt.window);
  const t = evt.ticket;
  if (t?.id) {
    if (["finished", "no_show", "cancelled"].includes(t.status)) state.tickets.delete(t.id);
    else state.tickets.set(t.id, t);
  }
  if ((evt.type === "ticket.called" || evt.type === "ticket.recalled") && t) {
    pushCall(callOf(t, evt.window, evt.type === "ticket.recalled"), true);
  } else if (t && !["called", "serving"].includes(t.status) && state.calls.some((c) => c.id === t.id)) {
    // a call that ended (no-show, transfer, pause) leaves the list; finished ones stay as history
    if (t.status !== "finished") {
      state.calls = state.calls.filter((c) => c.id !== t.id);
      renderCalls(false);
    }
  }
  renderWaiting();
}

function renderCalls(flash) {
  const [newest, ...rest] = state.calls;
  const box = $("now");
  if (newest) {
    $("now-number").textContent = newest.number;
    $("now-window").replaceChildren(bi(newest.names[0], newest.names[1]));
    box.classList.remove("idle");
  } else {
    $("now-number").textContent = "";
    $("now-window").replaceChildren(bi("暂无叫号", "No calls yet"));
    box.classList.add("idle");
  }
  if (flash) {
    box.classList.remove("flash");
    void box.offsetWidth; // restart the animation for a new call
    box.classList.add("flash");
  }
  const list = $("recent");
  list.replaceChildren(...rest.slice(0, RECENT).map((c) => h("li", { dataset: { ticket: c.id } },
    h("span", { class: "num" }, c.number, c.recall ? h("span", { class: "again" }, "重呼") : null),
    h("span", { class: "to" }, "→"),
    h("span", { class: "win" }, bi(c.names[0], c.names[1])),
    h("span", { class: "at" }, timeText(c.at)))));
  if (!rest.length) list.replaceChildren(h("li", { class: "recent-empty" }, bi("暂无更多叫号", "No earlier calls")));
}

function renderWaiting() {
  const counts = {};
  for (const t of state.tickets.values()) if (t.status === "waiting") counts[t.queue] = (counts[t.queue] || 0) + 1;
  const queues = state.info?.queues || [];
  $("waiting").replaceChildren(...queues.map((q) => h("div", { class: "queue-card", dataset: { queue: q.code } },
    h("span", { class: "prefix" }, q.prefix),
    h("span", { class: "name" }, h("span", { class: "zh" }, q.name_zh), h("span", { class: "en" }, q.name_en)),
    h("span", { class: "count", dataset: { count: counts[q.code] || 0 } }, String(counts[q.code] || 0),
      h("small", {}, "人")))));
}

const VOICE_LABELS = {
  on: ["语音播报 开", "Voice on"],
  off: ["语音播报 关", "Voice off"],
  blocked: ["点击开启语音", "Tap to enable voice"],
};

// What the switch says is what the hall hears: off (the hall's choice), blocked (wanted, but the
// browser makes no sound before a first tap; a kiosk started with
// --autoplay-policy=no-user-gesture-required never waits), or on.
function voiceState() {
  if (!announcer.enabled) return "off";
  return announcer.blocked() ? "blocked" : "on";
}

function renderVoice() {
  const state = voiceState();
  const btn = $("voice");
  btn.dataset.voice = state;
  btn.setAttribute("aria-pressed", String(state === "on"));
  btn.replaceChildren(bi(...VOICE_LABELS[state]));
  $("audio-hint").hidden = state !== "blocked";
}

// A tap on a blocked switch is the one that lets the voice speak, not one that turns it off: what
// counts is the state when the finger came down (audio may start before the click arrives).
let tapUnlocks = false;

function toggleVoice() {
  if (tapUnlocks || voiceState() === "blocked") announcer.unlock();
  else announcer.setEnabled(!announcer.enabled);
  tapUnlocks = false;
  renderVoice();
}

function tick(socket) {
  const now = socket.now();
  $("clock-time").textContent = timeText(now, true);
  const [zh, en] = dateText(now);
  $("clock-date").replaceChildren(bi(zh, en));
}

async function main() {
  $("voice").addEventListener("click", toggleVoice);
  document.addEventListener("pointerdown", (e) => {
    tapUnlocks = Boolean(e.target.closest?.("#voice")) && voiceState() === "blocked";
    announcer.unlock();
  });
  announcer.context()?.addEventListener("statechange", renderVoice);
  renderVoice();
  renderCalls(false);
  try {
    state.info = await centerInfo(center);
    useTimeZone(state.info.timezone);
    $("center-zh").textContent = state.info.name_zh;
    $("center-en").textContent = state.info.name_en;
    document.title = `${state.info.name_zh} 叫号屏 Call display`;
  } catch { /* the socket's snapshot still fills the screen; names fall back to codes */ }
  renderWaiting();
  const socket = new LiveSocket(`/ws/centers/${encodeURIComponent(center)}/display`, {
    token: pageToken(),
    onSnapshot: applySnapshot,
    onEvent: applyEvent,
    onStatus: bindBanner($("offline")),
  }).start();
  window.__live = socket;
  tick(socket);
  setInterval(() => tick(socket), 1000);
}

main();
