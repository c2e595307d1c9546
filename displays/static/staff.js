// Staff console at one window: open / pause / close the window, call next or one ticket out of
// order, act on the current ticket, and watch the waiting list live. Every refusal from the API is
// shown with the server's own words (problem+json `detail`).

import { api, centerInfo, pageToken } from "./api.js";
import { bi, h, PRIORITY, showProblem, STATUS, timeText, useTimeZone, WINDOW_STATE } from "./i18n.js";
import { LiveSocket, bindBanner } from "./live.js";
import { offerLogout } from "./logout.js";
import { RemoteSession } from "./session.js";

const [, , centerRaw, windowRaw] = location.pathname.split("/");
const center = decodeURIComponent(centerRaw);
const windowId = decodeURIComponent(windowRaw);
const token = pageToken();
const base = `/api/v1/centers/${encodeURIComponent(center)}/windows/${encodeURIComponent(windowId)}`;
const $ = (id) => document.getElementById(id);

let info = null;
let matters = new Map();
let win = null;
let tickets = new Map();
let socket = null;
let busy = false;
let session = null;   // the video with the resident of a service point's ticket (remote windows)

const myQueues = () => info?.windows.find((w) => w.code === windowId)?.queues || win?.queues || [];

// A remote window takes a service point's tickets only while it is assigned to that point (daily
// ranges in the center's time, "HH:MM" strings compare as times); the server refuses the others.
function servesNow(t, now) {
  if (!t.service_point) return true;
  const serves = info?.windows.find((w) => w.code === windowId)?.serves;
  if (!serves) return true;
  const hm = timeText(now);
  return serves.some((a) => a.point === t.service_point && a.starts <= hm && hm < a.ends);
}

function keep(t) {
  if (!t?.id) return;
  const old = tickets.get(t.id);
  if (old && old.version > t.version) return;
  tickets.set(t.id, t);
}

// How long a ticket has waited, in whole minutes, Chinese first.
function waitedText(ms) {
  const min = Math.max(0, Math.round(ms / 60000));
  return bi(`${min} 分钟`, `${min} min`);
}

function matterName(code) {
  const m = matters.get(code);
  return m ? bi(m.name_zh, m.name_en, "stack") : code;
}

// The assistant at the resident's service point marked them present at the video terminal.
function presentTag(t) {
  return t.present_at ? h("span", { class: "tag present", title: timeText(t.present_at) }, bi("在场", "present")) : null;
}

// A ticket taken from home and called before its resident checked in: it lapses to a no-show after the
// grace unless the resident reaches the window and the clerk checks them in (residents/).
function awaitingCheckIn(t) {
  return t.channel === "remote" && !t.present_at && t.status === "called";
}

function checkIn(t) {
  return run(() => api("POST", `/api/v1/residents/centers/${encodeURIComponent(center)}/check-in`,
    { body: { ticket: t.id }, token }));
}

function current() {
  const t = win?.current ? tickets.get(win.current) : null;
  return t && (t.status === "called" || t.status === "serving") ? t : null;
}

function render() {
  const names = [win?.name_zh || windowId, win?.name_en || windowId];
  $("window-name").replaceChildren(bi(names[0], names[1]));
  const st = win?.state || "closed";
  $("win-state").className = `state-pill ${st}`;
  $("win-state").replaceChildren(bi(...(WINDOW_STATE[st] || [st, st])));
  $("duty").replaceChildren(win?.staff_name ? bi(`在岗：${win.staff_name}（${win.staff_no || ""}）`, "on duty") : bi("无人在岗", "nobody on duty"));
  $("win-open").disabled = st === "open";
  $("win-pause").disabled = st !== "open";
  $("win-close").disabled = st === "closed";

  const cur = current();
  const box = $("current");
  if (cur) {
    const [sz, se] = STATUS[cur.status] || [cur.status, cur.status];
    box.classList.toggle("crowded", awaitingCheckIn(cur));
    box.replaceChildren(
      h("div", { class: "number", dataset: { ticket: cur.id } }, cur.number),
      cur.present_at ? h("div", { class: "presence" }, presentTag(cur)) : "",   // replaceChildren would write a null out as "null"
      h("div", { class: "matter" }, matterName(cur.matter)),
      awaitingCheckIn(cur)
        ? h("div", { class: "check" }, h("div", { class: "status absent" }, bi(`${sz} · 未签到`, `${se} · not checked in`)),
          h("button", { type: "button", class: "btn green", id: "check-in", disabled: busy, onclick: () => checkIn(cur) },
            bi("签到", "Check in")))
        : h("div", { class: `status ${cur.status}` }, bi(sz, se)),
      h("div", { class: "meta" }, bi(`叫号 ${timeText(cur.called_at)}${cur.recalls ? ` · 重呼 ${cur.recalls} 次` : ""}`,
        `called ${timeText(cur.called_at)}${cur.recalls ? ` · recalled ${cur.recalls}×` : ""}`)));
  } else {
    box.replaceChildren(h("div", { class: "none" }, bi("当前无号码", "No ticket at the window")));
  }
  session?.follow(cur?.service_point ? cur.id : null);
  const can = { recall: cur?.status === "called", start: cur?.status === "called", finish: cur?.status === "serving",
    "no-show": cur?.status === "called", transfer: Boolean(cur), pause: Boolean(cur) };
  for (const b of $("ticket-actions").querySelectorAll("button")) b.disabled = busy || !can[b.dataset.action];
  $("call-next").disabled = busy || st !== "open" || Boolean(cur);
  renderWaiting();
}

