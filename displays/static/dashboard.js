// The ops dashboard: the district's centers as tiles coloured by their longest current wait, and a
// center's drill-down (service points, windows, queues, devices, staff, today's curve, wait
// distribution, ratings). Remote service (tickets issued at service points) is counted apart from the
// hall's, for the district, each center's tile and the center view. One
// socket (/ws/ops) gives a snapshot of the figures, then only the keys that changed, merged here.

import { api, pageToken } from "./api.js";
import { bi, dateText, h, POINT_KIND, POINT_STATUS, timeText, WINDOW_STATE } from "./i18n.js";
import { bindBanner, LiveSocket } from "./live.js";
import { curveChart, histogramChart, ratingsChart } from "./dashboard-charts.js";

const $ = (id) => document.getElementById(id);
const token = pageToken();
const state = { scope: null, home: null, centers: {}, district: null, sort: "wait", rendered: false,
  staff: { key: null, at: 0 } };
const STAFF_REFRESH_MS = 60_000;
let socket = null;
let renderQueued = false;

// -- formatting ----------------------------------------------------------------------------------

// A duration as [number, unit], in the unit a manager reads at a glance. One unit, the symbol both
// languages read (s, min, h): the label above the figure already says what it is in both.
function duration(seconds) {
  if (seconds === null || seconds === undefined) return ["—", ""];
  const s = Math.max(0, seconds);
  if (s < 60) return [String(Math.round(s)), "s"];
  if (s < 3600) return [(s / 60).toFixed(s < 600 ? 1 : 0), "min"];
  return [(s / 3600).toFixed(1), "h"];
}

function percent(rate) {
  return rate === null || rate === undefined ? ["—", ""] : [(rate * 100).toFixed(1), "%"];
}

function count(n) {
  return [String(n ?? 0), ""];
}

// How worrying a wait is, relative to the service-level target.
function waitLevel(seconds, target) {
  if (!seconds) return "idle";
  if (seconds < target / 2) return "calm";
  if (seconds < target) return "busy";
  if (seconds < target * 2) return "long";
  return "over";
}

function longestWait(f) {
  return f.oldest_waiting_at ? Math.max(0, (socket.now() - f.oldest_waiting_at) / 1000) : 0;
}

function shortName(f) {
  return [String(f.name_zh || f.center).replace(/社区事务受理服务中心$/, ""),
    String(f.name_en || "").replace(/\s*Community Affairs Acceptance Service Center$/, "")];
}

function value(parts, extra = {}) {
  const [num, unit] = parts;
  return h("span", { class: "value", ...extra }, h("span", { class: "num" }, num), unit ? h("span", { class: "unit" }, unit) : null);
}

// -- KPIs ----------------------------------------------------------------------------------------

function kpiCards(f) {
  const target = f.service_level_target_s || 900;
  const lw = longestWait(f);
  const cards = [
    ["issued", "今日取号", "Issued today", count(f.issued)],
    ["served", "已办结", "Served", count(f.served)],
    ["waiting", "正在等候", "Waiting now", count(f.waiting_total)],
    ["longest", "最长等候", "Longest wait", duration(lw), { "data-oldest": f.oldest_waiting_at ?? "" }, waitLevel(lw, target)],
    ["wait1h", "近1小时平均等候", "Avg wait, last hour", duration(f.wait_avg_1h_s)],
    ["handling1h", "近1小时平均办理", "Avg handling, last hour", duration(f.handling_avg_1h_s)],
    ["sl", `${Math.round(target / 60)}分钟内叫号率`, `Called within ${Math.round(target / 60)} min`, percent(f.service_level)],
    ["noshow", "过号率", "No-show rate", percent(f.no_show_rate)],
    ["satisfaction", "今日满意率", "Satisfaction today", percent(f.ratings?.satisfaction_rate)],
    ["bad", "差评待整改 / 超期", "Bad reviews open/late",
      [`${f.bad_reviews?.open ?? 0} / ${f.bad_reviews?.overdue ?? 0}`, ""], {}, f.bad_reviews?.overdue ? "over" : ""],
    ["windows", "窗口 开/停/关", "Open/paused/closed",
      [`${f.windows?.open ?? 0} / ${f.windows?.paused ?? 0} / ${f.windows?.closed ?? 0}`, ""]],
    ["devices", "设备在线 / 离线", "Devices online/offline",
      [`${f.devices?.online ?? 0} / ${f.devices?.offline ?? 0}`, ""], {}, f.devices?.offline ? "long" : ""],
    ["inspections", "巡检未通过", "Failed inspections", count(f.devices?.inspections_failed), {},
      f.devices?.inspections_failed ? "long" : ""],
    ["lag", "记录延迟", "Record lag", duration((f.persister?.lag_ms ?? 0) / 1000), {}, (f.persister?.lag_ms ?? 0) > 5000 ? "long" : ""],
  ];
  return cards.map(([key, zh, en, parts, attrs = {}, level = ""]) =>
    h("div", { class: ["kpi", level && `level-${level}`, parts[0].length > 5 && "compact"].filter(Boolean).join(" "),
      dataset: { kpi: key } },
      h("div", { class: "label" }, bi(zh, en, "stack")), value(parts, attrs)));
}

