// "附近办理 Nearby centers": for a whole-city matter, the best few centers open now by predicted wait
// plus the walk from a position (GET /api/v1/recommend, docs/recommend.md); the page's own center
// is marked. Shows nothing for a matter handled only at one's own center, or when it cannot load.

import { api } from "./api.js";
import { bi, h, waitText } from "./i18n.js";

export async function renderNearby(container, { matter, lat, lng, here, limit = 3 }) {
  container.hidden = true;
  if (!matter || lat === null || lat === undefined || lng === null || lng === undefined) return;
  let data;
  try {
    data = (await api("GET", `/api/v1/recommend?matter=${encodeURIComponent(matter)}&lat=${lat}&lng=${lng}`)).data;
  } catch {
    return;
  }
  if (!data.whole_city || data.centers.length < 2) return;
  const rows = data.centers.slice(0, limit).map((c) => {
    const [wz, we] = waitText(c.predicted_wait_s);
    const walk = Math.max(1, Math.round(c.walk_s / 60));
    return h("li", { class: c.center === here ? "here" : "", dataset: { center: c.center } },
      h("span", { class: "name" }, bi(c.name_zh, c.name_en, "stack")),
      c.center === here ? h("span", { class: "tag" }, bi("本中心", "This center")) : null,
      h("span", { class: "fig" }, bi(`等候 ${wz}`, `wait ${we}`, "stack")),
      h("span", { class: "fig" }, bi(`步行约 ${walk} 分钟`, `${walk} min walk`, "stack")));
  });
  container.replaceChildren(
    h("h3", {}, bi("附近办理 · 全市通办", "Nearby centers · any center can handle this")),
    h("ol", { class: "nearby-list" }, rows));
  container.hidden = false;
}
