// Kiosk: matters by bureau line with search, priority and optional phone, then a printable ticket
// with a QR code to the resident's status page. `?service_point=CODE` makes it a service point's
// all-in-one, issuing service_point tickets for remote-eligible matters. Outside the place's opening
// hours it says so, with the next opening, and looks again when that time comes. A lobby kiosk also
// checks in tickets taken from home (residents/): its QR scanner types the status link, or the
// resident keys in the number; POST /api/v1/residents/centers/{c}/check-in. 预约签到 checks an
// appointment in by its booking code, typed or scanned from its QR, and prints its ticket. A
// whole-city matter's confirm sheet shows the nearby centers with their waits (nearby.js).

import { api, centerInfo, pageToken, query, randomKey } from "./api.js";
import { bi, dayTimeText, h, useTimeZone, waitText } from "./i18n.js";
import { renderNearby } from "./nearby.js";

const center = decodeURIComponent(location.pathname.split("/")[2]);
const servicePoint = query("service_point");
const token = pageToken();
const PHONE = /^(\+?86)?1[3-9]\d{9}$/;
const IDLE_MS = 90_000;        // an abandoned choice goes back to the start
const RECHECK_MAX_MS = 3_600_000;  // hours are looked at again at the latest hourly (an operator's closure)
const TICKET_MS = 30_000;      // the ticket view returns to the start by itself
const $ = (id) => document.getElementById(id);

let info = null;
let matters = [];
let allMatters = [];
let checkingInAppointment = false;
let bureau = "";               // selected bureau line, "" = all
let choice = null;             // {matter, priority, key}
let issuing = false;
let idleTimer = null;
let countdown = null;
let closed = false;
let openingTimer = null;

function matterText(m) {
  return `${m.code} ${m.name_zh} ${m.name_en} ${m.bureau_zh} ${m.bureau_en}`.toLowerCase();
}

function visible() {
  const q = $("search").value.trim().toLowerCase();
  return matters.filter((m) => (!bureau || m.bureau === bureau) && (!q || q.split(/\s+/).every((w) => matterText(m).includes(w))));
}

function renderBureaus() {
  const lines = [["", "全部", "All"]];
  for (const m of matters) if (!lines.some(([b]) => b === m.bureau)) lines.push([m.bureau, m.bureau_zh, m.bureau_en]);
  $("bureaus").replaceChildren(...lines.map(([code, zh, en]) => h("button", {
    type: "button", class: `btn${bureau === code ? " selected" : ""}`, dataset: { bureau: code },
    onclick: () => { bureau = code; renderBureaus(); renderMatters(); },
  }, bi(zh, en, "stack"))));
}

function renderMatters() {
  const shown = visible();
  const groups = new Map();
  for (const m of shown) {
    if (!groups.has(m.bureau)) groups.set(m.bureau, { zh: m.bureau_zh, en: m.bureau_en, items: [] });
    groups.get(m.bureau).items.push(m);
  }
  if (!shown.length) {
    $("matters").replaceChildren(h("p", { class: "empty" }, bi("没有找到相关事项，请换个关键词或咨询工作人员",
      "Nothing found. Try another word or ask at the service desk")));
    return;
  }
  $("matters").replaceChildren(...[...groups.values()].map((g) => h("section", { class: "group" },
    h("h2", {}, bi(g.zh, g.en)),
    h("div", { class: "list" }, g.items.map((m) => h("button", {
      type: "button", class: "btn matter", dataset: { matter: m.code }, onclick: () => openConfirm(m),
    }, h("span", { class: "zh" }, m.name_zh), h("span", { class: "en" }, m.name_en)))))));
}

function openConfirm(m) {
  choice = { matter: m, priority: "normal", key: randomKey() };
  $("confirm-matter").replaceChildren(bi(m.name_zh, m.name_en));
  $("confirm-bureau").replaceChildren(bi(m.bureau_zh, m.bureau_en));
  $("phone").value = "";
  $("phone").classList.remove("invalid");
  $("issue-error").hidden = true;
  renderPriority();
  $("confirm").hidden = false;
  if (!servicePoint) renderNearby($("nearby"), { matter: m.code, lat: info?.lat, lng: info?.lng, here: center });
}

