// HTTP to the server: the page's token, JSON in and out, problem+json turned into a readable error.

const params = new URLSearchParams(location.search);
const TOKEN_KEY = `qs.token:${location.pathname}`;

// The device token comes in the page URL once (`?token=`); it is kept per page in localStorage and
// taken out of the address bar so it does not sit on screen or in screenshots.
export function pageToken() {
  const fromUrl = params.get("token");
  if (fromUrl) {
    try { localStorage.setItem(TOKEN_KEY, fromUrl); } catch { /* private mode: keep it in the URL */ return fromUrl; }
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? `?${rest}` : "") + location.hash);
    return fromUrl;
  }
  try { return localStorage.getItem(TOKEN_KEY); } catch { return null; }
}

export function query(name) {
  return params.get(name);
}

export class ApiError extends Error {
  constructor(status, title, detail) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title;
    this.detail = detail;
  }
}

// A random key for one issuing attempt; crypto.randomUUID needs a secure context, kiosks may be on http.
export function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function api(method, path, { body, token, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, "Network error", "无法连接服务器 Cannot reach the server");
  }
  if (res.status === 204) return { status: 204, data: null };
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    throw new ApiError(res.status, data?.title || res.statusText, data?.detail || data?.title || `HTTP ${res.status}`);
  }
  return { status: res.status, data };
}

export function wsUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

// The center's catalog entry (names, queues, windows, service points).
export async function centerInfo(center) {
  return (await api("GET", `/api/v1/centers/${encodeURIComponent(center)}`)).data;
}
