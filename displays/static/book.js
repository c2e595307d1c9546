// The resident's booking page (/book/{center}): choose a matter, a day and a slot with free places,
// prove the number with the SMS code (POST /api/v1/residents/codes, then the code goes with the
// booking), and get the booking code with its QR for the kiosk's check-in. `#booking=CODE` shows a
// booking again (after a reload, or from a bookmark) with its cancel button.

import { api, centerInfo } from "./api.js";
import { bi, h, timeText, useTimeZone } from "./i18n.js";

const center = decodeURIComponent(location.pathname.split("/")[2]);
const PHONE = /^(\+?86)?1[3-9]\d{9}$/;
const STATUS = {
  booked: ["已预约", "Booked"], cancelled: ["已取消", "Cancelled"],
  checked_in: ["已签到", "Checked in"], released: ["已失效（未按时签到）", "Released (not checked in in time)"],
};
const $ = (id) => document.getElementById(id);

let info = null;
let slot = null;
let booking = null;

function error(zh, en, id = "error") {
  $(id).replaceChildren(bi(zh, en, "stack"));
  $(id).hidden = false;
}

function shanghaiToday() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
}

async function loadSlots() {
  slot = null;
  let data;
  try {
    data = (await api("GET", `/api/v1/centers/${encodeURIComponent(center)}/appointment-slots?date=${$("day").value}`)).data;
  } catch (err) {
    $("slots").replaceChildren(h("p", { class: "empty" }, bi("暂时无法加载时段", `Slots could not be loaded (${err.message})`)));
    return;
  }
  if (!data.slots.length) {
    $("slots").replaceChildren(h("p", { class: "empty" }, bi("当天没有可预约的时段", "No slots on this day")));
    return;
  }
  $("slots").replaceChildren(...data.slots.map((s) => h("button", {
    type: "button", class: "btn slot", role: "radio", "aria-checked": "false", disabled: s.left <= 0, dataset: { slot: s.id },
    onclick: (e) => {
      slot = s;
      for (const b of $("slots").children) {
        b.classList.toggle("selected", b === e.currentTarget);
        b.setAttribute("aria-checked", String(b === e.currentTarget));
      }
    },
  }, `${timeText(Date.parse(s.starts_at))}–${timeText(Date.parse(s.ends_at))}`,
  bi(s.left > 0 ? `余 ${s.left} 位` : "已满", s.left > 0 ? `${s.left} left` : "full"))));
}

function phone() {
  return $("phone").value.replace(/[\s-]/g, "");
}

async function sendCode() {
  $("error").hidden = true;
  if (!PHONE.test(phone())) {
    error("请输入11位大陆手机号", "Please enter an 11-digit mainland mobile number");
    return;
  }
  $("send").disabled = true;
  try {
    const { data } = await api("POST", "/api/v1/residents/codes", { body: { center, phone: phone() } });
    $("sent").replaceChildren(bi(`验证码已发送至 ${data.phone_masked}`, `Code sent to ${data.phone_masked}`));
    $("sent").hidden = false;
  } catch (err) {
    error(`验证码发送失败：${err.detail}`, "The code could not be sent; try again later");
  } finally {
    setTimeout(() => { $("send").disabled = false; }, 3000);
  }
}

async function book() {
  $("error").hidden = true;
  if (!slot) return error("请选择时段", "Please choose a time slot");
  if (!PHONE.test(phone())) return error("请输入11位大陆手机号", "Please enter an 11-digit mainland mobile number");
  const code = $("code").value.trim();
  if (!/^\d{4,8}$/.test(code)) return error("请输入短信验证码", "Please enter the SMS code");
  $("book").disabled = true;
  try {
    const { data } = await api("POST", "/api/v1/appointments",
      { body: { slot: slot.id, matter: $("matter").value, phone: phone(), code } });
    location.hash = `booking=${data.code}`;
    show(data);
  } catch (err) {
    error(`预约失败：${err.detail}`, err.status === 409 ? "This slot can no longer be booked by this number" : "The booking failed");
    if (err.status === 409) loadSlots();
  } finally {
    $("book").disabled = false;
  }
}

function show(b) {
  booking = b;
  $("form").hidden = true;
  $("booking").hidden = false;
  $("b-code").textContent = b.code;
  const [zh, en] = STATUS[b.status] || [b.status, b.status];
  $("b-status").replaceChildren(bi(zh, en));
  $("b-status").dataset.status = b.status;
  const day = b.starts_at.slice(0, 10);
  $("b-when").replaceChildren(bi(`${day} ${timeText(Date.parse(b.starts_at))}–${timeText(Date.parse(b.ends_at))}`, "Shanghai time"));
  const m = info?.matters?.get(b.matter);
  $("b-matter").replaceChildren(m ? bi(m.name_zh, m.name_en) : b.matter);
  $("b-qr").src = b.qr_url;
  $("b-qr").hidden = b.status !== "booked";
  $("cancel").hidden = b.status !== "booked";
}

async function cancel() {
  if (!booking) return;
  $("cancel").disabled = true;
  try {
    show((await api("POST", `/api/v1/appointments/${encodeURIComponent(booking.code)}/cancel`)).data);
  } catch (err) {
    error(`取消失败：${err.detail}`, "The booking could not be cancelled", "b-error");
  } finally {
    $("cancel").disabled = false;
  }
}

async function main() {
  $("send").addEventListener("click", sendCode);
  $("book").addEventListener("click", book);
  $("cancel").addEventListener("click", cancel);
  $("day").addEventListener("change", loadSlots);
  try {
    info = await centerInfo(center);
    useTimeZone(info.timezone);
    $("center-name").replaceChildren(bi(`${info.name_zh} · 预约办理`, `${info.name_en} · Book an appointment`));
    const all = (await api("GET", `/api/v1/matters?center=${encodeURIComponent(center)}`)).data.matters;
    info.matters = new Map(all.map((m) => [m.code, m]));
    $("matter").replaceChildren(...all.map((m) => h("option", { value: m.code }, `${m.name_zh} ${m.name_en}`)));
  } catch (err) {
    error("暂时无法加载，请稍后再试", `Could not load (${err.message})`);
    return;
  }
  const known = new URLSearchParams(location.hash.slice(1)).get("booking");
  if (known) {
    try {
      show((await api("GET", `/api/v1/appointments/${encodeURIComponent(known)}`)).data);
      return;
    } catch { /* gone: book anew */ }
  }
  $("day").value = shanghaiToday();
  $("day").min = shanghaiToday();
  await loadSlots();
}

main();