// -- district ------------------------------------------------------------------------------------

const SORTS = {
  wait: (a, b) => (a.oldest_waiting_at ?? Infinity) - (b.oldest_waiting_at ?? Infinity),
  waiting: (a, b) => (b.waiting_total ?? 0) - (a.waiting_total ?? 0),
  issued: (a, b) => (b.issued ?? 0) - (a.issued ?? 0),
  satisfaction: (a, b) => (b.ratings?.satisfaction_rate ?? -1) - (a.ratings?.satisfaction_rate ?? -1),
  name: (a, b) => String(a.center).localeCompare(String(b.center)),
};

function tile(f) {
  const target = f.service_level_target_s || 900;
  const lw = longestWait(f);
  const [zh, en] = shortName(f);
  return h("a", { class: `tile level-${waitLevel(lw, target)}`, href: `#center=${encodeURIComponent(f.center)}`,
    dataset: { center: f.center, waiting: String(f.waiting_total ?? 0), level: waitLevel(lw, target) } },
  h("div", { class: "tile-name" }, bi(zh, en, "stack")),
  h("div", { class: "tile-wait" }, h("span", { class: "label" }, bi("最长等候", "Longest wait")),
    value(duration(lw), { "data-oldest": f.oldest_waiting_at ?? "" })),
  h("dl", { class: "tile-stats" },
    h("div", {}, h("dt", {}, bi("等候", "Waiting")), h("dd", { class: "waiting" }, f.waiting_total ?? 0)),
    h("div", {}, h("dt", {}, bi("取号/办结", "Issued/served")), h("dd", {}, `${f.issued ?? 0}/${f.served ?? 0}`)),
    h("div", {}, h("dt", {}, bi("窗口开放", "Windows open")),
      h("dd", {}, `${f.windows?.open ?? 0}/${(f.windows?.open ?? 0) + (f.windows?.paused ?? 0) + (f.windows?.closed ?? 0)}`)),
    h("div", {}, h("dt", {}, bi("满意率", "Satisfied")), h("dd", {}, percent(f.ratings?.satisfaction_rate).join(""))),
    h("div", { class: "remote", dataset: { issued: String(f.remote?.issued ?? 0), waiting: String(f.remote?.waiting ?? 0) } },
      h("dt", {}, bi("服务点取号/等候", "Points issued/wait")), h("dd", {}, `${f.remote?.issued ?? 0}/${f.remote?.waiting ?? 0}`)),
  ));
}

// Issued / served / waiting via service points and in the hall, side by side.
function channels(f) {
  const row = (key, zh, en, c) => h("div", { class: `channel ${key}`, dataset: { channel: key, issued: String(c?.issued ?? 0),
    served: String(c?.served ?? 0), waiting: String(c?.waiting ?? 0) } },
  h("div", { class: "channel-name" }, bi(zh, en, "stack")),
  ...[["今日取号", "Issued", c?.issued], ["已办结", "Served", c?.served], ["正在等候", "Waiting", c?.waiting]].map(([z, e, n]) =>
    h("div", { class: "channel-stat" }, h("span", { class: "label" }, bi(z, e, "stack")), h("span", { class: "num" }, n ?? 0))));
  const p = f.packages || {};
  const originals = h("div", { class: `channel originals${p.returns_overdue ? " late" : ""}`, dataset: { channel: "originals",
    inTransit: String(p.in_transit ?? 0), atCenter: String(p.at_center ?? 0), overdue: String(p.returns_overdue ?? 0) } },
  h("div", { class: "channel-name" }, bi("原件流转", "Originals", "stack")),
  ...[["在途", "In transit", p.in_transit], ["在中心", "At center", p.at_center], ["逾期未退", "Return late", p.returns_overdue]]
    .map(([z, e, n]) => h("div", { class: "channel-stat" }, h("span", { class: "label" }, bi(z, e, "stack")), h("span", { class: "num" }, n ?? 0))));
  const d = f.door || {};
  const door = h("div", { class: `channel door${d.overdue ? " late" : ""}`, dataset: { channel: "door",
    review: String(d.discovered ?? 0), visit: String((d.approved ?? 0) + (d.scheduled ?? 0)),
    tracking: String(d.tracking ?? 0), overdue: String(d.overdue ?? 0) } },
  h("div", { class: "channel-name" }, bi("上门帮办", "Door-to-door", "stack")),
  ...[["待审核", "To review", d.discovered], ["待上门", "To visit", (d.approved ?? 0) + (d.scheduled ?? 0)],
    ["审批超期", "Overdue", d.overdue]]
    .map(([z, e, n]) => h("div", { class: "channel-stat" }, h("span", { class: "label" }, bi(z, e, "stack")), h("span", { class: "num" }, n ?? 0))));
  return [row("remote", "经服务点（远程）", "Via service points", f.remote), row("hall", "中心大厅", "In the hall", f.hall), originals,
    door];
}

