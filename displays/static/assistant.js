// The assistant at a service point (帮办员): the operator half of the point's dual-screen all-in-one
// (the resident half is /point/{point}). Takes a ticket for a resident and prints it, shows the
// point's queue and the remote clerk serving it, and marks a resident present (在场) for the clerk.
// The server scopes everything to the token's own point (GET .../queue, POST .../tickets,
// POST .../tickets/{id}/present, WS /ws/points/{point}/assistant).

import { api, centerInfo, pageToken, randomKey } from "./api.js";
import { bi, dayTimeText, h, PRIORITY, showProblem, STATUS, useTimeZone, WINDOW_STATE } from "./i18n.js";
import { LiveSocket, bindBanner } from "./live.js";

const [, , pointRaw] = location.pathname.split("/");
const pointId = decodeURIComponent(pointRaw);
const center = pointId.split("-")[0];
const base = `/api/v1/points/${encodeURIComponent(pointId)}`;
const token = pageToken();
const PHONE = /^(\+?86)?1[3-9]\d{9}$/;
const QUEUE_REFRESH_MS = 60_000;   // which windows serve the point changes with the time of day
const $ = (id) => document.getElementById(id);

let info = null;
let point = null;
let matters = new Map();
let chosen = null;                 // the matter code picked
let priority = "normal";
let attemptKey = randomKey();      // one Idempotency-Key per ticket, kept over retries
let busy = false;
let serving = new Set();           // the remote windows assigned to the point now
const windows = new Map();
const tickets = new Map();

function keep(t) {
  if (!t?.id) return;
  const old = tickets.get(t.id);
  if (old && old.version > t.version) return;
  if (["finished", "no_show", "cancelled"].includes(t.status)) tickets.delete(t.id);
  else tickets.set(t.id, t);
}

function matterName(code, cls = "stack") {
  const m = matters.get(code);
  return m ? bi(m.name_zh, m.name_en, cls) : code;
}

function windowName(id) {
  const w = windows.get(id) || info?.windows.find((x) => x.code === id);
  return [w?.name_zh || id, w?.name_en || id];
}

function showError(err) {
  showProblem($("error"), err);
}

function renderHeader() {
  const p = point || info?.service_points?.find((x) => x.code === pointId.slice(center.length + 1));
  $("point-name").replaceChildren(bi(`${p?.name_zh || pointId} · 帮办员`, `${p?.name_en || pointId} · Assistant`, "stack"));
  const shown = [...serving].map((id) => windows.get(id) || { id });
  $("clerks").replaceChildren(...(shown.length ? shown.map((w) => {
    const st = w.state || "closed";
    const [nz, ne] = windowName(w.id);
    const who = st !== "closed" && w.staff_name ? bi(`${nz} · ${w.staff_name}`, ne) : bi(`${nz} · 无人在岗`, `${ne} · nobody on duty`);
    return h("div", { class: `clerk ${st}`, dataset: { window: w.id } }, who,
      h("span", { class: "state" }, bi(...(WINDOW_STATE[st] || [st, st]))));
  }) : [h("div", { class: "clerk closed" }, bi("现在没有远程窗口服务本点", "No remote window serves this point now"))]));
}

function renderMatters() {
  $("matters").replaceChildren(...[...matters.values()].map((m) => h("button", {
    type: "button", class: `btn${chosen === m.code ? " selected" : ""}`, dataset: { matter: m.code },
    onclick: () => { chosen = m.code; renderMatters(); renderTake(); },
  }, bi(m.name_zh, m.name_en, "stack"))));
}

function renderTake() {
  for (const b of $("priority").querySelectorAll("button")) b.classList.toggle("selected", b.dataset.priority === priority);
  $("issue").disabled = busy || !chosen;
}

function renderQueue() {
  const live = [...tickets.values()].sort((a, b) => (a.sort_at || a.issued_at) - (b.sort_at || b.issued_at));
  const waiting = live.filter((t) => t.status === "waiting").length;
  $("waiting-count").replaceChildren(bi(`等候 ${waiting} 人`, `${waiting} waiting`));
  $("queue").replaceChildren(...(live.length ? live.map((t) => {
    const [sz, se] = STATUS[t.status] || [t.status, t.status];
    const at = t.window && (t.status === "called" || t.status === "serving") ? windowName(t.window) : null;
    const canMark = !t.present_at && (t.status === "waiting" || t.status === "called");
    return h("tr", { class: t.status, dataset: { ticket: t.id, status: t.status } },
      h("td", { class: "num" }, t.number,
        t.priority !== "normal" ? h("span", { class: "tag priority" }, bi(...(PRIORITY[t.priority] || [t.priority, t.priority]))) : null),
      h("td", { class: "matter" }, matterName(t.matter)),
      h("td", { class: "status" }, at ? bi(`${sz} · ${at[0]}`, `${se} · ${at[1]}`, "stack") : bi(sz, se, "stack")),
      h("td", { class: "presence" }, t.present_at ? h("span", { class: "tag present" }, bi("在场", "present"))
        : h("button", { type: "button", class: "btn mark-present", disabled: busy || !canMark, onclick: () => markPresent(t) },
          bi("标记在场", "Mark present", "stack"))));
  }) : [h("tr", { class: "empty-row" }, h("td", { colspan: "4" }, bi("本服务点暂无排队", "Nobody in line at this point")))]));
}