function renderWaiting() {
  const queues = myQueues();
  const now = socket ? socket.now() : Date.now();
  const mine = [...tickets.values()].filter((t) => t.status === "waiting"
    && (t.target_window ? t.target_window === windowId : queues.includes(t.queue) && servesNow(t, now)));
  const rank = { priority: 0, appointment: 1, normal: 2 };
  mine.sort((a, b) => (b.target_window === windowId) - (a.target_window === windowId)
    || (rank[a.priority] ?? 2) - (rank[b.priority] ?? 2) || (a.sort_at || a.issued_at) - (b.sort_at || b.issued_at));
  $("waiting-count").textContent = `${mine.length}`;
  const perQueue = {};
  for (const t of mine) perQueue[t.queue] = (perQueue[t.queue] || 0) + 1;
  $("queue-counts").replaceChildren(...queues.map((q) => {
    const qi = info?.queues.find((x) => x.code === q);
    return h("span", { dataset: { queue: q } }, `${qi?.prefix || ""} ${qi?.name_zh || q} · ${perQueue[q] || 0}`);
  }));
  const open = win?.state === "open" && !current();
  $("waiting").replaceChildren(...(mine.length ? mine.map((t) => h("tr", { dataset: { ticket: t.id } },
    h("td", { class: "num" }, t.number),
    h("td", { class: "matter" }, matterName(t.matter)),
    h("td", {}, h("span", { class: `tag ${t.priority}` }, bi(...(PRIORITY[t.priority] || [t.priority, t.priority]))),
      t.target_window === windowId ? h("span", { class: "tag here" }, bi("转入", "to me")) : null, presentTag(t)),
    h("td", { class: "waited" }, waitedText(now - t.issued_at)),
    h("td", {}, h("button", { type: "button", class: "btn", disabled: busy || !open, dataset: { call: t.id },
      onclick: () => callOne(t) }, bi("叫此号", "Call"))))) : [h("tr", { class: "empty-row" },
    h("td", { colspan: "5" }, bi("暂无等候", "Nobody waiting")))]));
  const paused = [...tickets.values()].filter((t) => t.status === "paused" && t.target_window === windowId);
  $("paused-title").hidden = !paused.length;
  $("paused").replaceChildren(...paused.map((t) => h("li", { dataset: { ticket: t.id } },
    h("strong", {}, t.number), matterName(t.matter),
    h("button", { type: "button", class: "btn", onclick: () => run(() => api("POST", `/api/v1/tickets/${t.id}/resume`, { body: {}, token })) },
      bi("恢复排队", "Resume")))));
}

function showError(err) {
  showProblem($("error"), err);
}

// Runs one API call; applies its answer at once (the socket confirms it a moment later).
async function run(call) {
  if (busy) return null;
  busy = true;
  render();
  try {
    const res = await call();
    showError(null);
    const d = res?.data;
    if (d?.ticket) keep(d.ticket);
    if (d?.window?.id) win = { ...win, ...d.window };
    if (d?.id && d.number) keep(d);
    if (d?.id && d.state) win = { ...win, ...d };
    return res;
  } catch (err) {
    showError(err);
    return null;
  } finally {
    busy = false;
    render();
  }
}

