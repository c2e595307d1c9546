// The resident's status page: position, estimated wait, and the window when called (with a
// vibration). Live over WS /ws/tickets/{id}; GET /api/v1/tickets/{id} loads it first and polls
// whenever the socket is down.

import { api, centerInfo } from "./api.js";
import { bi, STATUS, waitText } from "./i18n.js";
import { LiveSocket } from "./live.js";

const ticketId = decodeURIComponent(location.pathname.split("/")[2]);
const center = ticketId.split("-")[0];
const POLL_MS = 15_000;
const FINAL = ["finished", "no_show", "cancelled"];
const $ = (id) => document.getElementById(id);

let info = null;
let matters = new Map();
let current = null;     // latest ticket fields with ahead / estimated_wait_s
let buzzedFor = null;   // the call (version) we already vibrated for
let socketUp = false;

function windowNames(msg) {
  const w = msg.window && typeof msg.window === "object" ? msg.window : null;
  const id = w?.id || msg.window || msg.ticket?.window;
  const known = info?.windows.find((x) => x.code === id);
  return [msg.window_name_zh || w?.name_zh || known?.name_zh || id || "",
    msg.window_name_en || w?.name_en || known?.name_en || id || ""];
}

function render(msg) {
  const t = msg.ticket && typeof msg.ticket === "object" ? { ...msg.ticket, ...msg } : msg;
  if (current && t.version !== undefined && current.version !== undefined && t.version < current.version) return;
  current = t;
  $("number").textContent = t.number || "—";
  const m = matters.get(t.matter);
  $("matter").replaceChildren(m ? bi(m.name_zh, m.name_en, "stack") : t.matter || "");
  const [sz, se] = STATUS[t.status] || [t.status, t.status];
  $("badge").dataset.status = t.status;
  $("badge").replaceChildren(bi(sz, se));
  const atWindow = t.status === "called" || t.status === "serving";
  $("called").hidden = !atWindow;
  $("position").hidden = t.status !== "waiting" && t.status !== "paused";
  if (atWindow) {
    const [zh, en] = windowNames(msg);
    $("called-window").replaceChildren(bi(zh, en));
    const key = `${t.id}@${t.called_at}@${t.recalls || 0}`;
    if (t.status === "called" && buzzedFor !== key) {
      buzzedFor = key;
      if (navigator.vibrate && navigator.userActivation?.hasBeenActive) navigator.vibrate([400, 150, 400, 150, 400]);
    }
  }
  $("ahead").replaceChildren(t.ahead !== undefined ? bi(`${t.ahead} 人`, `${t.ahead} people`) : "—");
  const [wz, we] = waitText(t.estimated_wait_s);
  $("wait").replaceChildren(bi(wz, we));
  const ended = $("ended");
  ended.hidden = !FINAL.includes(t.status);
  if (t.status === "finished") ended.replaceChildren(bi("业务已办结，感谢您的耐心等候", "All done — thank you for your patience", "stack"));
  if (t.status === "no_show") ended.replaceChildren(bi("您的号码已过号，如需办理请重新取号", "Your number was missed; please take a new ticket", "stack"));
  if (t.status === "cancelled") ended.replaceChildren(bi("号码已取消", "This ticket was cancelled", "stack"));
}

async function load() {
  try {
    const { data } = await api("GET", `/api/v1/tickets/${encodeURIComponent(ticketId)}`);
    $("error").hidden = true;
    render(data);
  } catch (err) {
    $("error").replaceChildren(err.status === 404 ? bi("未找到该号码", "This ticket was not found")
      : bi("暂时无法获取进度", `Status unavailable (${err.message})`));
    $("error").hidden = false;
  }
}

function liveState(up) {
  socketUp = up;
  $("live").classList.toggle("off", !up);
  $("live-text").replaceChildren(up ? bi("实时更新中", "Live") : bi("连接中断，定时刷新", "Reconnecting — refreshing periodically"));
}

async function main() {
  liveState(false);
  try {
    info = await centerInfo(center);
    $("center-name").replaceChildren(bi(info.name_zh, info.name_en));
    const all = (await api("GET", `/api/v1/matters?center=${encodeURIComponent(center)}`)).data.matters;
    matters = new Map(all.map((m) => [m.code, m]));
  } catch { /* codes stand in for names */ }
  await load();
  new LiveSocket(`/ws/tickets/${encodeURIComponent(ticketId)}`, {
    onSnapshot: (msg) => render(msg),
    onEvent: (msg) => { if (msg.ticket?.id === ticketId) render(msg); },
    onMessage: (msg) => render(msg),
    onStatus: (state) => liveState(state === "online"),
  }).start();
  setInterval(() => { if (!socketUp && !FINAL.includes(current?.status)) load(); }, POLL_MS);
}

main();
