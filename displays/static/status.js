// The resident's status page: position, estimated wait, and the window when called (with a
// vibration). Live over WS /ws/tickets/{id}; GET /api/v1/tickets/{id} loads it first and polls
// whenever the socket is down. Once the ticket has ended nothing is live any more; after a finish
// the page offers the ticket's web review link when it was opened with one (`#review=TOKEN`, the
// printed ticket's QR carries it). A remote ticket's page (`#token=S`, the link the remote page opens)
// may cancel it while it waits; "快到您了 Your turn is near" shows at the center's threshold, as the SMS.
// While it waits for a whole-city matter, the nearby centers with their waits are shown (nearby.js),
// from its center's position.

import { api, centerInfo } from "./api.js";
import { bi, STATUS, waitText } from "./i18n.js";
import { LiveSocket } from "./live.js";
import { renderNearby } from "./nearby.js";

const ticketId = decodeURIComponent(location.pathname.split("/")[2]);
const center = ticketId.split("-")[0];
const POLL_MS = 15_000;
const FINAL = ["finished", "no_show", "cancelled"];
const $ = (id) => document.getElementById(id);
const fragment = new URLSearchParams(location.hash.slice(1));
const reviewToken = fragment.get("review");
const statusToken = fragment.get("token");
const STATUS_TOKEN = /^[A-Za-z0-9_-]{16,64}$/;
const REVIEW_TOKEN = /^[A-Za-z0-9_-]{16,64}$/;

let info = null;
let matters = new Map();
let current = null;     // latest ticket fields with ahead / estimated_wait_s
let buzzedFor = null;   // the call (version) we already vibrated for
let socketUp = false;
let socket = null;
let reviewAsked = false;
let nearAhead = null;   // the center's "turn is near" threshold (GET /api/v1/residents/centers/{c})

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
  if (t.status !== "waiting") $("nearby").hidden = true;
  if (atWindow) {
    const [zh, en] = windowNames(msg);
    $("called-window").replaceChildren(bi(zh, en));
    const key = `${t.id}@${t.called_at}@${t.recalls || 0}`;
    if (t.status === "called" && buzzedFor !== key) {
      buzzedFor = key;
      if (navigator.vibrate && navigator.userActivation?.hasBeenActive) navigator.vibrate([400, 150, 400, 150, 400]);
    }
  }
  $("ahead").replaceChildren(t.ahead !== undefined ? bi(`${t.ahead} 人`, `${t.ahead} ${t.ahead === 1 ? "person" : "people"}`) : "—");
  const [wz, we] = waitText(t.estimated_wait_s);
  $("wait").replaceChildren(bi(wz, we));
  const near = t.status === "waiting" && nearAhead !== null && t.ahead !== undefined && t.ahead <= nearAhead;
  $("near").hidden = !near;
  if (near) $("near-ahead").replaceChildren(bi(`还有${t.ahead}位`, `${t.ahead} ahead`, "stack"));
  $("cancel-box").hidden = !(STATUS_TOKEN.test(statusToken || "") && (t.status === "waiting" || t.status === "paused"));
  const ended = $("ended");
  ended.hidden = !FINAL.includes(t.status);
  if (t.status === "finished") ended.replaceChildren(bi("业务已办结，感谢您的耐心等候", "All done — thank you for your patience", "stack"));
  if (t.status === "no_show") ended.replaceChildren(bi("您的号码已过号，如需办理请重新取号", "Your number was missed; please take a new ticket", "stack"));
  if (t.status === "cancelled") ended.replaceChildren(bi("号码已取消", "This ticket was cancelled", "stack"));
  if (FINAL.includes(t.status)) settle(t);
}

// An ended ticket changes no more: no live link and no "keep this page open".
function settle(t) {
  socket?.stop();
  $("live").hidden = true;
  $("hint").hidden = true;
  if (t.status === "finished") offerReview();
}

// The review link is offered only while it can still be used (GET answers 200).
async function offerReview() {
  if (reviewAsked || !REVIEW_TOKEN.test(reviewToken || "")) return;
  reviewAsked = true;
  try {
    await api("GET", `/api/v1/reviews/links/${encodeURIComponent(reviewToken)}`);
  } catch {
    return;
  }
  $("review-link").href = `/review/${encodeURIComponent(reviewToken)}`;
  $("review").hidden = false;
}

// No such ticket: the page says only that (nothing is live, nothing to keep open).
function unknown() {
  $("error").replaceChildren(bi("未找到该号码，请核对链接或重新扫描号票上的二维码",
    "This ticket was not found; check the link or scan the ticket's QR code again", "stack"));
  $("error").hidden = false;
  for (const id of ["head", "position", "called", "near", "nearby", "ended", "cancel-box", "review", "live", "hint"]) $(id).hidden = true;
}

// Whether the ticket exists (a passing failure counts as yes: the page keeps trying).
async function load() {
  try {
    const { data } = await api("GET", `/api/v1/tickets/${encodeURIComponent(ticketId)}`);
    $("error").hidden = true;
    render(data);
  } catch (err) {
    if (err.status === 404) {
      unknown();
      return false;
    }
    $("error").replaceChildren(bi("暂时无法获取进度", `Status unavailable (${err.message})`));
    $("error").hidden = false;
  }
  return true;
}

// Cancel with the ticket's status token: a first tap asks, the second cancels.
async function cancel() {
  if ($("cancel-confirm").hidden) {
    $("cancel-confirm").hidden = false;
    return;
  }
  $("cancel-confirm").disabled = true;
  try {
    const { data } = await api("POST", `/api/v1/residents/tickets/${encodeURIComponent(ticketId)}/cancel`,
      { body: { token: statusToken } });
    render(data);
  } catch (err) {
    $("error").replaceChildren(bi("取消失败", err.message));
    $("error").hidden = false;
  } finally {
    $("cancel-confirm").disabled = false;
    $("cancel-confirm").hidden = true;
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
  try {
    nearAhead = (await api("GET", `/api/v1/residents/centers/${encodeURIComponent(center)}`)).data.near_ahead;
  } catch { /* no "turn is near" notice then */ }
  $("cancel").addEventListener("click", cancel);
  $("cancel-confirm").addEventListener("click", cancel);
  if (!(await load()) || FINAL.includes(current?.status)) return;
  if (current?.status === "waiting") renderNearby($("nearby"), { matter: current.matter, lat: info?.lat, lng: info?.lng, here: center });
  socket = new LiveSocket(`/ws/tickets/${encodeURIComponent(ticketId)}`, {
    onSnapshot: (msg) => render(msg),
    onEvent: (msg) => { if (msg.ticket?.id === ticketId) render(msg); },
    onMessage: (msg) => render(msg),
    onStatus: (state) => liveState(state === "online"),
  }).start();
  setInterval(() => { if (!socketUp && !FINAL.includes(current?.status)) load(); }, POLL_MS);
}

main();