function renderLegend(target) {
  const m = Math.round(target / 60);
  const items = [["idle", "无人等候", "nobody waiting"], ["calm", `< ${m / 2} 分钟`, `< ${m / 2} min`],
    ["busy", `< ${m} 分钟`, `< ${m} min`], ["long", `< ${m * 2} 分钟`, `< ${m * 2} min`], ["over", `≥ ${m * 2} 分钟`, `≥ ${m * 2} min`]];
  $("legend").replaceChildren(...items.map(([lvl, zh, en]) => h("span", { class: `key level-${lvl}` }, h("i"), bi(zh, en))));
}

function renderDistrict() {
  const d = state.district;
  if (!d) return;
  $("district-kpis").replaceChildren(...kpiCards(d));
  $("district-channels").replaceChildren(...channels(d));
  const list = Object.values(state.centers).sort(SORTS[state.sort] || SORTS.wait);
  $("tiles").replaceChildren(...list.map(tile));
  document.querySelectorAll(".sorter .chip").forEach((b) => b.classList.toggle("selected", b.dataset.sort === state.sort));
  renderLegend(d.service_level_target_s || 900);
  curveChart($("district-curve"), d.curve, nowBucket(d));
  histogramChart($("district-hist"), d.wait_histogram, d.service_level_target_s);
}

// -- center --------------------------------------------------------------------------------------

function windowCard(w) {
  const [szh, sen] = WINDOW_STATE[w.state] || [w.state, w.state];
  const number = w.current_number || "—";
  return h("div", { class: `window-card state-${w.state}`, dataset: { window: w.id, state: w.state } },
    h("div", { class: "window-head" }, bi(w.name_zh || w.id, w.name_en || "", "stack"), h("span", { class: "pill" }, bi(szh, sen))),
    h("div", { class: "current", dataset: { number: w.current_number || "" } }, number),
    h("div", { class: "staff" }, w.staff_name ? `${w.staff_name}${w.staff_no ? ` · ${w.staff_no}` : ""}` : bi("无人值守", "No staff")),
    w.state === "paused" && w.pause_reason ? h("div", { class: "reason" }, w.pause_reason) : null,
    w.since ? h("div", { class: "since" }, bi("自", "since"), " ", timeText(w.since)) : null);
}

function pointCard(p) {
  const [szh, sen] = POINT_STATUS[p.status] || [p.status, p.status];
  const [kzh, ken] = POINT_KIND[p.kind] || [p.kind, p.kind];
  const stat = (key, zh, en, n) => h("div", { class: `point-stat ${key}` }, h("span", { class: "label" }, bi(zh, en, "stack")),
    h("span", { class: "num" }, n));
  const windows = p.windows.length ? p.windows.map((w) => {
    const [wzh, wen] = WINDOW_STATE[w.state] || [w.state, w.state];
    return h("span", { class: `point-window state-${w.state}`, dataset: { window: w.id, open: String(w.open) } },
      h("i"), h("b", {}, w.name_zh || w.id), " ", bi(wzh, wen), w.staff_name ? h("span", { class: "who" }, w.staff_name) : null);
  }) : [h("span", { class: "point-window none" }, bi("此刻无远程窗口", "No remote window now"))];
  const dev = p.devices;
  return h("div", { class: `point-card status-${p.status}`, dataset: { point: p.code, status: p.status,
    issued: String(p.issued), waiting: String(p.waiting), served: String(p.served) } },
  h("div", { class: "point-head" }, bi(p.name_zh, p.name_en, "stack"),
    h("span", { class: "pill" }, bi(szh, sen))),
  h("div", { class: "point-kind" }, bi(kzh, ken)),
  h("div", { class: "point-stats" }, stat("issued", "今日取号", "Issued", p.issued), stat("waiting", "正在等候", "Waiting", p.waiting),
    stat("served", "已办结", "Served", p.served)),
  h("div", { class: "point-windows" }, h("span", { class: "label" }, bi("远程窗口", "Remote windows")), ...windows),
  h("div", { class: "point-devices", dataset: { online: dev ? String(dev.online) : "" } },
    bi("设备在线", "Devices online"), " ", dev ? `${dev.online} / ${dev.online + dev.offline}` : "—"));
}

