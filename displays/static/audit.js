// The audit log page: filters, the newest entries first, older ones on demand, and the same
// selection as CSV. Times come from the server already in Shanghai time.
import { api, ApiError, pageToken } from "./api.js";

const token = pageToken();
const form = document.getElementById("filters");
const rows = document.getElementById("rows");
const more = document.getElementById("more");
const empty = document.getElementById("empty");
const errorBox = document.getElementById("error");
let cursor = null;

function filters() {
  const out = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (String(value).trim()) out.set(name, String(value).trim());
  }
  return out;
}

function showError(err) {
  errorBox.textContent = err instanceof ApiError ? err.message : "出错了 Something went wrong";
  errorBox.hidden = false;
}

function cell(...parts) {
  const td = document.createElement("td");
  parts.forEach((text, i) => {
    if (i > 0) td.append(document.createElement("br"));
    const span = document.createElement("span");
    if (i > 0) span.className = "sub";
    span.textContent = text ?? "";
    td.append(span);
  });
  return td;
}

function outcomeCell(code) {
  const td = document.createElement("td");
  const pill = document.createElement("span");
  const kind = code < 400 ? "ok" : code < 500 ? "refused" : "failed";
  pill.className = `outcome ${kind}`;
  pill.textContent = `${{ ok: "成功 Done", refused: "拒绝 Refused", failed: "失败 Failed" }[kind]} ${code}`;
  td.append(pill);
  return td;
}

function row(e) {
  const tr = document.createElement("tr");
  tr.dataset.id = String(e.id);
  const when = cell(e.at_local);
  when.className = "when";
  const target = Object.entries(e.target).map(([k, v]) => `${k}=${v}`).join(" ");
  tr.append(when, cell(e.actor, `${e.role}${e.credential ? ` · ${e.credential}` : ""}`),
    cell(e.center ?? "—", e.window ?? ""), cell(e.action), cell(target),
    outcomeCell(e.outcome), cell(e.address ?? "", e.user_agent ?? ""));
  return tr;
}

async function load(fresh) {
  errorBox.hidden = true;
  const params = filters();
  if (!fresh && cursor) params.set("cursor", cursor);
  try {
    const { data } = await api("GET", `/api/v1/audit?${params}`, { token });
    if (fresh) rows.replaceChildren();
    rows.append(...data.entries.map(row));
    cursor = data.next_cursor;
    more.hidden = !cursor;
    empty.hidden = rows.children.length > 0;
    document.body.dataset.loaded = "true";
  } catch (err) {
    showError(err);
  }
}

async function exportCsv() {
  errorBox.hidden = true;
  try {
    const res = await fetch(`/api/v1/audit.csv?${filters()}`, { headers: { Authorization: `Bearer ${token}` } });
    if (!res.ok) throw new ApiError(res.status, res.statusText, `导出失败 Export failed (${res.status})`);
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = "audit.csv";
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    showError(err);
  }
}

form.addEventListener("submit", (ev) => { ev.preventDefault(); load(true); });
more.addEventListener("click", () => load(false));
document.getElementById("export").addEventListener("click", exportCsv);
load(true);
