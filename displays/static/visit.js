// The visiting staff's phone page: their bookings, then the visit record made in the resident's home
// — arrival, the materials collected, accepted or why not, the resident's signature — and the
// resident's rating. A phone in an old building loses its connection: every change is kept on the
// phone at once (localStorage) with the record's own key, so a reload loses nothing, and a record
// that could not be sent is sent when the phone is back online; the server takes a key once, so a
// record sent twice is recorded once.

import { api, pageToken, query, randomKey } from "./api.js";
import { bi, dayTimeText, h } from "./i18n.js";

const [, , centerRaw] = location.pathname.split("/");
const center = decodeURIComponent(centerRaw);
const token = pageToken();
const visitor = query("visitor");
const $ = (id) => document.getElementById(id);
const PREFIX = `qs.door.visit:${center}:`;
const SLOTS = { am: ["上午", "morning"], pm: ["下午", "afternoon"] };
const FORMS = { original: ["原件", "original"], copy: ["复印件", "copy"] };
const RETRY_MS = 10000;

let draft = null;      // the record being made, as kept on the phone
let sending = false;

function showError(zh, en) {
  const box = $("error");
  box.replaceChildren(zh ? bi(zh, en) : "");
  box.hidden = !zh;
}

function keep() {
  if (!draft) return;
  try { localStorage.setItem(PREFIX + draft.case_id, JSON.stringify(draft)); } catch { /* private mode: kept in memory */ }
}

function kept(caseId) {
  try { return JSON.parse(localStorage.getItem(PREFIX + caseId) || "null"); } catch { return null; }
}

function forget(caseId) {
  try { localStorage.removeItem(PREFIX + caseId); } catch { /* nothing kept */ }
}

function allKept() {
  const out = [];
  try {
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (key && key.startsWith(PREFIX)) out.push(JSON.parse(localStorage.getItem(key)));
    }
  } catch { /* nothing kept */ }
  return out.filter(Boolean);
}

function network() {
  $("net").replaceChildren(navigator.onLine ? bi("在线", "Online") : bi("离线", "Offline"));
  $("net").className = navigator.onLine ? "net on" : "net off";
}

// ---- the list of bookings -------------------------------------------------------------------------

async function loadBookings() {
  $("bookings").hidden = false;
  $("visit").hidden = true;
  $("sent").hidden = true;
  if (!visitor) {
    showError("页面地址缺少上门人员（?visitor=）", "The page address lacks the visitor (?visitor=)");
    return;
  }
  const { data } = await api("GET",
    `/api/v1/centers/${encodeURIComponent(center)}/door/visitors/${encodeURIComponent(visitor)}/visits`, { token });
  const open = data.visits.filter((v) => v.recorded_at === null);
  $("booking-list").replaceChildren(...(open.length ? open.map((v) => h("li", {},
    h("button", { type: "button", class: "btn booking", dataset: { case: v.case_id }, onclick: () => openCase(v.case_id) },
      h("span", { class: "when" }, `${v.date} `, bi(...SLOTS[v.slot])),
      h("span", { class: "who" }, v.resident_name),
      h("span", { class: "sub" }, v.address)))) : [h("li", { class: "sub" }, bi("暂无上门安排", "No visits booked"))]));
}

// ---- one visit ------------------------------------------------------------------------------------

