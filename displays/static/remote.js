// Take a ticket from home: a center and a matter, a mobile number confirmed by an SMS code, then the
// ticket's status page (its link carries the status token that lets the resident cancel).
// POST /api/v1/residents/codes, POST /api/v1/residents/tickets (residents/api.py). A whole-city matter
// may rank the centers by the phone's position (GET /api/v1/recommend).

import { api, query } from "./api.js";
import { bi, h } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const PHONE = /^(\+?86)?1[3-9]\d{9}$/;
let matters = [];

function showError(zh, en) {
  $("error").replaceChildren(bi(zh, en, "stack"));
  $("error").hidden = false;
}

// One POST without the quiet retries of api(): a refusal (429 included) is the resident's to read.
async function post(path, body) {
  const res = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body) });
  const data = await res.json().catch(() => null);
  return { status: res.status, data };
}

function option(value, zh, en) {
  return h("option", { value }, `${zh} ${en}`);
}

async function loadMatters(keep) {
  const center = $("center").value;
  matters = (await api("GET", `/api/v1/matters?center=${encodeURIComponent(center)}`)).data.matters;
  $("matter").replaceChildren(...matters.map((m) => option(m.code, m.name_zh, m.name_en)));
  const wanted = typeof keep === "string" ? keep : query("matter");
  if (wanted && matters.some((m) => m.code === wanted)) $("matter").value = wanted;
  recommend();
}

// A whole-city matter can be handled at any center: on request, the phone's position and
// GET /api/v1/recommend rank the centers open now by predicted wait plus walking time.
function recommend() {
  const box = $("recommend");
  const m = matters.find((x) => x.code === $("matter").value);
  box.hidden = !m?.whole_city || !navigator.geolocation;
  box.replaceChildren(h("button", { class: "btn ghost", type: "button", id: "suggest", onclick: suggest },
    bi("全市通办：按我的位置推荐中心", "Any center can do this: suggest by my location")));
}

function suggest() {
  navigator.geolocation.getCurrentPosition(async (where) => {
    const { latitude: lat, longitude: lng } = where.coords;
    let ranked;
    try {
      const q = new URLSearchParams({ matter: $("matter").value, lat, lng });
      ranked = (await api("GET", `/api/v1/recommend?${q}`)).data.centers.slice(0, 3);
    } catch (err) {
      return showError("暂时无法推荐", err.message);
    }
    const matter = $("matter").value;
    $("recommend").replaceChildren(bi("推荐中心（等候 + 步行）", "Suggested (wait + walk)", "stack"),
      ...ranked.map((c) => h("button", { class: "btn ghost pick", type: "button",
        onclick: async () => { $("center").value = c.center; await loadMatters(matter); } },
      bi(`${c.name_zh} 约${Math.round(c.predicted_wait_s / 60)}分钟 + 步行${Math.round(c.walk_s / 60)}分钟`,
        `${c.name_en}: ~${Math.round(c.predicted_wait_s / 60)} min wait + ${Math.round(c.walk_s / 60)} min walk`, "stack"))));
  }, () => showError("无法获取位置", "Location unavailable: choose a center yourself"), { timeout: 10000 });
}

async function sendCode() {
  $("error").hidden = true;
  const phone = $("phone").value.replace(/[\s-]/g, "");
  if (!PHONE.test(phone)) return showError("请输入正确的手机号码", "Enter a mainland mobile number");
  $("send").disabled = true;
  const { status, data } = await post("/api/v1/residents/codes", { center: $("center").value, phone });
  if (status === 202) {
    $("sent").replaceChildren(bi(`验证码已发送至 ${data.phone_masked}，${Math.round(data.expires_in_s / 60)}分钟内有效`,
      `Code sent to ${data.phone_masked}, valid ${Math.round(data.expires_in_s / 60)} min`));
    $("sent").hidden = false;
    setTimeout(() => { $("send").disabled = false; }, data.resend_after_s * 1000);
    $("code").focus();
    return;
  }
  $("send").disabled = false;
  if (status === 429) return showError("请求过于频繁，请稍后再试", `Too many codes; retry in ${data?.retry_after_s ?? 60} s`);
  showError("验证码发送失败", data?.detail || `HTTP ${status}`);
}

async function take() {
  $("error").hidden = true;
  const phone = $("phone").value.replace(/[\s-]/g, "");
  const code = $("code").value.trim();
  if (!/^\d{6}$/.test(code)) return showError("请输入6位验证码", "Enter the 6-digit code");
  $("take").disabled = true;
  const { status, data } = await post("/api/v1/residents/tickets",
    { center: $("center").value, matter: $("matter").value, phone, code });
  $("take").disabled = false;
  if (status === 201) {
    location.assign(`/status/${encodeURIComponent(data.id)}#token=${encodeURIComponent(data.status_token)}`);
    return;
  }
  const why = {
    code_wrong: ["验证码不正确", `Wrong code (${data?.attempts_left} tries left)`],
    code_dead: ["错误次数过多，请重新获取验证码", "Too many wrong codes; ask for a new one"],
    code_invalid: ["验证码已失效，请重新获取", "The code expired or was used; ask for a new one"],
    remote_ticket_live: ["该号码在本中心已有远程号", "This number already has a remote ticket here"],
    closed: ["中心当前未开放", data?.next_opening ? `Closed now; opens ${data.next_opening}` : "Closed now"],
  }[data?.code];
  if (why) return showError(...why);
  showError("取号失败", data?.detail || `HTTP ${status}`);
}

async function main() {
  try {
    const centers = (await api("GET", "/api/v1/centers")).data.centers;
    $("center").replaceChildren(...centers.map((c) => option(c.code, c.name_zh, c.name_en)));
    const wanted = query("center");
    if (wanted && centers.some((c) => c.code === wanted)) $("center").value = wanted;
    await loadMatters();
  } catch (err) {
    showError("暂时无法加载中心列表", err.message);
  }
  $("center").addEventListener("change", () => loadMatters());
  $("matter").addEventListener("change", recommend);
  $("send").addEventListener("click", sendCode);
  $("take").addEventListener("click", take);
}

main();
