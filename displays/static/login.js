// Log-in: username and password for a login token, then on to the page the account's role leads to
// (a clerk's staff console, the dashboard, the admin page) with the token, which that page keeps.
// Plain fetch, not api.js: a refusal (wrong password, locked, too many tries) is said at once, not retried.

const form = document.getElementById("login-form");
const error = document.getElementById("error");

const REFUSALS = {
  401: ["用户名或密码错误", "Wrong username or password"],
  422: ["用户名或密码错误", "Wrong username or password"],
  423: ["账户已锁定，请稍后再试或联系中心主任", "Account locked — try later or ask your center manager"],
  429: ["尝试次数过多，请稍候再试", "Too many attempts — please wait a minute"],
};

function say(zh, en) {
  const span = document.createElement("span");
  span.className = "en";
  span.textContent = en;
  error.replaceChildren(zh + " ", span);
  error.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const button = document.getElementById("sign-in");
  button.disabled = true;
  try {
    const res = await fetch("/api/v1/login", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ username: form.username.value.trim().toLowerCase(), password: form.password.value }),
    });
    if (!res.ok) {
      const [zh, en] = REFUSALS[res.status] || ["暂时无法登录，请稍后再试", "Cannot log in right now — try again shortly"];
      say(zh, en);
      form.password.value = "";
      return;
    }
    const done = await res.json();
    if (!done.home) {
      say("该账户未分配窗口，请联系中心主任", "This account has no window — ask your center manager");
      return;
    }
    const sep = done.home.includes("?") ? "&" : "?";
    location.assign(`${done.home}${sep}token=${encodeURIComponent(done.token)}`);
  } catch {
    say("无法连接服务器", "Cannot reach the server");
  } finally {
    button.disabled = false;
  }
});
