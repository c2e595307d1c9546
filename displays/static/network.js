// Service point administration for a center's manager (or the district admin): every point with its
// kind, the remote windows serving it, its status and last change; create a point; change a status
// with a reason. The server decides what is legal: the page offers only the legal next statuses and
// shows any refusal in the server's own words.

import { api, centerInfo, pageToken } from "./api.js";
import { bi, dayTimeText, h, POINT_KIND as KINDS, POINT_STATUS as STATUSES, useTimeZone } from "./i18n.js";

const [, , centerRaw] = location.pathname.split("/");
const center = decodeURIComponent(centerRaw);
const token = pageToken();
const $ = (id) => document.getElementById(id);

const NEXT = { planned: ["active", "closed"], active: ["suspended", "closed"], suspended: ["active", "closed"], closed: [] };

function showError(err) {
  const box = $("error");
  box.textContent = err ? `操作未完成 Not done: ${err.message}` : "";
  box.hidden = !err;
  if (err) $("notice").hidden = true;
}

function notice(zh, en) {
  $("notice").replaceChildren(bi(zh, en));
  $("notice").hidden = false;
  showError(null);
}

function statusRow(p) {
  const choices = NEXT[p.status] || [];
  if (!choices.length) return h("span", { class: "sub" }, bi("不可再变更", "Final"));
  const select = h("select", { "aria-label": "新状态 New status", dataset: { point: p.code } },
    choices.map((s) => h("option", { value: s }, `${STATUSES[s][0]} ${STATUSES[s][1]}`)));
  const reason = h("input", { maxlength: "500", placeholder: "原因 Reason", "aria-label": "原因 Reason" });
  const button = h("button", { type: "button", class: "btn blue" }, bi("变更", "Change"));
  button.addEventListener("click", async () => {
    if (!reason.value.trim()) { showError(new Error("请填写原因 A reason is required")); reason.focus(); return; }
    button.disabled = true;
    try {
      await api("POST", `/api/v1/centers/${encodeURIComponent(center)}/points/${encodeURIComponent(p.code)}/status`,
        { token, body: { status: select.value, reason: reason.value.trim() } });
      notice(`${p.name_zh} 已变更为 ${STATUSES[select.value][0]}`, `${p.name_en} is now ${STATUSES[select.value][1].toLowerCase()}`);
      await load();
    } catch (err) {
      showError(err);
      button.disabled = false;
    }
  });
  return h("div", { class: "change" }, select, reason, button);
}

const WEEKDAYS = "一二三四五六日";

/** "" when an assignment holds every day, else " 周一三五" (ISO weekdays, Monday = 1). */
function weekdaysText(days) {
  return days.length === 7 ? "" : ` 周${days.map((d) => WEEKDAYS[d - 1]).join("")}`;
}

function row(p) {
  const kind = KINDS[p.kind] || [p.kind, p.kind];
  const last = p.history[p.history.length - 1];
  const windows = [...new Set(p.assignments.map((a) => `${a.window} ${a.starts}–${a.ends}${weekdaysText(a.weekdays)}`))];
  return h("tr", { dataset: { point: p.code } },
    h("td", {}, h("div", { class: "name" }, bi(p.name_zh, p.name_en, "stack")), h("div", { class: "sub" }, `${p.code} · ${p.address}`)),
    h("td", {}, bi(kind[0], kind[1], "stack")),
    h("td", { class: "sub" }, windows.length ? windows.join("，") : bi("未指派", "None")),
    h("td", {}, h("span", { class: `status-pill ${p.status}` }, bi(...(STATUSES[p.status] || [p.status, p.status]), "stack"))),
    h("td", { class: "sub" }, last ? `${dayTimeText(last.at)} ${last.changed_by}：${last.reason}` : ""),
    h("td", {}, statusRow(p)));
}

async function load() {
  const { data } = await api("GET", `/api/v1/points?center=${encodeURIComponent(center)}`, { token });
  $("points").replaceChildren(...data.points.map(row));
}

function setUpCreate() {
  const dialog = $("create-dialog");
  const form = $("create-form");
  $("kind").replaceChildren(...Object.entries(KINDS).map(([k, [zh, en]]) => h("option", { value: k }, `${zh} ${en}`)));
  $("new-point").addEventListener("click", () => { form.reset(); dialog.showModal(); });
  $("create-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const body = Object.fromEntries([...f.entries()].map(([k, v]) => [k, String(v).trim()]));
    body.lat = Number(body.lat);
    body.lng = Number(body.lng);
    try {
      const { data } = await api("POST", `/api/v1/centers/${encodeURIComponent(center)}/points`, { token, body });
      dialog.close();
      notice(`已创建 ${data.name_zh}（筹建中）`, `Created ${data.name_en} (planned)`);
      await load();
    } catch (err) {
      dialog.close();
      showError(err);
    }
  });
}

async function start() {
  setUpCreate();
  try {
    const info = await centerInfo(center);
    useTimeZone(info.timezone);
    $("center-name").replaceChildren(bi(`${info.name_zh} · 服务点管理`, `${info.name_en} · Service points`, "stack"));
    await load();
  } catch (err) {
    showError(err);
  }
}

start();
