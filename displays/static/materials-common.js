// What the assistant's and the clerk's materials panels share: the words for an item, a scan's state
// and a package's step, and the API paths (docs/materials.md).

import { bi, h, timeText } from "./i18n.js";

export const SCAN_STATE = {
  pending: ["待审核", "Awaiting review"],
  accepted: ["已通过", "Accepted"],
  rejected: ["已退回", "Rejected"],
};

export const STEP = {
  packed: ["已打包", "Packed"],
  sent: ["已寄出", "Sent"],
  received: ["中心已签收", "Received at the center"],
  returned: ["已退还居民", "Returned to the resident"],
};

export const ACCEPT = "image/jpeg,image/png,image/webp,application/pdf";

export const checklistPath = (ticketId) => `/api/v1/tickets/${encodeURIComponent(ticketId)}/materials`;

// "原件 ×2 · 需送中心" / "original ×2 · goes to the center"
export function itemNeeds(item) {
  const form = item.form === "original" ? ["原件", "original"] : ["复印件", "copy"];
  const travel = item.to_center ? [" · 原件需送中心", " · original goes to the center"] : ["", ""];
  return bi(`${form[0]} ×${item.copies}${travel[0]}`, `${form[1]} ×${item.copies}${travel[1]}`, "needs");
}

export function itemName(item) {
  return bi(`${item.item}. ${item.name_zh}`, item.name_en, "stack name");
}

export const lastScan = (item) => item.scans[item.scans.length - 1] || null;

export function scanState(scan) {
  if (!scan) return h("span", { class: "tag scan-none" }, bi("未上传", "Not scanned"));
  const [zh, en] = SCAN_STATE[scan.state] || [scan.state, scan.state];
  return h("span", { class: `tag scan-${scan.state}`, dataset: { scan: scan.id } }, bi(zh, en));
}

// The scan itself: a picture inline, a PDF as a link; both by the signed link, good for minutes.
export function scanPreview(scan) {
  if (!scan?.url) return null;
  if (scan.media_type === "application/pdf") {
    return h("a", { class: "scan-file", href: scan.url, target: "_blank", rel: "noopener noreferrer" }, bi("打开 PDF", "Open PDF"));
  }
  return h("img", { class: "scan-file", src: scan.url, alt: "扫描件 Scan", dataset: { scan: scan.id } });
}

export function stepsText(pkg) {
  return pkg.steps.map((s) => {
    const [zh, en] = STEP[s.step] || [s.step, s.step];
    return h("li", { class: `step ${s.step}` }, bi(`${zh} ${timeText(s.at)}`, en));
  });
}

/** One request at a time from a panel: `act(call)` runs it unless one is under way (then null), renders
 * before and after so its buttons, disabled while `pending()`, follow, and shows its error through `flash`
 * (null on success). Gives the call's result, or null when it failed. */
export function oneAtATime(render, flash) {
  let busy = false;
  return {
    pending: () => busy,
    async act(call) {
      if (busy) return null;
      busy = true;
      render();
      try {
        const res = await call();
        flash(null);
        return res;
      } catch (err) {
        flash(err);
        return null;
      } finally {
        busy = false;
        render();
      }
    },
  };
}
