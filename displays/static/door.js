// The center's door-to-door case board (a manager's 1366×768 desk): figures, filters, the cases with
// overdue ones first, and the picked case with its history and the steps its stage allows. The
// server decides what is legal; a refusal is shown in its own words.

import { api, pageToken } from "./api.js";
import { bi, dayTimeText, h } from "./i18n.js";

const [, , centerRaw] = location.pathname.split("/");
const center = decodeURIComponent(centerRaw);
const token = pageToken();
const $ = (id) => document.getElementById(id);
const C = encodeURIComponent(center);

const STAGES = {
  discovered: ["待审核", "Awaiting review"], approved: ["待安排", "To schedule"], scheduled: ["已安排", "Scheduled"],
  tracking: ["审批跟踪", "Tracking approval"], closed: ["已办结", "Closed"], refused: ["不予上门", "Refused"],
  cancelled: ["已撤销", "Cancelled"],
};
const SOURCES = {
  hotline: ["热线", "Hotline"], committee: ["居委会", "Neighborhood committee"], grid: ["网格员", "Grid worker"],
  online: ["网上申请", "Online form"], staff: ["工作人员", "Staff"], outreach: ["政策找人", "Policy finds people"],
};
const REASONS = {
  elderly: ["高龄", "Old age"], limited_mobility: ["行动不便", "Limited mobility"], disability: ["残疾", "Disability"],
  serious_illness: ["重病", "Serious illness"], other: ["其他", "Other"],
};
const ACTIONS = {
  discover: ["发现登记", "Discovered"], merge: ["合并来源", "Merged report"], approve: ["审核通过", "Approved"],
  refuse: ["不予上门", "Refused"], schedule: ["安排上门", "Visit booked"], accept: ["上门受理", "Accepted on site"],
  not_accepted: ["上门未受理", "Not accepted on site"], approval: ["审批进度", "Approval"],
  approval_overdue: ["审批超期提醒", "Approval overdue"], close: ["办结", "Closed"], cancel: ["撤销", "Cancelled"],
};
const APPROVALS = {
  submitted: ["已提交", "Submitted"], in_review: ["审批中", "In review"], approved: ["已批准", "Approved"],
  rejected: ["未批准", "Rejected"],
};
const SLOTS = { am: ["上午", "Morning"], pm: ["下午", "Afternoon"] };

let list = { items: [] };
let visitors = [];
let picked = null;

function showError(err) {
  $("error").replaceChildren(err ? `操作未完成 Not done: ${err.message}` : "");
  $("error").hidden = !err;
  if (err) $("notice").hidden = true;
}

function notice(zh, en) {
  $("notice").replaceChildren(bi(zh, en));
  $("notice").hidden = false;
  showError(null);
}

const pair = (map, key) => map[key] || [key, key];
const options = (map, all) => [...(all ? [h("option", { value: "" }, "全部 All")] : []),
  ...Object.entries(map).map(([k, [zh, en]]) => h("option", { value: k }, `${zh} ${en}`))];
const matterName = (code) => {
  const m = list.items.find((i) => i.matter === code);
  return m ? [m.name_zh, m.name_en] : [code, code];
};

async function loadFigures() {
  const { data } = await api("GET", `/api/v1/door/figures?center=${C}`, { token });
  const open = ["discovered", "approved", "scheduled", "tracking"].reduce((n, s) => n + data.by_stage[s], 0);
  const days = (v) => (v === null ? "—" : `${v}`);
  const rate = data.satisfaction.good_rate === null ? "—" : `${Math.round(data.satisfaction.good_rate * 100)}%`;
  const tiles = [
    ["open", "办理中", "Open", open], ["overdue", "审批超期", "Overdue", data.overdue],
    ["to-visit", "发现→上门(天)", "Days to visit", days(data.median_days_to_visit)],
    ["to-approval", "发现→审批(天)", "Days to approval", days(data.median_days_to_approval)],
    ["satisfaction", "满意率", "Satisfied", rate], ["closed", "已办结", "Closed", data.by_stage.closed],
  ];
  $("figures").replaceChildren(...tiles.map(([id, zh, en, v]) => h("div", {
    class: `figure${id === "overdue" && v > 0 ? " warn" : ""}`, dataset: { figure: id } },
  h("div", { class: "k" }, bi(zh, en)), h("div", { class: "v" }, String(v)))));
}