function closeConfirm() {
  choice = null;
  $("confirm").hidden = true;
  $("nearby").hidden = true;
}

function openAppointment() {
  $("appt-code").value = "";
  $("appt-error").hidden = true;
  $("appt").hidden = false;
  $("appt-code").focus();
}

function closeAppointment() {
  $("appt").hidden = true;
}

// POST /api/v1/appointments/check-in: the booking becomes its appointment ticket (the same one
// again if it was checked in before), printed like any other.
async function checkInAppointment() {
  const code = $("appt-code").value.trim();
  if (!code || checkingInAppointment) return;
  checkingInAppointment = true;
  $("appt-go").disabled = true;
  try {
    const { data } = await api("POST", "/api/v1/appointments/check-in", { body: { code }, token });
    const m = allMatters.find((x) => x.code === data.ticket.matter) || { name_zh: data.ticket.matter, name_en: data.ticket.matter };
    closeAppointment();
    showTicket(data.ticket, m);
  } catch (err) {
    const [zh, en] = err.status === 404 ? ["未找到该预约，请核对预约码", "No such booking; please check the code"]
      : err.status === 409 ? [`暂不能签到：${err.detail}`, "This booking cannot be checked in now"]
        : [`签到失败：${err.detail || err.message}`, "Check-in failed; please try again or ask staff"];
    $("appt-error").replaceChildren(bi(zh, en, "stack"));
    $("appt-error").hidden = false;
  } finally {
    checkingInAppointment = false;
    $("appt-go").disabled = false;
  }
}

function renderPriority() {
  for (const b of $("priority").querySelectorAll("button")) {
    b.classList.toggle("selected", b.dataset.priority === choice?.priority);
    b.setAttribute("aria-pressed", String(b.dataset.priority === choice?.priority));
  }
}

function showError(zh, en) {
  $("issue-error").replaceChildren(bi(zh, en));
  $("issue-error").hidden = false;
}

async function issue() {
  if (!choice || issuing) return;
  const phone = $("phone").value.replace(/[\s-]/g, "");
  if (phone && !PHONE.test(phone)) {
    $("phone").classList.add("invalid");
    showError("手机号格式不正确，请输入11位大陆手机号，或留空", "Please enter an 11-digit mainland mobile number, or leave it empty");
    return;
  }
  const body = { matter: choice.matter.code, priority: choice.priority,
    channel: servicePoint ? "service_point" : "kiosk" };
  if (servicePoint) body.service_point = servicePoint;
  if (phone) body.phone = phone;
  issuing = true;
  $("issue").disabled = true;
  try {
    // The key stays the same for every retry of this attempt: a lost answer never issues twice.
    const { data } = await api("POST", `/api/v1/centers/${encodeURIComponent(center)}/tickets`,
      { body, token, headers: { "Idempotency-Key": choice.key } });
    showTicket(data, choice.matter);
    closeConfirm();
    addReviewLink(data.id).then(() => { if (query("autoprint") === "1") setTimeout(() => window.print(), 300); });
  } catch (err) {
    if (err.status === 409 && !(await checkOpening())) { closeConfirm(); return; }
    showError(`取号失败：${err.detail || err.message}`, "The ticket could not be issued; please try again or ask staff");
  } finally {
    issuing = false;
    $("issue").disabled = false;
  }
}

function qrPath(ticketId, review = null) {
  return `/api/v1/tickets/${encodeURIComponent(ticketId)}/qr.svg${review ? `?review=${encodeURIComponent(review)}` : ""}`;
}

// The ticket's own web review link (single use, POST /api/v1/reviews/links with the kiosk's token):
// its secret rides in the printed QR, so the status page it opens offers the review once finished.
// Made after the ticket is shown, so a slow or absent record never holds a ticket back; without it
// the QR still opens the status page.
async function addReviewLink(ticketId) {
  let url;
  try {
    url = (await api("POST", "/api/v1/reviews/links", { body: { ticket_id: ticketId }, token })).data.url;
  } catch {
    return;
  }
  if ($("ticket").dataset.ticket === ticketId && !$("view-ticket").hidden) {
    $("t-qr").src = qrPath(ticketId, new URL(url).pathname.split("/").pop());
  }
}

