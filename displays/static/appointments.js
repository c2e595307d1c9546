// Managers' appointment slots (/appointments/{center}?token=T, a manager's or admin's token): a
// day's slots with their places taken and left, a new slot within the center's hours, and a
// slot's capacity changed (never below the places taken: the server says so).

import { api, centerInfo, pageToken } from "./api.js";
import { bi, h, timeText, useTimeZone } from "./i18n.js";

const center = decodeURIComponent(location.pathname.split("/")[2]);
const token = pageToken();
const $ = (id) => document.getElementById(id);
let lines = new Map();    // queue code -> its names

function error(zh, en) {
  $("error").replaceChildren(bi(zh, en, "stack"));
  $("error").hidden = false;
}

function shanghaiToday() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
}

async function setCapacity(slot, input) {
  try {
    await api("PATCH", `/api/v1/appointment-slots/${slot.id}`, { body: { capacity: Number(input.value) }, token });
    $("error").hidden = true;
    await load();
  } catch (err) {
    input.classList.add("invalid");
    error(`容量未修改：${err.detail}`, "The capacity was not changed");
  }
}

async function load() {
  const { data } = await api("GET", `/api/v1/centers/${encodeURIComponent(center)}/appointment-slots?date=${$("day").value}`);
  $("empty").hidden = data.slots.length > 0;
  $("rows").replaceChildren(...data.slots.map((s) => {
    const input = h("input", { type: "number", min: String(Math.max(1, s.taken)), max: "500", value: String(s.capacity),
      "aria-label": "容量 Capacity" });
    return h("tr", { dataset: { slot: s.id } },
      h("td", {}, `${timeText(Date.parse(s.starts_at))}–${timeText(Date.parse(s.ends_at))}`),
      h("td", {}, lines.has(s.queue) ? bi(...lines.get(s.queue), "stack") : s.queue),
      h("td", {}, String(s.taken)),
      h("td", {}, String(s.left)),
      h("td", {}, input, h("button", { type: "button", class: "btn", onclick: () => setCapacity(s, input) }, bi("保存", "Save"))));
  }));
}

async function add() {
  $("error").hidden = true;
  const day = $("day").value;
  const body = { queue: $("line").value, starts_at: `${day}T${$("start").value}:00+08:00`,
    ends_at: `${day}T${$("end").value}:00+08:00`, capacity: Number($("capacity").value) };
  try {
    await api("POST", `/api/v1/centers/${encodeURIComponent(center)}/appointment-slots`, { body, token });
    $("error").hidden = true;
    await load();
  } catch (err) {
    error(`未能新增：${err.detail}`, "The slot was not added");
  }
}

async function main() {
  $("add").addEventListener("click", add);
  $("day").addEventListener("change", load);
  $("day").value = shanghaiToday();
  try {
    const info = await centerInfo(center);
    useTimeZone(info.timezone);
    $("center-name").replaceChildren(bi(info.name_zh, info.name_en));
    const w = info.hours?.weekdays;
    const hours = Array.isArray(w) ? w.join("–") : w;
    if (hours) $("hours").replaceChildren(bi(`工作日 ${hours}`, `weekdays ${hours}`));
    lines = new Map(info.queues.map((q) => [q.code, [q.name_zh, q.name_en]]));
    $("line").replaceChildren(...info.queues.map((q) => h("option", { value: q.code, selected: q.code === "appointment" },
      `${q.name_zh} ${q.name_en}`)));
    await load();
  } catch (err) {
    error("暂时无法加载", `Could not load (${err.message})`);
  }
}

main();