async function loadCases() {
  const q = new URLSearchParams();
  if ($("f-stage").value) q.set("stage", $("f-stage").value);
  if ($("f-source").value) q.set("source", $("f-source").value);
  if ($("f-overdue").checked) q.set("overdue", "true");
  const { data } = await api("GET", `/api/v1/centers/${C}/door/cases?${q}`, { token });
  $("cases").replaceChildren(...data.cases.map((c) => h("tr", {
    class: `${c.overdue ? "overdue" : ""} ${picked === c.id ? "selected" : ""}`.trim(), dataset: { case: c.id },
    onclick: () => pick(c.id) },
  h("td", {}, String(c.id)),
  h("td", {}, h("div", {}, c.resident_name), h("div", { class: "sub" }, c.phone_masked)),
  h("td", {}, c.matters.map((m) => h("div", {}, bi(...matterName(m.matter))))),
  h("td", {}, h("span", { class: `stage ${c.stage}` }, bi(...pair(STAGES, c.stage))),
    c.overdue ? h("div", { class: "overdue-tag" }, bi("审批超期", "Overdue")) : null),
  h("td", { class: "sub" }, dayTimeText(c.updated_at)))));
}

async function refresh() {
  await Promise.all([loadFigures(), loadCases()]);
  if (picked !== null) await pick(picked);
}

async function step(path, body, zh, en) {
  try {
    await api("POST", `/api/v1/door/cases/${picked}/${path}`, { token, body });
    notice(zh, en);
    await refresh();
  } catch (err) {
    showError(err);
  }
}

function button(label, cls, onclick) {
  return h("button", { type: "button", class: `btn ${cls}`, onclick }, bi(...label));
}

function stepsFor(c) {
  const rows = [];
  const reason = h("input", { maxlength: "500", placeholder: "原因 Reason", "aria-label": "原因 Reason", class: "why" });
  const needReason = (then) => () => {
    if (!reason.value.trim()) { showError(new Error("请填写原因 A reason is required")); reason.focus(); return; }
    then(reason.value.trim());
  };
  if (c.stage === "discovered") {
    rows.push(h("div", { class: "row" }, button(["审核通过", "Approve"], "green approve",
      () => step("review", { decision: "approve" }, "已审核通过", "Approved")), reason,
    button(["不予上门", "Refuse"], "refuse", needReason((why) => step("review", { decision: "refuse", reason: why },
      "已告知居民", "The resident is told by SMS")))));
  }
  if (c.stage === "approved" || c.stage === "scheduled") {
    const who = h("select", { class: "visitor", "aria-label": "上门人员 Visitor" },
      visitors.map((v) => h("option", { value: v.id }, `${v.name} (${v.kind})`)));
    const day = h("input", { type: "date", class: "day", "aria-label": "日期 Date" });
    const slot = h("select", { class: "slot", "aria-label": "时段 Slot" }, options(SLOTS, false));
    rows.push(h("div", { class: "row" }, who, day, slot, button(["安排上门", "Book visit"], "blue book", () => {
      if (!day.value) { showError(new Error("请选择日期 Pick a date")); return; }
      step("schedule", { visitor: who.value, date: day.value, slot: slot.value }, "已安排上门并短信告知材料",
        "Booked; the materials list went by SMS");
    })));
  }
  if (c.stage === "tracking") {
    for (const m of c.matters) {
      const to = h("select", { class: "approval", dataset: { matter: m.matter }, "aria-label": "审批状态 Approval" },
        options(APPROVALS, false));
      to.value = m.approval;
      const due = h("input", { type: "date", class: "due", value: m.expected_by || "", "aria-label": "预计办结 Expected by" });
      rows.push(h("div", { class: "row" }, h("span", {}, bi(...matterName(m.matter))), to, due,
        button(["更新", "Update"], "blue", () => step(`approvals/${encodeURIComponent(m.matter)}`,
          { state: to.value, expected_by: due.value || null }, "已更新审批进度", "Approval updated"))));
    }
    rows.push(h("div", { class: "row" }, button(["办结个案", "Close case"], "green close",
      () => step("close", { reason: "审批均已办结" }, "个案已办结", "Case closed"))));
  }
  if (["discovered", "approved", "scheduled"].includes(c.stage)) {
    rows.push(h("div", { class: "row" }, c.stage === "discovered" ? null : reason,
      button(["撤销", "Cancel case"], "cancel", needReason((why) => step("cancel", { reason: why }, "已撤销", "Cancelled")))));
  }
  return rows;
}

