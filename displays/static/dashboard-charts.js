// The dashboard's charts: today's issued vs served per 15 minutes and the wait-time distribution as
// plain inline SVG drawn at the container's own pixel width (so text keeps its size on a wall screen
// and on a tablet), the ratings as bars of HTML. Each function replaces a container's chart.

import { bi, h } from "./i18n.js";

const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// A round step for an axis up to `max` with about `n` ticks.
function niceStep(max, n = 4) {
  if (max <= n) return 1;
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

function svgFrame(cls, width, height, label) {
  return s("svg", { class: `chart-svg ${cls}`, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label,
    preserveAspectRatio: "xMidYMid meet" });
}

function yAxis(svg, box, max, step) {
  for (let v = 0; v <= max; v += step) {
    const y = box.bottom - (v / max) * (box.bottom - box.top);
    svg.append(s("line", { class: "grid", x1: box.left, x2: box.right, y1: y, y2: y }));
    svg.append(s("text", { class: "tick", x: box.left - 8, y: y + 5, "text-anchor": "end" }, v));
  }
}

function hhmm(minutes) {
  const h = Math.floor(minutes / 60) % 24;
  const m = minutes % 60;
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`;
}

// The buckets worth showing: opening hours (8:00-17:00) widened to wherever there is data.
function span(issued, served, bucketMin) {
  const perHour = 60 / bucketMin;
  let from = 8 * perHour;
  let to = 17 * perHour;
  issued.forEach((n, i) => { if (n || served[i]) { from = Math.min(from, i); to = Math.max(to, i + 1); } });
  from = Math.max(0, Math.floor(from / perHour) * perHour);
  to = Math.min(issued.length, Math.ceil(to / perHour) * perHour);
  return [from, to];
}

// Bars: tickets issued per bucket; line: tickets finished per bucket.
export function curveChart(container, curve, nowBucket = null) {
  const W = Math.max(360, Math.round(container.clientWidth || 1000));
  const H = Math.round(Math.min(270, Math.max(210, W * 0.3)));
  const box = { left: 48, right: W - 12, top: 16, bottom: H - 36 };
  const bucketMin = Math.round((curve.bucket_s || 900) / 60);
  const issued = curve.issued || [];
  const served = curve.served || [];
  const [from, to] = span(issued, served, bucketMin);
  const n = Math.max(1, to - from);
  const peak = Math.max(1, ...issued.slice(from, to), ...served.slice(from, to));
  const step = niceStep(peak);
  const max = Math.ceil(peak / step) * step;
  const svg = svgFrame("chart-curve", W, H, "issued vs served per 15 minutes");
  yAxis(svg, box, max, step);
  const slot = (box.right - box.left) / n;
  const y = (v) => box.bottom - (v / max) * (box.bottom - box.top);
  if (nowBucket !== null && nowBucket >= from && nowBucket < to) {
    const x = box.left + (nowBucket - from + 0.5) * slot;
    svg.append(s("line", { class: "now-line", x1: x, x2: x, y1: box.top, y2: box.bottom }));
  }
  const points = [];
  const labelEvery = 60 * Math.max(1, Math.ceil(52 / (slot * (60 / bucketMin))));   // minutes between time labels
  for (let i = from; i < to; i += 1) {
    const x = box.left + (i - from) * slot;
    const v = issued[i] || 0;
    const t = `${hhmm(i * bucketMin)}–${hhmm((i + 1) * bucketMin)}  取号 issued ${v} · 办结 served ${served[i] || 0}`;
    svg.append(s("rect", { class: "bar issued", x: x + slot * 0.12, width: slot * 0.76, y: y(v), height: box.bottom - y(v),
      "data-bucket": i, "data-count": v, rx: 2 }, s("title", {}, t)));
    points.push(`${(x + slot / 2).toFixed(1)},${y(served[i] || 0).toFixed(1)}`);
    if ((i * bucketMin) % labelEvery === 0) {
      svg.append(s("text", { class: "tick", x, y: box.bottom + 22, "text-anchor": "middle" }, hhmm(i * bucketMin)));
    }
  }
  svg.append(s("polyline", { class: "line-served", points: points.join(" ") }));
  points.forEach((p, k) => {
    const [cx, cy] = p.split(",");
    svg.append(s("circle", { class: "dot-served", cx, cy, r: 3.2, "data-count": served[from + k] || 0 }));
  });
  svg.append(s("line", { class: "axis", x1: box.left, x2: box.right, y1: box.bottom, y2: box.bottom }));
  container.replaceChildren(svg, legend([["issued", "取号", "Issued"], ["served", "办结", "Served"]]));
}

function legend(items) {
  return h("div", { class: "chart-legend" }, items.map(([cls, zh, en]) => h("span", { class: `key ${cls}` }, h("i"), bi(zh, en))));
}

// Bars per wait bin; bins within the service-level target are green, beyond it amber to red.
export function histogramChart(container, hist, targetS) {
  const W = Math.max(320, Math.round(container.clientWidth || 760));
  const H = Math.round(Math.min(270, Math.max(220, W * 0.42)));
  const box = { left: 44, right: W - 10, top: 26, bottom: H - 40 };
  const edges = hist.edges_min || [];
  const counts = hist.counts || [];
  const peak = Math.max(1, ...counts);
  const step = niceStep(peak);
  const max = Math.ceil(peak / step) * step;
  const svg = svgFrame("chart-hist", W, H, "wait-time distribution");
  yAxis(svg, box, max, step);
  const slot = (box.right - box.left) / Math.max(1, counts.length);
  const targetMin = (targetS || 900) / 60;
  counts.forEach((v, i) => {
    const lo = edges[i];
    const hi = edges[i + 1];
    const x = box.left + i * slot;
    const top = box.bottom - (v / max) * (box.bottom - box.top);
    const level = hi !== undefined && hi <= targetMin ? "ok" : lo < targetMin * 2 ? "warn" : "bad";
    const label = hi === undefined ? `${lo}+` : slot < 48 ? String(lo) : `${lo}–${hi}`;
    svg.append(s("rect", { class: `bar ${level}`, x: x + slot * 0.1, width: slot * 0.8, y: top, height: box.bottom - top,
      rx: 3, "data-bin": i, "data-count": v }, s("title", {}, `${label} min: ${v}`)));
    if (v) svg.append(s("text", { class: "value", x: x + slot / 2, y: top - 6, "text-anchor": "middle" }, v));
    svg.append(s("text", { class: "tick", x: x + slot / 2, y: box.bottom + 20, "text-anchor": "middle" }, label));
  });
  svg.append(s("text", { class: "unit", x: box.right, y: H - 4, "text-anchor": "end" }, "min"));
  svg.append(s("line", { class: "axis", x1: box.left, x2: box.right, y1: box.bottom, y2: box.bottom }));
  container.replaceChildren(svg, legend([["ok", `目标内 ≤${targetMin} 分钟`, `within ${targetMin} min`],
    ["warn", "超出目标", "over target"], ["bad", "超出两倍", "over twice"]]));
}

export const LEVELS = [
  [5, "非常满意", "Very satisfied"], [4, "满意", "Satisfied"], [3, "基本满意", "Basically satisfied"],
  [2, "不满意", "Dissatisfied"], [1, "非常不满意", "Very dissatisfied"],
];

// One bar per level, 5 at the top, as HTML so it stays crisp in a narrow panel.
export function ratingsChart(container, ratings) {
  const levels = ratings.levels || {};
  const peak = Math.max(1, ...LEVELS.map(([n]) => levels[n] || 0));
  const rows = LEVELS.map(([n, zh, en]) => {
    const v = levels[n] || 0;
    const bar = h("span", { class: `bar ${n >= 4 ? "good" : n === 3 ? "fair" : "bad"}`, dataset: { level: String(n), count: String(v) } });
    bar.style.width = `${(v / peak) * 100}%`;
    return h("div", { class: "rating-row" }, bi(zh, en, "stack rating-label"), h("span", { class: "track" }, bar),
      h("span", { class: "value" }, v));
  });
  container.replaceChildren(h("div", { class: "ratings-bars" }, rows));
}