function askReason(zhTitle, enTitle) {
  return new Promise((resolve) => {
    const dlg = $("reason-dialog");
    $("reason-title").replaceChildren(bi(zhTitle, enTitle));
    $("reason-input").value = "";
    const done = (value) => {
      dlg.close();
      $("reason-form").onsubmit = null;
      $("reason-cancel").onclick = null;
      resolve(value);
    };
    $("reason-form").onsubmit = (e) => { e.preventDefault(); done($("reason-input").value.trim() || null); };
    $("reason-cancel").onclick = () => done(null);
    dlg.oncancel = () => done(null);
    dlg.showModal();
  });
}

function askTransfer() {
  return new Promise((resolve) => {
    const dlg = $("transfer-dialog");
    const sel = $("transfer-to");
    sel.replaceChildren(
      ...((info?.queues || []).map((q) => h("option", { value: `queue:${q.code}` }, `队列 Queue ${q.prefix} · ${q.name_zh} ${q.name_en}`))),
      ...((info?.windows || []).filter((w) => w.code !== windowId)
        .map((w) => h("option", { value: `window:${w.code}` }, `窗口 ${w.name_zh} · ${w.name_en}`))));
    $("transfer-reason").value = "";
    const done = (value) => {
      dlg.close();
      $("transfer-form").onsubmit = null;
      resolve(value);
    };
    $("transfer-form").onsubmit = (e) => {
      e.preventDefault();
      const [kind, code] = sel.value.split(":");
      const body = kind === "queue" ? { to_queue: code } : { to_window: code };
      const reason = $("transfer-reason").value.trim();
      if (reason) body.reason = reason;
      done(body);
    };
    $("transfer-cancel").onclick = () => done(null);
    dlg.oncancel = () => done(null);
    dlg.showModal();
  });
}

async function callNext() {
  const res = await run(() => api("POST", `${base}/call-next`, { body: {}, token }));
  if (res?.status === 204) showError({ detail: "当前没有等候的号码 · Nobody is waiting for this window" });
}

async function callOne(t) {
  const reason = await askReason(`越号呼叫 ${t.number}`, `Call ${t.number} out of order — why?`);
  if (!reason) return;
  await run(() => api("POST", `${base}/call-next`, { body: { ticket: t.id, reason }, token }));
}

async function ticketAction(action) {
  const cur = current();
  if (!cur) return;
  let body = {};
  if (action === "transfer") {
    body = await askTransfer();
    if (!body) return;
  }
  await run(() => api("POST", `/api/v1/tickets/${encodeURIComponent(cur.id)}/${action}`, { body, token }));
}

async function windowAction(verb) {
  let body = {};
  if (verb === "pause") {
    const reason = await askReason("暂停窗口", "Pause the window — why?");
    if (!reason) return;
    body = { reason };
  }
  await run(() => api("POST", `${base}/${verb}`, { body, token }));
}

function onSnapshot(msg) {
  tickets = new Map();
  for (const t of msg.tickets || []) keep(t);
  win = (msg.windows || []).find((w) => w.id === windowId) || win;
  render();
}

function onEvent(evt) {
  document.dispatchEvent(new CustomEvent("live:event", { detail: evt }));   // the materials panel follows it
  if (evt.ticket) keep(evt.ticket);
  if (evt.window?.id === windowId) win = evt.window;
  render();
}

async function main() {
  $("call-next").addEventListener("click", callNext);
  for (const verb of ["open", "pause", "close"]) $(`win-${verb}`).addEventListener("click", () => windowAction(verb));
  for (const b of $("ticket-actions").querySelectorAll("button")) b.addEventListener("click", () => ticketAction(b.dataset.action));
  try {
    info = await centerInfo(center);
    useTimeZone(info.timezone);
    const w = info.windows.find((x) => x.code === windowId);
    if (w && !win) win = { id: windowId, name_zh: w.name_zh, name_en: w.name_en, state: "closed" };
    document.title = `${w?.name_zh || windowId} 工作台 Staff console`;
    const all = (await api("GET", `/api/v1/matters?center=${encodeURIComponent(center)}`)).data.matters;
    matters = new Map(all.map((m) => [m.code, m]));
  } catch (err) {
    showError(err);
  }
  session = new RemoteSession($("remote-session"), { token, role: "window" });
  render();
  socket = new LiveSocket(`/ws/centers/${encodeURIComponent(center)}/windows/${encodeURIComponent(windowId)}/staff`, {
    token, onSnapshot, onEvent, onStatus: bindBanner($("offline")),
  }).start();
  setInterval(renderWaiting, 30_000);
  offerLogout(token, document.querySelector(".win-actions"));   // a clerk who logged in (docs/accounts.md)
}

main();
