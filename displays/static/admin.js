// Accounts and tokens (the admin, or a center's manager for their center): accounts with unlock and
// disable, a form for a new one; every valid token with rotate and revoke, and for a device an
// enrollment code. Secrets (a rotated token, a code) are shown once, in the notice.
import { api, pageToken, ApiError } from "./api.js";
import { bi, h } from "./i18n.js";
import { offerLogout } from "./logout.js";

const token = pageToken();
const error = document.getElementById("error");
const notice = document.getElementById("notice");
const ROLES = {
  clerk: ["窗口人员", "Clerk"], staff: ["窗口人员", "Clerk"], manager: ["中心主任", "Manager"],
  admin: ["区管理员", "Admin"], auditor: ["审计", "Auditor"], device: ["设备", "Device"],
  assistant: ["帮办员", "Assistant"],
};
let me = null;
// "2027-12-02 03:18", Shanghai time: a device token lives a year, so the year is shown
const WHEN = new Intl.DateTimeFormat("sv-SE", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
  day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const when = (iso) => WHEN.format(new Date(iso));

function fail(err) {
  error.replaceChildren(err instanceof ApiError ? err.message : String(err));
  error.hidden = false;
}

function show(zh, en, secret = "") {
  error.hidden = true;
  document.getElementById("notice-text").replaceChildren(bi(zh, en));
  document.getElementById("secret").textContent = secret;
  notice.hidden = false;
}

async function call(method, path, body) {
  return api(method, path, { token, body });
}

function role(code) {
  const [zh, en] = ROLES[code] || [code, code];
  return bi(zh, en);
}

function place(center, window) {
  return [center || "全区 District", window ? ` / ${window}` : ""].join("");
}

function button(zh, en, onclick, cls = "") {
  return h("button", { type: "button", class: `btn ${cls}`.trim(), onclick }, bi(zh, en));
}

async function act(work) {
  try {
    await work();
    await load();
  } catch (err) {
    fail(err);
  }
}

function userRow(u) {
  const locked = u.locked_until && Date.parse(u.locked_until) > Date.now();
  const state = u.disabled ? bi("已停用", "Disabled") : locked ? h("span", { class: "locked" }, bi("已锁定", "Locked"))
    : bi("正常", "Active");
  const actions = h("div", { class: "actions" });
  if (locked) actions.append(button("解锁", "Unlock", () => act(async () => {
    await call("POST", `/api/v1/users/${encodeURIComponent(u.username)}/unlock`);
    show("已解锁", `Unlocked ${u.username}`);
  })));
  if (!u.disabled) actions.append(button("停用", "Disable", () => act(async () => {
    await call("POST", `/api/v1/users/${encodeURIComponent(u.username)}/disable`);
    show("已停用，其登录已失效", `Disabled ${u.username}; their logins ended`);
  })));
  return h("tr", { dataset: { user: u.username } },
    h("td", {}, u.display_name, h("div", { class: "sub" }, u.username)),
    h("td", {}, role(u.role)), h("td", {}, place(u.center, u.window)), h("td", { class: "state" }, state),
    h("td", {}, actions));
}

function tokenRow(t) {
  const actions = h("div", { class: "actions" },
    button("轮换", "Rotate", () => act(async () => {
      const { data } = await call("POST", `/api/v1/tokens/${t.id}/rotate`);
      show("新令牌（仅显示一次）：", "New token (shown once):", data.token);
    })),
    button("撤销", "Revoke", () => act(async () => {
      await call("POST", `/api/v1/tokens/${t.id}/revoke`);
      show("已撤销，各服务器即时生效", "Revoked on every server");
    }), "revoke"));
  if (t.device) actions.append(button("注册码", "Enroll code", () => act(async () => {
    const { data } = await call("POST", `/api/v1/devices/${encodeURIComponent(t.device)}/enrollment`);
    show(`设备注册码（${when(data.expires_at)} 前有效，仅一次）：`,
      `Enrollment code (single use, valid until ${when(data.expires_at)}):`, data.code);
  })));
  return h("tr", { dataset: { token: t.id } },
    h("td", {}, t.label || t.user || t.device_kind || "—", h("div", { class: "sub" }, t.user || t.device || "")),
    h("td", {}, role(t.role)), h("td", {}, place(t.center, t.window || t.point)),
    h("td", { class: "when" }, when(t.expires_at)), h("td", {}, actions));
}

async function load() {
  const [users, tokens] = await Promise.all([call("GET", "/api/v1/users"), call("GET", "/api/v1/tokens")]);
  document.getElementById("users").replaceChildren(...users.data.users.map(userRow));
  document.getElementById("tokens").replaceChildren(...tokens.data.tokens.map(tokenRow));
}

document.getElementById("user-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const f = event.target;
  const body = { username: f.username.value.trim(), display_name: f.display_name.value.trim(), role: f.role.value,
    password: f.password.value };
  const center = f.center.value.trim() || (me && me.center);
  if (center) body.center = center;
  if (f.window.value.trim()) body.window = f.window.value.trim();
  act(async () => {
    await call("POST", "/api/v1/users", body);
    f.reset();
    show("账户已创建", `Account ${body.username} created`);
  });
});

(async () => {
  if (!token) {
    location.assign("/login");
    return;
  }
  try {
    me = await offerLogout(token, document.querySelector(".topbar"));
    if (!me) throw new ApiError(401, "Unauthorized", "");
    document.getElementById("who").replaceChildren(role(me.role), " ", me.user || me.label || "", " · ",
      place(me.center, me.window));
    if (me.center) document.querySelector("#user-form [name=center]").value = me.center;
    await load();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) location.assign("/login");
    else fail(err);
  }
})();
