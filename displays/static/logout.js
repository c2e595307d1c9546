// 退出 Log out, on pages a person reaches by logging in (the staff console, the admin page): shown
// only when the page's token is a login, which it ends on every server before going back to /login.
// A device's or a hand-made token shows nothing: there is no one to log out.
import { api } from "./api.js";
import { bi, h } from "./i18n.js";

export async function offerLogout(token, where) {
  if (!token) return null;
  let me;
  try {
    me = (await api("GET", "/api/v1/me", { token })).data;
  } catch {
    return null;
  }
  if (!me.user) return me;
  const button = h("button", { type: "button", class: "btn logout", id: "logout" }, bi("退出", "Log out"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("POST", "/api/v1/logout", { token });
    } catch { /* ended already: back to the log-in all the same */ }
    try { localStorage.removeItem(`qs.token:${location.pathname}`); } catch { /* private mode */ }
    location.assign("/login");
  });
  where.append(button);
  return me;
}
