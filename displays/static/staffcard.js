// The staff-on-duty card shared by the window screen and the review tablet.

import { bi, initials, WINDOW_STATE } from "./i18n.js";

export function renderStaff(win, els) {
  const present = win && win.state !== "closed" && win.staff_name;
  els.card.classList.toggle("vacant", !present);
  els.avatar.replaceChildren();
  if (present && win.staff_photo) {
    const img = new Image();
    img.alt = win.staff_name;
    img.src = win.staff_photo;
    img.onerror = () => els.avatar.replaceChildren(initials(win.staff_name));
    els.avatar.append(img);
  } else {
    els.avatar.textContent = present ? initials(win.staff_name) : "—";
  }
  els.name.textContent = present ? win.staff_name : "";
  if (!present) els.name.replaceChildren(bi("暂无工作人员", "No staff on duty", "stack"));
  els.no.replaceChildren(present && win.staff_no ? bi(`工号 ${win.staff_no}`, `Staff No. ${win.staff_no}`) : "");
  const st = win?.state || "closed";
  const [zh, en] = WINDOW_STATE[st] || [st, st];
  els.state.className = `state ${st}`;
  els.state.replaceChildren(bi(zh, en));
}
