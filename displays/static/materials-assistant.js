// The assistant's materials panel (docs/materials.md): for the point's ticket at a remote window now,
// its checklist; each item is photographed or scanned (a file input with `capture`, the tablet's camera
// or the document camera) and uploaded; the clerk's decision shows live, with the reason of a rejection.
// The originals that must reach the center are packed here (with a receipt for the resident, 80 mm,
// whose QR opens the ticket's status page), sent, and returned to the resident once the center has
// them. assistant.js passes on its live socket's messages as "live:snapshot" / "live:event".

import { api, pageToken } from "./api.js";
import { bi, dayTimeText, h, showProblem } from "./i18n.js";
import { ACCEPT, STEP, checklistPath, itemName, itemNeeds, lastScan, oneAtATime, scanPreview, scanState, stepsText } from "./materials-common.js";

const [, , pointRaw] = location.pathname.split("/");
const pointId = decodeURIComponent(pointRaw);
const pointBase = `/api/v1/points/${encodeURIComponent(pointId)}`;
const token = pageToken();
const AT_WINDOW = new Set(["called", "serving", "paused"]);
const PACKAGES_REFRESH_MS = 60_000;   // the center's receiving is no event of the point's socket
const $ = (id) => document.getElementById(id);

const tickets = new Map();       // the point's tickets at a window now
let shownId = null;              // the ticket whose checklist is shown
let checklist = null;
let packages = [];
const requests = oneAtATime(() => render(), (err) => flash(err));

function flash(err) {
  showProblem($("materials-error"), err);
}

function track(t) {
  if (!t?.id) return;
  if (AT_WINDOW.has(t.status)) tickets.set(t.id, t); else tickets.delete(t.id);
}

// The ticket called most recently is the one the clerk is on.
function current() {
  return [...tickets.values()].sort((a, b) => (b.called_at || 0) - (a.called_at || 0))[0] || null;
}

async function load() {
  const t = current();
  shownId = t?.id || null;
  if (!shownId) { checklist = null; render(); return; }
  try {
    checklist = (await api("GET", checklistPath(shownId), { token })).data;
    flash(null);
  } catch (err) {
    flash(err);
  }
  render();
}

async function loadPackages() {
  try {
    packages = (await api("GET", `${pointBase}/packages`, { token })).data.packages;
  } catch (err) {
    flash(err);
  }
  renderPackages();
}


async function upload(item, file) {
  if (!file) return;
  const path = `${pointBase}/tickets/${encodeURIComponent(shownId)}/materials/${item.item}`;
  if (await requests.act(() => api("POST", path, { body: file, token }))) await load();
}

function itemRow(item) {
  const scan = lastScan(item);
  const input = h("input", { type: "file", accept: ACCEPT, capture: "environment", class: "scan-input",
    dataset: { item: item.item }, disabled: requests.pending(), onchange: (e) => upload(item, e.target.files[0]) });
  const label = scan && scan.state !== "rejected" ? ["重新拍摄", "Scan again"] : ["拍摄/扫描", "Photo / scan"];
  return h("li", { class: `material ${scan?.state || "none"}`, dataset: { item: item.item } },
    h("div", { class: "what" }, itemName(item), itemNeeds(item)),
    h("label", { class: "btn scan-pick" }, bi(...label, "stack"), input),
    h("div", { class: "scan" }, scanPreview(scan), scanState(scan),
      scan?.state === "rejected" ? h("div", { class: "reason" }, bi(`退回原因：${scan.reason}`, "Reason given by the clerk")) : null));
}

function render() {
  const panel = $("materials");
  const desk = document.querySelector(".desk");
  panel.hidden = !checklist;
  desk.classList.toggle("materials-open", Boolean(checklist));
  if (!checklist) return;
  const t = tickets.get(checklist.ticket_id);
  $("materials-title").replaceChildren(bi(`${t?.number || ""} 材料清单`, `Materials — ${checklist.matter_en}`));
  $("materials-list").replaceChildren(...checklist.items.map(itemRow));
  const travels = checklist.items.some((i) => i.to_center);
  const pkg = checklist.package;
  $("materials-package").replaceChildren(
    !travels ? bi("本事项原件无需送中心", "No original travels to the center for this matter")
      : pkg ? h("div", { class: "package-state" }, bi(...STEP[pkg.state], "stack"),
        h("button", { type: "button", class: "btn", onclick: () => showReceipt(checklist, t) }, bi("打印回执", "Print receipt", "stack")))
        : h("button", { type: "button", class: "btn primary", id: "pack", disabled: requests.pending(), onclick: pack },
          bi("打包原件并打印回执", "Pack the originals, print a receipt", "stack")));
}

function renderPackages() {
  const list = $("packages");
  list.replaceChildren(...packages.map((p) => h("li", { class: `package ${p.state}`, dataset: { package: p.id } },
    h("span", { class: "ticket" }, p.ticket_id.split("-").pop()),
    h("ul", { class: "steps" }, stepsText(p)),
    p.state === "packed" ? h("button", { type: "button", class: "btn", onclick: () => step(p, "sent") }, bi("寄出", "Send", "stack")) : null,
    p.state === "received" ? h("button", { type: "button", class: "btn", onclick: () => step(p, "returned") }, bi("已退还居民", "Returned", "stack")) : null,
    p.return_overdue ? h("span", { class: "tag overdue" }, bi("逾期未退还", "Return overdue")) : null)));
  $("packages-box").hidden = packages.length === 0;
}

async function pack() {
  const path = `${pointBase}/tickets/${encodeURIComponent(shownId)}/package`;
  const res = await requests.act(() => api("POST", path, { body: {}, token }));
  if (!res) return;
  await load();
  await loadPackages();
  showReceipt(checklist, tickets.get(checklist.ticket_id));
}

async function step(p, name) {
  if (await requests.act(() => api("POST", `/api/v1/packages/${p.id}/${name}`, { body: {}, token }))) await loadPackages();
}

// The resident's receipt: what the point keeps of theirs, and a QR to follow it on the status page.
function showReceipt(list, t) {
  const pkg = list.package;
  if (!pkg) return;
  $("r-number").textContent = t?.number || list.ticket_id.split("-").pop();
  $("r-matter").replaceChildren(bi(list.matter_zh, list.matter_en));
  $("r-items").replaceChildren(...pkg.items.map((i) => h("li", {}, bi(`${i.name_zh} ×${i.copies}`, i.name_en))));
  $("r-time").textContent = dayTimeText(pkg.steps[0].at);
  $("r-qr").src = `/api/v1/tickets/${encodeURIComponent(list.ticket_id)}/qr.svg`;
  $("receipt-view").hidden = false;
}

document.addEventListener("live:snapshot", (e) => {
  tickets.clear();
  for (const t of e.detail.tickets || []) track(t);
  load();
  loadPackages();
});

document.addEventListener("live:event", (e) => {
  const evt = e.detail;
  const before = current()?.id || null;
  if (evt.ticket) track(evt.ticket);
  if (evt.type?.startsWith("material.") && evt.ticket?.id === shownId) load();
  else if ((current()?.id || null) !== before) load();
});

$("receipt-print").addEventListener("click", () => {
  document.body.classList.add("printing-receipt");
  window.print();
  document.body.classList.remove("printing-receipt");
});
$("receipt-done").addEventListener("click", () => { $("receipt-view").hidden = true; });
$("materials-hide").addEventListener("click", () => { checklist = null; render(); });
setInterval(loadPackages, PACKAGES_REFRESH_MS);