function showTicket(t, m) {
  $("t-center").replaceChildren(bi(info?.name_zh || center, info?.name_en || center));
  $("t-number").textContent = t.number;
  $("t-matter").replaceChildren(bi(m.name_zh, m.name_en));
  $("t-ahead").replaceChildren(bi(`${t.ahead} 人`, `${t.ahead} ahead`));
  const [wz, we] = waitText(t.estimated_wait_s);
  $("t-wait").replaceChildren(bi(wz, we));
  $("t-time").textContent = dayTimeText(t.issued_at || Date.now());
  $("t-qr").src = qrPath(t.id);
  $("ticket").dataset.ticket = t.id;
  $("view-choose").hidden = true;
  $("view-ticket").hidden = false;
  let left = Math.round(TICKET_MS / 1000);
  clearInterval(countdown);
  $("countdown").textContent = `(${left})`;
  countdown = setInterval(() => {
    left -= 1;
    $("countdown").textContent = `(${left})`;
    if (left <= 0) reset();
  }, 1000);
}

// Open now? Shows the closed view with the next opening when not, and looks again when the place
// opens or closes (at the latest hourly). Returns whether it is open.
async function checkOpening() {
  clearTimeout(openingTimer);
  const point = servicePoint ? `?point=${encodeURIComponent(servicePoint)}` : "";
  let o;
  try {
    o = (await api("GET", `/api/v1/centers/${encodeURIComponent(center)}/opening${point}`)).data;
  } catch {
    openingTimer = setTimeout(checkOpening, 60_000);
    return !closed;
  }
  closed = !o.open;
  if (closed) {
    if (o.next_opening) {
      const [zh, en] = o.next_opening.split(" / ");
      $("closed-when").replaceChildren(bi(`开放时间：${zh}`, `Opens ${en}`, "stack"));
    } else {
      $("closed-when").replaceChildren(bi("暂无开放安排，请咨询工作人员", "No opening is scheduled; please ask staff", "stack"));
    }
    $("closed-reason").textContent = o.reason;
    $("closed-reason").hidden = !o.reason;
    closeConfirm();
  }
  if ($("view-ticket").hidden) showStart();
  const at = Date.parse(o.open ? o.closes_at : o.next_opening_at);
  const wait = Number.isNaN(at) ? RECHECK_MAX_MS : Math.min(Math.max(at - Date.now() + 1000, 5000), RECHECK_MAX_MS);
  openingTimer = setTimeout(checkOpening, wait);
  return o.open;
}

function showStart() {
  $("view-closed").hidden = !closed;
  $("view-choose").hidden = closed;
}

function reset() {
  clearInterval(countdown);
  closeConfirm();
  closeCheckIn();
  closeAppointment();
  $("view-ticket").hidden = true;
  showStart();
  $("search").value = "";
  bureau = "";
  renderBureaus();
  renderMatters();
  $("matters").scrollTop = 0;
}

function touched() {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => { if ($("view-ticket").hidden) reset(); }, IDLE_MS);
}

function buildKeypad() {
  const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "⌫", "✕"];
  $("keypad").replaceChildren(...keys.map((k) => h("button", {
    type: "button", class: "btn", dataset: { key: k }, "aria-label": k === "⌫" ? "删除 Delete" : k === "✕" ? "清空 Clear" : k,
    onclick: () => {
      const input = $("phone");
      if (k === "⌫") input.value = input.value.slice(0, -1);
      else if (k === "✕") input.value = "";
      else if (input.value.length < 11) input.value += k;
      input.classList.remove("invalid");
    },
  }, k)));
}

function openCheckIn() {
  $("checkin-ticket").value = "";
  $("checkin-result").hidden = true;
  $("checkin").hidden = false;
  $("checkin-ticket").focus();   // a QR scanner types into the focused field
}

function closeCheckIn() {
  $("checkin").hidden = true;
}