async function pick(caseId) {
  picked = caseId;
  for (const tr of document.querySelectorAll("#cases tr")) tr.classList.toggle("selected", Number(tr.dataset.case) === caseId);
  const { data: c } = await api("GET", `/api/v1/door/cases/${caseId}`, { token });
  const booking = c.visits.find((v) => v.cancelled_at === null && v.recorded_at === null);
  // replaceChildren writes a null out as text: the parts a case may lack are left out first
  $("panel").replaceChildren(...[
    h("h2", {}, `${c.id} · ${c.resident_name}`),
    h("div", { class: "sub" }, `${c.phone_masked} · ${c.address}`),
    h("div", {}, bi(...pair(REASONS, c.reason)), c.reason_note ? ` — ${c.reason_note}` : ""),
    h("div", {}, h("span", { class: `stage ${c.stage}` }, bi(...pair(STAGES, c.stage)))),
    ...c.matters.map((m) => h("div", { class: m.overdue ? "overdue-tag" : "" }, bi(...matterName(m.matter)),
      m.approval ? h("span", { class: "sub" }, ` · `, bi(...pair(APPROVALS, m.approval)),
        m.expected_by ? ` · ${m.expected_by}` : "") : null)),
    booking ? h("div", { class: "sub booking-line" }, `${booking.date} `, bi(...SLOTS[booking.slot]), ` · ${booking.visitor_name}`) : null,
    c.rating ? h("div", { class: "sub" }, bi(`评价 ${c.rating.level} 分`, `Rated ${c.rating.level}`)) : null,
    h("div", { class: "actions" }, stepsFor(c)),
    h("h2", {}, bi("办理经过", "History")),
    h("ol", { class: "history" }, c.history.map((t) => h("li", { dataset: { action: t.action } },
      h("span", { class: "at" }, dayTimeText(t.at)), bi(...pair(ACTIONS, t.action)), ` · ${t.actor}`,
      t.reason ? h("div", { class: "sub" }, t.reason) : null)))].filter(Boolean));
}

function setUpDialog() {
  const dialog = $("case-dialog");
  const form = $("case-form");
  $("source").replaceChildren(...options(SOURCES, false));
  $("reason").replaceChildren(...options(REASONS, false));
  $("matters").replaceChildren(...list.items.map((i) => h("option", { value: i.matter }, `${i.name_zh} ${i.name_en}`)));
  $("new-case").addEventListener("click", () => dialog.showModal());
  $("case-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const body = { resident_name: f.get("resident_name"), phone: f.get("phone"), address: f.get("address"),
      matters: f.getAll("matters"), reason: f.get("reason"), reason_note: f.get("reason_note"), source: f.get("source") };
    if (f.get("id_number")) body.id_number = f.get("id_number");
    try {
      const { data } = await api("POST", `/api/v1/centers/${C}/door/cases`, { token, body });
      dialog.close();
      form.reset();
      if (data.merged) notice(`已并入个案 ${data.case_id}`, `Merged into case ${data.case_id}`);
      else notice(`已登记个案 ${data.case_id}`, `Case ${data.case_id} registered`);
      picked = data.case_id;
      await refresh();
    } catch (err) {
      dialog.close();
      showError(err);
    }
  });
}

async function start() {
  $("f-stage").replaceChildren(...options(STAGES, true));
  $("f-source").replaceChildren(...options(SOURCES, true));
  for (const id of ["f-stage", "f-source", "f-overdue"]) $(id).addEventListener("change", () => loadCases().catch(showError));
  [{ data: list }, { data: { visitors } }] = await Promise.all([
    api("GET", `/api/v1/centers/${C}/door/list`, { token }), api("GET", `/api/v1/centers/${C}/door/visitors`, { token })]);
  setUpDialog();
  await refresh();
  setInterval(() => refresh().catch(showError), 30000);
}

start().catch(showError);
