// The clerk's materials panel on the staff console (docs/materials.md): the current ticket's checklist
// with each scan the point uploaded, accepted or rejected here with a reason the point's assistant sees
// at once; and the center's packages of originals on their way, received here. Its own column of the
// console; it follows the console's current ticket (#current) and the live events staff.js passes on
// as "live:event".

import { api, pageToken } from "./api.js";
import { bi, h, showProblem } from "./i18n.js";
import { checklistPath, itemName, itemNeeds, lastScan, oneAtATime, scanPreview, scanState, stepsText } from "./materials-common.js";

const [, , centerRaw] = location.pathname.split("/");
const center = decodeURIComponent(centerRaw);
const token = pageToken();
const PACKAGES_REFRESH_MS = 60_000;
const $ = (id) => document.getElementById(id);

let ticketId = null;
let checklist = null;
let packages = [];
const requests = oneAtATime(() => render(), (err) => flash(err));

function flash(err) {
  showProblem($("materials-error"), err);
}

async function load() {
  if (!ticketId) { checklist = null; render(); return; }
  try {
    const data = (await api("GET", checklistPath(ticketId), { token })).data;
    checklist = data.items.length ? data : null;
    flash(null);
  } catch (err) {
    checklist = null;
    flash(err);
  }
  render();
}

async function loadPackages() {
  try {
    packages = (await api("GET", `/api/v1/centers/${encodeURIComponent(center)}/packages`, { token })).data.packages
      .filter((p) => p.state === "sent" || p.return_overdue);
  } catch {
    packages = [];     // a token that may not see them: the panel shows the scans alone
  }
  render();
}


async function review(scan, decision, reason) {
  const body = decision === "rejected" ? { decision, reason } : { decision };
  if (await requests.act(() => api("POST", `/api/v1/materials/scans/${scan.id}/review`, { body, token }))) await load();
}

function reviewControls(scan) {
  if (scan?.state !== "pending") return null;
  const reason = h("input", { class: "reject-reason", maxlength: "200", placeholder: "退回原因 Reason to reject", autocomplete: "off" });
  return h("div", { class: "review" },
    h("button", { type: "button", class: "btn green accept", disabled: requests.pending(), onclick: () => review(scan, "accepted") }, bi("通过", "Accept")),
    reason,
    h("button", { type: "button", class: "btn reject", disabled: requests.pending(), onclick: () => {
      const why = reason.value.trim();
      if (!why) { reason.classList.add("invalid"); reason.focus(); return; }
      review(scan, "rejected", why);
    } }, bi("退回", "Reject")));
}

function itemRow(item) {
  const scan = lastScan(item);
  return h("li", { class: `material ${scan?.state || "none"}`, dataset: { item: item.item } },
    h("div", { class: "what" }, itemName(item), itemNeeds(item)),
    h("div", { class: "scan" }, scanPreview(scan), scanState(scan),
      scan?.state === "rejected" ? h("div", { class: "reason" }, bi(`退回：${scan.reason}`, "Rejected")) : null),
    h("div", { class: "scan" }, reviewControls(scan)));
}

async function receive(p) {
  if (await requests.act(() => api("POST", `/api/v1/packages/${p.id}/received`, { body: {}, token }))) await loadPackages();
}

function render() {
  const panel = $("materials");
  panel.hidden = !checklist && packages.length === 0;
  $("materials-title").replaceChildren(checklist ? bi("材料审核", `Materials — ${checklist.matter_en}`) : bi("原件流转", "Originals"));
  $("materials-list").replaceChildren(...(checklist ? checklist.items.map(itemRow) : []));
  $("materials-packages").replaceChildren(...packages.map((p) => h("li", { class: `package ${p.state}`, dataset: { package: p.id } },
    h("span", { class: "ticket" }, p.ticket_id.split("-").pop()),
    h("ul", { class: "steps" }, stepsText(p)),
    p.state === "sent" ? h("button", { type: "button", class: "btn receive", disabled: requests.pending(), onclick: () => receive(p) }, bi("签收原件", "Receive")) : null,
    p.return_overdue ? h("span", { class: "tag overdue" }, bi("逾期未退还", "Return overdue")) : null)));
}

// The console writes its current ticket's id on #current's number; follow it.
function follow() {
  const now = document.querySelector("#current .number")?.dataset.ticket || null;
  if (now !== ticketId) { ticketId = now; load(); }
}

new MutationObserver(follow).observe($("current"), { childList: true, subtree: true });
document.addEventListener("live:event", (e) => {
  const evt = e.detail;
  if (evt.type?.startsWith("material.") && evt.ticket?.id === ticketId) load();
  if (evt.type?.startsWith("package.")) loadPackages();
});
follow();
loadPackages();
setInterval(loadPackages, PACKAGES_REFRESH_MS);