async function openCase(caseId) {
  showError();
  history.replaceState(null, "", `${location.pathname}${location.search}#case=${caseId}`);
  draft = kept(caseId);
  if (!draft || !draft.case) {
    const [{ data: found }, { data: list }] = await Promise.all([
      api("GET", `/api/v1/door/cases/${caseId}`, { token }),
      api("GET", `/api/v1/centers/${encodeURIComponent(center)}/door/list`, { token })]);
    const byMatter = Object.fromEntries(list.items.map((i) => [i.matter, i]));
    const materials = [];   // the matters' checklists, each thing once
    for (const m of found.matters) {
      for (const item of byMatter[m.matter]?.materials || []) {
        if (!materials.some((x) => x.name === item.name_zh)) {
          materials.push({ name: item.name_zh, en: item.name_en, form: item.form, copies: item.copies, collected: false });
        }
      }
    }
    draft = {
      case_id: caseId, record_key: randomKey(), pending: false, arrived_at: null, accepted: null, reason: "",
      signature: null, materials,
      case: { resident_name: found.resident_name, address: found.address, phone_masked: found.phone_masked,
        matters: found.matters.map((m) => [byMatter[m.matter]?.name_zh || m.matter, byMatter[m.matter]?.name_en || m.matter]) },
    };
    keep();
  }
  render();
  if (draft.pending) send();
}

function render() {
  $("bookings").hidden = true;
  $("sent").hidden = true;
  $("visit").hidden = false;
  const c = draft.case;
  $("case-no").replaceChildren(bi(`个案 ${draft.case_id}`, `Case ${draft.case_id}`));
  $("resident").textContent = `${c.resident_name} · ${c.phone_masked}`;
  $("address").textContent = c.address;
  $("matters").replaceChildren(...c.matters.map(([zh, en]) => h("div", {}, bi(zh, en))));
  $("arrive").hidden = draft.arrived_at !== null;
  $("arrived").hidden = draft.arrived_at === null;
  if (draft.arrived_at !== null) $("arrived").replaceChildren(bi(`到达 ${dayTimeText(draft.arrived_at)}`, "Arrived"));
  $("materials").replaceChildren(...draft.materials.map((m, i) => h("li", {},
    h("label", {}, h("input", { type: "checkbox", checked: m.collected, dataset: { i }, onchange: (e) => {
      draft.materials[i].collected = e.target.checked;
      keep();
    } }), h("span", { class: "item" }, bi(m.name, m.en || ""),
      m.form ? h("span", { class: "form" }, bi(...FORMS[m.form] || [m.form, m.form]), ` ×${m.copies}`) : null)))));
  $("accept-yes").classList.toggle("selected", draft.accepted === true);
  $("accept-no").classList.toggle("selected", draft.accepted === false);
  $("reason-box").hidden = draft.accepted !== false;
  $("reason").value = draft.reason;
  drawKept();
  $("pending").hidden = !draft.pending;
  $("send").disabled = draft.pending;
}

// ---- the signature ----------------------------------------------------------------------------------

const pad = $("pad");
const ink = pad.getContext("2d");
let drawing = false;

function point(e) {
  const box = pad.getBoundingClientRect();
  return [(e.clientX - box.left) * (pad.width / box.width), (e.clientY - box.top) * (pad.height / box.height)];
}

function clearPad() {
  ink.fillStyle = "#fff";
  ink.fillRect(0, 0, pad.width, pad.height);
}

function drawKept() {
  clearPad();
  if (!draft?.signature) return;
  const img = new Image();
  img.addEventListener("load", () => ink.drawImage(img, 0, 0));
  img.src = draft.signature;
}

pad.addEventListener("pointerdown", (e) => {
  drawing = true;
  pad.setPointerCapture(e.pointerId);
  ink.lineWidth = 5;
  ink.lineCap = "round";
  ink.strokeStyle = "#13233a";
  ink.beginPath();
  ink.moveTo(...point(e));
});
pad.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  ink.lineTo(...point(e));
  ink.stroke();
});
pad.addEventListener("pointerup", () => {
  drawing = false;
  if (!draft) return;
  draft.signature = pad.toDataURL("image/png");
  keep();
});
$("clear-pad").addEventListener("click", () => {
  if (!draft) return;
  draft.signature = null;
  keep();
  clearPad();
});

// ---- the steps --------------------------------------------------------------------------------------