function render() {
  renderHeader();
  renderTake();
  renderQueue();
}

async function run(call) {
  if (busy) return null;
  busy = true;
  render();
  try {
    const res = await call();
    showError(null);
    return res;
  } catch (err) {
    showError(err);
    return null;
  } finally {
    busy = false;
    render();
  }
}

async function issue() {
  if (!chosen) return;
  const phone = $("phone").value.replace(/[\s-]/g, "");
  $("phone").classList.toggle("invalid", Boolean(phone) && !PHONE.test(phone));
  if (phone && !PHONE.test(phone)) {
    showError({ detail: "手机号格式不正确：请输入11位大陆手机号，或留空 · Enter an 11-digit mainland mobile number, or leave it empty" });
    return;
  }
  const body = { matter: chosen, priority };
  if (phone) body.phone = phone;
  const res = await run(() => api("POST", `${base}/tickets`, { body, token, headers: { "Idempotency-Key": attemptKey } }));
  if (!res) return;
  attemptKey = randomKey();
  keep(res.data);
  showTicket(res.data);
  $("phone").value = "";
  chosen = null;
  priority = "normal";
  renderMatters();
  render();
}

async function markPresent(t) {
  const res = await run(() => api("POST", `${base}/tickets/${encodeURIComponent(t.id)}/present`, { body: {}, token }));
  if (res) { keep(res.data); render(); }
}

function qrPath(ticketId, review = null) {
  return `/api/v1/tickets/${encodeURIComponent(ticketId)}/qr.svg${review ? `?review=${encodeURIComponent(review)}` : ""}`;
}

// The printed ticket is the kiosk's: number, matter, place in line and a QR to the resident's status
// page, carrying the ticket's own single-use review link when the server gives one.
function showTicket(t) {
  const p = point || {};
  $("t-center").replaceChildren(bi(info?.name_zh || center, info?.name_en || center));
  $("t-place").replaceChildren(bi(`${p.name_zh || pointId} · 远程服务点`, `${p.name_en || pointId} · remote service point`));
  $("t-number").textContent = t.number;
  $("t-matter").replaceChildren(matterName(t.matter, ""));
  $("t-ahead").replaceChildren(bi(`前面还有 ${t.ahead} 人`, `${t.ahead} ahead`));
  $("t-time").textContent = dayTimeText(t.issued_at || Date.now());
  $("t-qr").src = qrPath(t.id);
  $("ticket").dataset.ticket = t.id;
  $("ticket-view").hidden = false;
  api("POST", "/api/v1/reviews/links", { body: { ticket_id: t.id }, token }).then(({ data }) => {
    if ($("ticket").dataset.ticket === t.id) $("t-qr").src = qrPath(t.id, new URL(data.url).pathname.split("/").pop());
  }).catch(() => { /* without a review link the QR still opens the status page */ });
}

async function loadQueue() {
  try {
    const { data } = await api("GET", `${base}/queue`, { token });
    point = data.point;
    serving = new Set(data.windows.map((w) => w.id));
    for (const w of data.windows) windows.set(w.id, { ...(windows.get(w.id) || {}), ...w });
    for (const t of data.tickets) keep(t);
    render();
  } catch (err) {
    showError(err);
  }
}

function onSnapshot(msg) {
  document.dispatchEvent(new CustomEvent("live:snapshot", { detail: msg }));   // the materials panel follows it
  point = msg.point || point;
  for (const w of msg.windows || []) windows.set(w.id, { ...(windows.get(w.id) || {}), ...w });
  tickets.clear();
  for (const t of msg.tickets || []) keep(t);
  render();
}

function onEvent(evt) {
  document.dispatchEvent(new CustomEvent("live:event", { detail: evt }));
  if (evt.window?.id) windows.set(evt.window.id, { ...(windows.get(evt.window.id) || {}), ...evt.window });
  if (evt.ticket) keep(evt.ticket);
  render();
}

async function main() {
  $("issue").addEventListener("click", issue);
  $("priority").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-priority]");
    if (b) { priority = b.dataset.priority; renderTake(); }
  });
  $("print").addEventListener("click", () => window.print());
  $("ticket-done").addEventListener("click", () => { $("ticket-view").hidden = true; });
  try {
    info = await centerInfo(center);
    useTimeZone(info.timezone);
    const all = (await api("GET", `/api/v1/matters?center=${encodeURIComponent(center)}`)).data.matters;
    matters = new Map(all.filter((m) => m.remote_eligible).map((m) => [m.code, m]));
  } catch (err) {
    showError(err);
  }
  renderMatters();
  render();
  await loadQueue();
  setInterval(loadQueue, QUEUE_REFRESH_MS);
  new LiveSocket(`/ws/points/${encodeURIComponent(pointId)}/assistant`, {
    token, onSnapshot, onEvent, onStatus: bindBanner($("offline")),
  }).start();
}

main();
