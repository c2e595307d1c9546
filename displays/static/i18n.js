// Bilingual text (Chinese first, English beside) and a tiny DOM builder that never parses data as HTML.

export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// A zh/en pair as two spans: the page styles the English smaller and lighter.
export function bi(zh, en, cls = "") {
  return h("span", { class: `bi ${cls}`.trim() }, h("span", { class: "zh", lang: "zh-CN" }, zh), " ",
    h("span", { class: "en", lang: "en" }, en));
}

export function setBi(node, zh, en) {
  node.replaceChildren(bi(zh, en));
}

export const STATUS = {
  waiting: ["等候中", "Waiting"],
  called: ["已叫号", "Called"],
  serving: ["办理中", "Being served"],
  paused: ["暂停", "Paused"],
  finished: ["已办结", "Finished"],
  no_show: ["已过号", "Missed"],
  cancelled: ["已取消", "Cancelled"],
};

// A service point's kind and status (queue_server/domain/network.py).
export const POINT_KIND = {
  neighborhood_committee: ["居委会", "Neighborhood committee"],
  neighborhood_hub: ["邻里汇", "Neighborhood Hub"],
  office_building: ["楼宇", "Office building"],
  park: ["公园", "Park"],
  party_mass_center: ["党群服务站", "Party-mass service station"],
};

export const POINT_STATUS = {
  planned: ["筹建中", "Planned"],
  active: ["运行中", "Active"],
  suspended: ["暂停服务", "Suspended"],
  closed: ["已撤销", "Closed"],
};

export const WINDOW_STATE = {
  open: ["服务中", "Open"],
  paused: ["暂停服务", "Paused"],
  closed: ["已关闭", "Closed"],
};

export const PRIORITY = {
  normal: ["普通", "Normal"],
  priority: ["优先", "Priority"],
  appointment: ["预约", "Appointment"],
};

const DIGITS = "零一二三四五六七八九";

// "A012" → "A零一二": read digit by digit, as halls call numbers.
export function spokenNumber(number) {
  return String(number).replace(/\d/g, (d) => DIGITS[Number(d)]);
}

// Estimated wait as a pair of texts.
export function waitText(seconds) {
  if (seconds === undefined || seconds === null) return ["—", "—"];
  const min = Math.max(0, Math.round(seconds / 60));
  if (min < 1) return ["即将轮到", "any moment"];
  return [`约 ${min} 分钟`, `about ${min} min`];
}

const pad = (n) => String(n).padStart(2, "0");
const WEEKDAYS_ZH = "日一二三四五六";
const WEEKDAYS_EN = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

// Times people read are on the center's wall clock (Asia/Shanghai), whatever the device's own
// timezone; a page that knows its center's timezone passes it here.
let zone = "Asia/Shanghai";
let wallFormat = null;

export function useTimeZone(timeZone) {
  if (timeZone && timeZone !== zone) {
    zone = timeZone;
    wallFormat = null;
  }
}

function wall(ms) {
  wallFormat ||= new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", weekday: "short",
    year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
  const p = Object.fromEntries(wallFormat.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return { year: Number(p.year), month: Number(p.month), day: Number(p.day), hour: Number(p.hour),
    minute: Number(p.minute), second: Number(p.second), weekday: WEEKDAYS_EN.indexOf(p.weekday) };
}

export function timeText(ms, seconds = false) {
  const w = wall(ms);
  const hm = `${pad(w.hour)}:${pad(w.minute)}`;
  return seconds ? `${hm}:${pad(w.second)}` : hm;
}

// "11-29 14:55": the issue time on a printed ticket.
export function dayTimeText(ms) {
  const w = wall(ms);
  return `${pad(w.month)}-${pad(w.day)} ${timeText(ms)}`;
}

export function dateText(ms) {
  const w = wall(ms);
  return [`${w.year}年${w.month}月${w.day}日 星期${WEEKDAYS_ZH[w.weekday]}`,
    `${WEEKDAYS_EN[w.weekday]} ${w.year}-${pad(w.month)}-${pad(w.day)}`];
}

// Initials for an avatar when there is no photo: the surname of a Chinese name, else two letters.
export function initials(name) {
  const s = String(name || "").trim();
  if (!s) return "?";
  if (/^[\u4e00-\u9fff]/.test(s)) return s[0];
  return s.split(/\s+/).map((p) => p[0]).join("").slice(0, 2).toUpperCase();
}

/** A problem from the API in its page's error box, the detail with its title and status beside;
 * null hides the box. */
export function showProblem(box, err) {
  if (!err) { box.hidden = true; return; }
  box.replaceChildren(bi(err.detail || err.message, err.title && err.status ? `${err.title} (${err.status})` : ""));
  box.hidden = false;
}
