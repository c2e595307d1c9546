// A service point's screen: the point's own number being called to its remote window, the clerk on
// duty at the center who serves it by video, and how many wait here. The server sends this page
// only its point's tickets and the windows assigned to it (WS /ws/points/{point}/screen).

import { centerInfo, pageToken } from "./api.js";
import { bi, setBi } from "./i18n.js";
import { LiveSocket, bindBanner } from "./live.js";
import { RemoteSession } from "./session.js";
import { renderStaff } from "./staffcard.js";

const [, , pointRaw] = location.pathname.split("/");
const pointId = decodeURIComponent(pointRaw);
const center = pointId.split("-")[0];
const $ = (id) => document.getElementById(id);

let point = null;
const windows = new Map();   // the remote windows serving this point
const tickets = new Map();   // this point's live tickets
let session = null;          // the video with the clerk serving this point's ticket

function keep(t) {
  const old = tickets.get(t.id);
  if (old && old.version > t.version) return;
  if (["finished", "no_show", "cancelled"].includes(t.status)) tickets.delete(t.id);
  else tickets.set(t.id, t);
}

// The ticket at a window (called or being served), latest first; and the window it is at.
function current() {
  const at = [...tickets.values()].filter((t) => t.status === "called" || t.status === "serving");
  at.sort((a, b) => (b.called_at || 0) - (a.called_at || 0));
  return at[0] || null;
}

function onDuty(ticket) {
  if (ticket && windows.has(ticket.window)) return windows.get(ticket.window);
  const all = [...windows.values()];
  return all.find((w) => w.state === "open") || all.find((w) => w.state === "paused") || all[0] || null;
}

function render(flash) {
  if (point) $("point-name").replaceChildren(bi(`${point.name_zh} · 远程服务点`, `${point.name_en} · Remote service point`, "stack"));
  const ticket = current();
  session?.follow(ticket?.id || null);
  const win = onDuty(ticket);
  renderStaff(win, { card: $("staff"), avatar: $("avatar"), name: $("staff-name"), no: $("staff-no"), state: $("win-state") });
  $("window-name").replaceChildren(win ? bi(win.name_zh || win.id, win.name_en || win.id) : "");
  const waiting = [...tickets.values()].filter((t) => t.status === "waiting").length;
  $("waiting").replaceChildren(bi(`本服务点等候 ${waiting} 人`, `${waiting} waiting at this point`));
  const box = $("serving");
  box.className = "serving";
  if (ticket) {
    $("number").textContent = ticket.number;
    const w = windows.get(ticket.window);
    const name = [w?.name_zh || ticket.window, w?.name_en || ticket.window];
    if (ticket.status === "called") {
      setBi($("caption"), "请", "Now calling");
      setBi($("sub"), `请 ${ticket.number} 号到视频终端，由${name[0]}为您办理`,
        `Number ${ticket.number}, please come to the video terminal: ${name[1]} will serve you`);
      if (flash) { void box.offsetWidth; box.classList.add("called"); }
    } else {
      setBi($("caption"), "正在办理", "Now serving");
      setBi($("sub"), `${name[0]}远程办理中`, `Being served remotely by ${name[1]}`);
    }
    return;
  }
  box.classList.add("idle");
  if (point && point.status !== "active") {
    box.classList.add("closed");
    $("number").replaceChildren(bi("暂停服务", "Not in service", "stack"));
    $("caption").replaceChildren();
    setBi($("sub"), "本服务点暂不受理", "This service point is not taking tickets");
  } else if (!win || win.state === "closed") {
    box.classList.add("closed");
    $("number").replaceChildren(bi("暂无远程窗口", "No remote clerk", "stack"));
    $("caption").replaceChildren();
    setBi($("sub"), "请稍后再来或前往中心办理", "Please come back later or visit the center");
  } else {
    $("number").replaceChildren(bi("欢迎", "Welcome", "stack"));
    setBi($("caption"), "远程窗口在线", "Remote clerk online");
    setBi($("sub"), "请取号后留意叫号", "Take a ticket and wait for your number");
  }
}

function onSnapshot(msg) {
  point = msg.point || point;
  windows.clear();
  for (const w of msg.windows || []) windows.set(w.id, w);
  tickets.clear();
  for (const t of msg.tickets || []) keep(t);
  render(false);
}

function onEvent(evt) {
  if (evt.window?.id) windows.set(evt.window.id, { ...(windows.get(evt.window.id) || {}), ...evt.window });
  if (evt.ticket) keep(evt.ticket);
  render(evt.type === "ticket.called" || evt.type === "ticket.recalled");
}

async function main() {
  try {
    const info = await centerInfo(center);
    $("center-name").replaceChildren(bi(info.name_zh, info.name_en));
  } catch { /* the point's own name comes with the snapshot */ }
  const token = pageToken();
  session = new RemoteSession($("remote-session"), { token, role: "point" });
  render(false);
  new LiveSocket(`/ws/points/${encodeURIComponent(pointId)}/screen`, {
    token, onSnapshot, onEvent, onStatus: bindBanner($("offline")),
  }).start();
}

main();
