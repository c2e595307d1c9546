// The inspector's tablet page (巡检): the center's devices due or overdue for inspection, most overdue
// first; tap one for its checklist, answer each item pass or fail, submit. A device another inspector
// just recorded answers 409: the page says so in the server's words and refreshes the list.

import { api, pageToken } from "./api.js";
import { bi, dayTimeText, h } from "./i18n.js";

const [, , centerRaw] = location.pathname.split("/");
const center = decodeURIComponent(centerRaw);
const token = pageToken();
const $ = (id) => document.getElementById(id);
const KINDS = {
  kiosk: ["取号机", "kiosk"], all_in_one: ["一体机", "all-in-one"], printer: ["打印机", "printer"],
  hall_display: ["大厅叫号屏", "hall display"], window_screen: ["窗口屏", "window screen"],
  tablet: ["评价器", "evaluation tablet"], dashboard: ["大屏", "dashboard"],
};
const STATUS = { due: ["待巡检", "Due"], overdue: ["已逾期", "Overdue"] };

let current = null;    // the device being inspected
let answers = {};      // item -> true (pass) / false (fail)

function showError(zh, en) {
  $("error").replaceChildren(zh ? bi(zh, en) : "");
  $("error").hidden = !zh;
}

function place(d) {
  return d.label || d.window || d.point || d.device;
}

async function loadDue() {
  const found = (await api("GET", `/api/v1/centers/${encodeURIComponent(center)}/inspections/due`, { token })).data;
  $("counts").replaceChildren(bi(`待巡检 ${found.due} · 逾期 ${found.overdue}`, `due ${found.due} · overdue ${found.overdue}`));
  $("due-list").replaceChildren(...found.devices.map((d) => h("li", { "data-device": d.device },
    h("button", { type: "button", class: "btn", onclick: () => open(d) },
      h("span", {}, bi(...(KINDS[d.kind] || [d.kind, d.kind])), " ", place(d)),
      h("span", {}, d.last_passed === false ? h("span", { class: "pill overdue" }, bi("上次故障", "Last failed")) : null, " ",
        h("span", { class: `pill ${d.status}` }, bi(...STATUS[d.status]), " ", dayTimeText(d.overdue_from)))))));
  $("none").hidden = found.devices.length > 0;
}

function showList() {
  current = null;
  $("check").hidden = true;
  $("due").hidden = false;
}

function ready() {
  $("submit").disabled = !current || current.checklist.some((i) => answers[i.item] === undefined);
}

function open(device) {
  current = device;
  answers = {};
  showError();
  $("recorded").hidden = true;
  $("note").value = "";
  $("device").replaceChildren(bi(...(KINDS[device.kind] || [device.kind, device.kind])), " ", place(device));
  $("items").replaceChildren(...device.checklist.map((item) => {
    const pass = h("button", { type: "button", class: "btn pass" }, bi("正常", "Pass"));
    const fail = h("button", { type: "button", class: "btn fail" }, bi("故障", "Fail"));
    const choose = (ok) => {
      answers[item.item] = ok;
      pass.classList.toggle("selected", ok);
      fail.classList.toggle("selected", !ok);
      ready();
    };
    pass.addEventListener("click", () => choose(true));
    fail.addEventListener("click", () => choose(false));
    return h("li", { "data-item": item.item }, bi(item.zh, item.en), pass, fail);
  }));
  ready();
  $("due").hidden = true;
  $("check").hidden = false;
}

async function submit() {
  const items = current.checklist.map((i) => ({ item: i.item, passed: answers[i.item] }));
  const body = { items, result: items.every((i) => i.passed) ? "pass" : "fail", note: $("note").value.trim(),
    follows: current.follows };   // another inspector's record since the list was read: 409, not a second one
  $("submit").disabled = true;
  try {
    const done = (await api("POST", `/api/v1/devices/${encodeURIComponent(current.device)}/inspections`, { token, body })).data;
    $("recorded").replaceChildren(done.passed ? bi(`${place(current)} 巡检正常，已记录`, "Inspected: all pass — recorded")
      : bi(`${place(current)} 巡检发现故障，已记录并通知`, "Inspected: fault found — recorded and reported"));
    $("recorded").hidden = false;
  } catch (e) {
    showError(e.detail || e.title || "提交失败", e.status === 409 ? "Already recorded or not due" : "Not recorded");
  }
  showList();
  await loadDue().catch((e) => showError("无法加载", e.message));
}

$("back").addEventListener("click", showList);
$("submit").addEventListener("click", submit);
loadDue().catch((e) => showError("无法加载待巡检设备", e.detail || e.message));