$("arrive").addEventListener("click", () => {
  draft.arrived_at = Date.now();
  keep();
  render();
});
$("accept-yes").addEventListener("click", () => { draft.accepted = true; keep(); render(); });
$("accept-no").addEventListener("click", () => { draft.accepted = false; keep(); render(); });
$("reason").addEventListener("input", (e) => { draft.reason = e.target.value; keep(); });

$("send").addEventListener("click", () => {
  if (draft.arrived_at === null) return showError("请先点“已到达”", "Tap “I have arrived” first");
  if (draft.accepted === null) return showError("请选择受理结果", "Choose the outcome");
  if (draft.accepted === false && !draft.reason.trim()) return showError("请填写未受理原因", "Say why it was not accepted");
  if (!draft.signature) return showError("请居民签名", "The resident signs first");
  draft.pending = true;
  keep();
  render();
  send();
});

// Send the kept record; a network failure leaves it kept and pending for the next try.
async function send(record = draft) {
  if (sending || !record) return;
  sending = true;
  try {
    const body = { record_key: record.record_key, arrived_at: record.arrived_at,
      materials: record.materials.map((m) => ({ name: m.name, collected: m.collected })),
      accepted: record.accepted, reason: record.reason.trim(), signature: record.signature };
    const { data } = await api("POST", `/api/v1/door/cases/${record.case_id}/visit`, { token, body });
    forget(record.case_id);
    if (draft && draft.case_id === record.case_id) showSent(data.case);
  } catch (err) {
    if (err.status === 0 || err.status === 503 || err.status === 429) {
      showError();     // kept on the phone: sent when back online
    } else {
      record.pending = false;
      if (draft && draft.case_id === record.case_id) { keep(); render(); }
      showError(`未能提交：${err.message}`, "Not submitted");
    }
  } finally {
    sending = false;
  }
}

function resendKept() {
  for (const record of allKept()) {
    if (record.pending) send(draft && draft.case_id === record.case_id ? draft : record);
  }
}

// ---- after the visit: the resident's rating -------------------------------------------------------

let scale = null;

async function showSent(found) {
  history.replaceState(null, "", `${location.pathname}${location.search}`);
  $("visit").hidden = true;
  $("sent").hidden = false;
  $("rated").hidden = true;
  const rate = found.visited_at !== null && found.rating === null;
  $("rate").hidden = !rate;
  if (!rate) return;
  scale ||= (await api("GET", "/api/v1/reviews/scale")).data;
  $("levels").replaceChildren(...scale.levels.map((l) => h("button", {
    type: "button", class: `btn level l${l.level}`, dataset: { level: l.level },
    onclick: () => rateVisit(found.id, l.level) }, bi(l.zh, l.en, "stack"))));
}

async function rateVisit(caseId, level) {
  const bad = level <= 2;
  if (bad && !$("levels").querySelector(".reasons")) {
    $("levels").append(h("div", { class: "reasons" }, scale.reasons.map((r) => h("button", {
      type: "button", class: "btn reason", dataset: { reason: r.code },
      onclick: (e) => rate(caseId, level, [e.currentTarget.dataset.reason]) }, bi(r.zh, r.en, "stack")))));
    return;
  }
  if (!bad) await rate(caseId, level, []);
}

async function rate(caseId, level, reasons) {
  try {
    await api("POST", `/api/v1/door/cases/${caseId}/rating`, { token, body: { level, reasons } });
    $("rate").hidden = true;
    $("rated").hidden = false;
  } catch (err) {
    showError(`评价未提交：${err.message}`, "Rating not submitted");
  }
}

$("back").addEventListener("click", () => { draft = null; loadBookings().catch(showLoadError); });

function showLoadError(err) {
  showError(`无法加载：${err.message}`, "Could not load");
}

window.addEventListener("online", () => { network(); resendKept(); });
window.addEventListener("offline", network);
setInterval(resendKept, RETRY_MS);
network();

const opened = /#case=(\d+)/.exec(location.hash);
(opened ? openCase(Number(opened[1])) : loadBookings()).catch(showLoadError);
resendKept();