function renderCenter(code) {
  const f = state.centers[code];
  if (!f) return;
  const [zh, en] = shortName(f);
  $("center-name").replaceChildren(bi(f.name_zh || zh, f.name_en || en, "stack"));
  $("center-day").textContent = f.day ? `${f.day.slice(0, 4)}-${f.day.slice(4, 6)}-${f.day.slice(6)}` : "";
  $("back").hidden = state.scope !== "district";
  $("center-kpis").replaceChildren(...kpiCards(f));
  const points = f.points || [];
  $("points-panel").hidden = !points.length;
  $("center-channels").replaceChildren(...channels(f));
  $("points").replaceChildren(...points.map(pointCard));
  $("windows").replaceChildren(...(f.window_list || []).map(windowCard));
  $("queues").replaceChildren(...(f.queues || []).map((q) => h("div", { class: "queue", dataset: { queue: q.code } },
    h("span", { class: "prefix" }, q.prefix), bi(q.name_zh, q.name_en, "stack"),
    h("span", { class: "count", dataset: { count: String(f.waiting?.[q.code] ?? 0) } }, f.waiting?.[q.code] ?? 0))));
  const devices = f.device_list || [];
  $("devices").replaceChildren(...(devices.length ? devices.map((d) => h("span", {
    class: `device ${d.online ? "online" : "offline"}`, title: d.label || "" },
  h("i"), `${d.kind}${d.window ? ` · ${d.window}` : ""}`)) : [h("span", { class: "muted" }, bi("暂无设备连接", "No devices yet"))]));
  curveChart($("center-curve"), f.curve, nowBucket(f));
  histogramChart($("center-hist"), f.wait_histogram, f.service_level_target_s);
  const rate = f.ratings?.satisfaction_rate;
  ratingsChart($("center-ratings"), f.ratings || {});
  loadStaff(code, f.day);
  $("center-ratings").prepend(h("div", { class: "rating-head" },
    h("span", { class: "big" }, rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)}%`),
    bi(`满意率 · ${f.ratings?.rated ?? 0} 条评价`, `satisfied · ${f.ratings?.rated ?? 0} ratings`, "stack")));
}

// Each clerk's day so far (served, handling, idle, paused by reason), from the reports by staff:
// the record's figures, refreshed every minute while the center is shown. A token that may not read
// reports (a dashboard device) hides the panel.
function staffRow(r) {
  const reasons = Object.entries(r.paused_by_reason || {}).map(([why, s]) => `${why || "—"} ${duration(s).join(" ")}`);
  return h("tr", { dataset: { staff: r.staff, served: String(r.finished ?? 0) } },
    h("td", { class: "name" }, r.staff_name || r.staff),
    h("td", {}, value(count(r.finished))),
    h("td", {}, value(duration(r.handling_avg_s))),
    h("td", {}, value(duration(r.idle_s))),
    h("td", {}, value(duration(r.paused_s)), reasons.length ? h("div", { class: "reasons" }, reasons.join(" · ")) : null));
}

async function loadStaff(code, day) {
  const key = `${code}/${day}`;
  if (!day || (state.staff.key === key && Date.now() - state.staff.at < STAFF_REFRESH_MS)) return;
  state.staff = { key, at: Date.now() };
  const date = `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6)}`;
  try {
    const { data } = await api("GET", `/api/v1/ops/reports?by=staff&period=day&center=${encodeURIComponent(code)}`
      + `&since=${date}&until=${date}`, { token });
    const rows = (data.rows || []).filter((r) => r.staff).sort((a, b) => (b.on_duty_s ?? 0) - (a.on_duty_s ?? 0));
    $("staff-panel").hidden = false;
    $("staff-rows").replaceChildren(...(rows.length ? rows.map(staffRow)
      : [h("tr", {}, h("td", { class: "muted", colspan: 5 }, bi("今日暂无工作人员上岗", "Nobody on duty yet today")))]));
  } catch (err) {
    if (err.status === 403) $("staff-panel").hidden = true;
    else state.staff.at = 0;          // try again at the next render
  }
}

// Which 15-minute bucket of the figures' day "now" falls in (the server's clock).
function nowBucket(f) {
  if (!f.day || !f.curve) return null;
  const start = new Date(Number(f.day.slice(0, 4)), Number(f.day.slice(4, 6)) - 1, Number(f.day.slice(6)));
  return Math.floor((socket.now() - start.getTime()) / 1000 / (f.curve.bucket_s || 900));
}

// -- views ---------------------------------------------------------------------------------------

function focus() {
  const m = /center=([^&]+)/.exec(location.hash);
  if (state.scope === "center") return state.home;
  return m && state.centers[decodeURIComponent(m[1])] ? decodeURIComponent(m[1]) : null;
}

function render() {
  renderQueued = false;
  if (!state.rendered && !state.scope) return;
  const code = focus();
  document.body.dataset.view = code ? "center" : "district";
  $("district").hidden = Boolean(code);
  $("center").hidden = !code;
  if (code) renderCenter(code); else renderDistrict();
  state.rendered = true;
}

function scheduleRender() {
  if (!renderQueued) {
    renderQueued = true;
    requestAnimationFrame(render);
  }
}

// Every second: the clock, and the waits that grow while nobody is called.
function tick() {
  if (!socket) return;
  const now = socket.now();
  $("clock-time").textContent = timeText(now, true);
  const [zh, en] = dateText(now);
  $("clock-date").replaceChildren(bi(zh, en, "stack"));
  document.querySelectorAll("[data-oldest]").forEach((el) => {
    const oldest = Number(el.dataset.oldest);
    const [num, unit] = duration(oldest ? (now - oldest) / 1000 : 0);
    el.querySelector(".num").textContent = num;
    const unitEl = el.querySelector(".unit");
    if (unitEl) unitEl.textContent = unit;
  });
}

function onSnapshot(msg) {
  $("warming").hidden = true;
  showLive("online");
  state.scope = msg.scope;
  state.home = msg.center || null;
  state.centers = msg.centers || {};
  state.district = msg.district || null;
  scheduleRender();
}

// The server's first dashboard waits while it reads the day's events of every center (seconds for a
// whole city): how far it is, until the snapshot comes. A page already showing figures keeps them.
function showWarming(msg) {
  const el = $("live");
  el.dataset.state = "warming";
  el.replaceChildren(bi("载入中", "Loading"));
  if (state.rendered) return;
  $("warming").hidden = false;
  $("warming-bar").max = msg.centers || 1;
  $("warming-bar").value = msg.centers_warm || 0;
  $("warming-text").replaceChildren(bi(`已载入 ${msg.centers_warm} / ${msg.centers} 个中心`,
    `${msg.centers_warm} of ${msg.centers} centers loaded`));
}

function onMessage(msg) {
  if (msg.type === "warming") { showWarming(msg); return; }
  if (msg.type !== "update") return;
  for (const [code, diff] of Object.entries(msg.centers || {})) {
    state.centers[code] = Object.assign(state.centers[code] || {}, diff);
  }
  if (msg.district && state.district) Object.assign(state.district, msg.district);
  scheduleRender();
}

function showLive(status) {
  const el = $("live");
  el.dataset.state = status;
  const text = { online: ["实时", "Live"], offline: ["离线", "Offline"], refused: ["无权限", "Not allowed"],
    connecting: ["连接中", "Connecting"] }[status] || [status, status];
  el.replaceChildren(bi(...text));
}

function start() {
  document.querySelectorAll(".sorter .chip").forEach((b) => b.addEventListener("click", () => {
    state.sort = b.dataset.sort;
    scheduleRender();
  }));
  $("back").addEventListener("click", () => { location.hash = ""; });
  addEventListener("hashchange", scheduleRender);
  addEventListener("resize", scheduleRender);
  if (!token) {
    document.body.dataset.view = "refused";
    $("refused").hidden = false;
    $("refused-text").replaceChildren(bi("请使用带令牌的看板链接", "Open the dashboard with its token link"));
    return;
  }
  const banner = bindBanner($("offline"));
  socket = new LiveSocket("/ws/ops", { token, onSnapshot, onMessage,
    onStatus: (status, info) => { banner(status, info); showLive(status); } }).start();
  tick();
  setInterval(tick, 1000);
  setInterval(() => { if (focus()) scheduleRender(); }, STAFF_REFRESH_MS);
}

start();