function checkInSaid(ok, zh, en) {
  $("checkin-result").className = `checkin-result ${ok ? "ok" : "bad"}`;
  $("checkin-result").replaceChildren(bi(zh, en, "stack"));
  $("checkin-result").hidden = false;
}

async function checkIn() {
  const given = $("checkin-ticket").value.trim();
  if (!given) return;
  try {
    const { data } = await api("POST", `/api/v1/residents/centers/${encodeURIComponent(center)}/check-in`,
      { token, body: { ticket: given } });
    checkInSaid(true, `${data.number} 签到成功，请留意叫号`, `${data.number} checked in — listen for your number`);
    setTimeout(closeCheckIn, 5000);
  } catch (err) {
    if (err.status === 404 || err.status === 422) checkInSaid(false, "未找到该号码，请核对后重试", "No such ticket today; check the number");
    else if (err.status === 409) checkInSaid(false, "该号码已过号或已办理，请咨询工作人员", "This ticket is no longer waiting; please ask at the desk");
    else checkInSaid(false, "暂时无法签到，请咨询工作人员", `Check-in failed (${err.message})`);
  }
}

function buildCheckInKeypad() {
  const prefixes = [...new Set((info?.queues || []).map((q) => q.prefix))].sort();
  const keys = [...prefixes, "1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "⌫", "✕"];
  $("checkin-keypad").replaceChildren(...keys.map((k) => h("button", {
    type: "button", class: "btn", dataset: { key: k }, "aria-label": k === "⌫" ? "删除 Delete" : k === "✕" ? "清空 Clear" : k,
    onclick: () => {
      const input = $("checkin-ticket");
      if (k === "⌫") input.value = input.value.slice(0, -1);
      else if (k === "✕") input.value = "";
      else if (input.value.length < 8) input.value += k;
    },
  }, k)));
}

async function main() {
  buildKeypad();
  $("checkin-open").addEventListener("click", openCheckIn);
  $("checkin-back").addEventListener("click", closeCheckIn);
  $("checkin-go").addEventListener("click", checkIn);
  $("checkin-ticket").addEventListener("keydown", (e) => { if (e.key === "Enter") checkIn(); });
  $("appt-open").addEventListener("click", openAppointment);
  $("appt-cancel").addEventListener("click", closeAppointment);
  $("appt-go").addEventListener("click", checkInAppointment);
  $("appt-code").addEventListener("keydown", (e) => { if (e.key === "Enter") checkInAppointment(); });   // a scanner ends with Enter
  $("search").addEventListener("input", renderMatters);
  $("cancel").addEventListener("click", closeConfirm);
  $("issue").addEventListener("click", issue);
  $("done").addEventListener("click", reset);
  $("print").addEventListener("click", () => window.print());
  $("priority").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-priority]");
    if (b && choice) { choice.priority = b.dataset.priority; renderPriority(); }
  });
  for (const ev of ["pointerdown", "keydown"]) document.addEventListener(ev, touched);
  touched();
  try {
    info = await centerInfo(center);
    useTimeZone(info.timezone);
    $("center-name").replaceChildren(bi(info.name_zh, info.name_en));
    const sp = servicePoint ? info.service_points.find((p) => p.code === servicePoint) : null;
    $("place").replaceChildren(sp ? bi(`${sp.name_zh} · 远程服务点`, `${sp.name_en} · remote service point`, "stack")
      : bi("大厅自助取号", "Lobby ticket kiosk", "stack"));
    const all = (await api("GET", `/api/v1/matters?center=${encodeURIComponent(center)}`)).data.matters;
    allMatters = all;
    matters = all.filter((m) => (servicePoint ? m.remote_eligible : m.queue));
    if (!servicePoint) {
      buildCheckInKeypad();
      $("checkin-open").hidden = false;
      $("appt-open").hidden = false;
    }
  } catch (err) {
    $("matters").replaceChildren(h("p", { class: "error" }, bi("暂时无法加载事项，请稍后再试或咨询工作人员",
      `Matters could not be loaded (${err.message})`)));
    return;
  }
  renderBureaus();
  renderMatters();
  await checkOpening();
}

main();
