// Device enrollment: the one-time code a manager made for this device, exchanged for the device's
// token, then on to the page its kind shows (which keeps the token). A printer opens no page: its
// token is shown once, to be set in the printer.

const form = document.getElementById("enroll-form");
const error = document.getElementById("error");
const done = document.getElementById("done");

function say(node, zh, en, extra) {
  const span = document.createElement("span");
  span.className = "en";
  span.textContent = en;
  node.replaceChildren(zh + " ", span);
  if (extra) node.append(" ", extra);
  node.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const code = form.code.value.replace(/\s+/g, "");
  try {
    const res = await fetch("/api/v1/enroll", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ code }),
    });
    if (res.status === 429) return say(error, "尝试次数过多，请稍候再试", "Too many attempts — please wait a minute");
    if (!res.ok) return say(error, "注册码无效、已使用或已过期", "The code is not valid, used already, or expired");
    const device = await res.json();
    if (device.page) {
      const sep = device.page.includes("?") ? "&" : "?";
      location.assign(`${device.page}${sep}token=${encodeURIComponent(device.token)}`);
      return;
    }
    const token = document.createElement("code");
    token.textContent = device.token;
    form.hidden = true;
    say(done, "已注册，请将此令牌设置到设备中：", "Enrolled — set this token in the device:", token);
  } catch {
    say(error, "无法连接服务器", "Cannot reach the server");
  }
});
