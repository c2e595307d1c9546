// The resident's status page: where the originals the service point kept are (docs/materials.md):
// packed at the point, sent, received at the center, returned. Read again every minute.

import { api } from "./api.js";
import { bi, dayTimeText, h } from "./i18n.js";
import { STEP } from "./materials-common.js";

const ticketId = decodeURIComponent(location.pathname.split("/")[2]);
const REFRESH_MS = 60_000;
const $ = (id) => document.getElementById(id);

async function show() {
  let pkg = null;
  try {
    pkg = (await api("GET", `/api/v1/tickets/${encodeURIComponent(ticketId)}/package`)).data.package;
  } catch {
    return;     // the ticket's own status shows the page's errors; this part waits for the next read
  }
  $("package").hidden = !pkg;
  if (!pkg) return;
  $("package-items").replaceChildren(...pkg.items.map((i) => h("li", {}, bi(`${i.name_zh} ×${i.copies}`, i.name_en))));
  const done = new Map(pkg.steps.map((s) => [s.step, s.at]));
  $("package-steps").replaceChildren(...Object.entries(STEP).map(([step, [zh, en]]) => h("li",
    { class: `step ${step}${done.has(step) ? " done" : ""}` },
    bi(zh, en, "stack"), done.has(step) ? h("span", { class: "at" }, dayTimeText(done.get(step))) : null)));
}

show();
setInterval(show, REFRESH_MS);
