// Window screen: the number being served at this window and the staff on duty; idle when none.

import { centerInfo, pageToken } from "./api.js";
import { bi, setBi } from "./i18n.js";
import { LiveSocket, bindBanner } from "./live.js";
import { renderStaff } from "./staffcard.js";

const [, , centerRaw, windowRaw] = location.pathname.split("/");
const center = decodeURIComponent(centerRaw);
const windowId = decodeURIComponent(windowRaw);
const $ = (id) => document.getElementById(id);

let win = null;
let ticket = null; // the ticket at this window, if any

function render(flash) {
  const box = $("serving");
  const names = [win?.name_zh || windowId, win?.name_en || windowId];
  $("window-name").replaceChildren(bi(names[0], names[1]));
  renderStaff(win, { card: $("staff"), avatar: $("avatar"), name: $("staff-name"), no: $("staff-no"), state: $("win-state") });
  const atWindow = ticket && (ticket.status === "called" || ticket.status === "serving") && ticket.window === windowId;
  box.className = "serving";
  if (atWindow) {
    $("number").textContent = ticket.number;
    if (ticket.status === "called") {
      setBi($("caption"), "请", "Now calling");
      setBi($("sub"), `请 ${ticket.number} 号到本窗口办理`, `Number ${ticket.number}, please come to this window`);
      box.classList.add("called");
      if (flash) { box.classList.remove("called"); void box.offsetWidth; box.classList.add("called"); }
    } else {
      setBi($("caption"), "正在办理", "Now serving");
      setBi($("sub"), "请出示相关材料", "Please have your documents ready");
    }
    return;
  }
  box.classList.add("idle");
  if (!win || win.state === "closed") {
    box.classList.add("closed");
    $("number").replaceChildren(bi("暂停服务", "Not in service", "stack"));
    $("caption").replaceChildren();
    setBi($("sub"), "请到其他窗口办理", "Please use another window");
  } else if (win.state === "paused") {
    $("number").replaceChildren(bi("暂停服务", "Paused", "stack"));
    $("caption").replaceChildren();
    $("sub").replaceChildren(win.pause_reason ? bi(`原因：${win.pause_reason}`, "Back shortly") : bi("请稍候", "Back shortly"));
  } else {
    $("number").replaceChildren(bi("欢迎", "Welcome", "stack"));
    setBi($("caption"), "空闲", "Ready");
    setBi($("sub"), "请留意叫号", "Please wait for your number to be called");
  }
}

function onSnapshot(msg) {
  win = (msg.windows || []).find((w) => w.id === windowId) || win;
  ticket = win?.current ? (msg.tickets || []).find((t) => t.id === win.current) || null : null;
  render(false);
}

function onEvent(evt) {
  if (evt.window?.id === windowId) win = evt.window;
  const t = evt.ticket;
  if (t && (t.window === windowId || ticket?.id === t.id)) ticket = t;
  if (win && !win.current && ticket && ticket.window === windowId && !["called", "serving"].includes(ticket.status)) ticket = null;
  render(evt.type === "ticket.called" || evt.type === "ticket.recalled");
}

async function main() {
  try {
    const info = await centerInfo(center);
    $("center-name").replaceChildren(bi(info.name_zh, info.name_en));
    const w = info.windows.find((x) => x.code === windowId);
    if (w && !win) win = { id: windowId, name_zh: w.name_zh, name_en: w.name_en, state: "closed" };
  } catch { /* names come with the snapshot too */ }
  render(false);
  new LiveSocket(`/ws/centers/${encodeURIComponent(center)}/windows/${encodeURIComponent(windowId)}/screen`, {
    token: pageToken(), onSnapshot, onEvent, onStatus: bindBanner($("offline")),
  }).start();
}

main();
