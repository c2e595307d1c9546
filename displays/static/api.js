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

// A server whose Redis or PostgreSQL is restarting answers 503 (and a busy one 429) with Retry-After:
// wait as told, with a little jitter, and try again. Quiet at first; if it lasts, a calm
// "正在重新连接 Reconnecting" notice shows until it is back, and only after RETRY_FOR_MS does the
// page get an error — the same calm words, never the server's details.
const RETRYABLE = new Set([429, 503]);
const QUIET_MS = 2000;
const RETRY_FOR_MS = 20000;
const RECONNECTING = ["正在重新连接，请稍候", "Reconnecting — please wait"];
let retrying = 0;
let notice = null;

function reconnecting(on) {
  retrying += on ? 1 : -1;
  if (retrying > 0 && !notice) {
    notice = document.createElement("div");
    notice.className = "reconnecting";
    notice.setAttribute("role", "status");
    const en = document.createElement("span");
    en.className = "en";
    en.textContent = RECONNECTING[1];
    notice.append(RECONNECTING[0] + " ", en);
    document.body.append(notice);
  } else if (retrying === 0 && notice) {
    notice.remove();
    notice = null;
  }
}

function retryDelayMs(res, attempt) {
  const told = Number(res.headers.get("Retry-After"));
  const base = Number.isFinite(told) && told > 0 ? told * 1000 : 500 * 2 ** attempt;
  return Math.min(base, 5000) * (0.8 + Math.random() * 0.4);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function fetchRetrying(path, init) {
  const started = Date.now();
  let shown = false;
  try {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(path, init);
      if (!RETRYABLE.has(res.status)) return res;
      const wait = retryDelayMs(res, attempt);
      if (Date.now() + wait - started > RETRY_FOR_MS) {
        throw new ApiError(res.status, "Reconnecting", `${RECONNECTING[0]} ${RECONNECTING[1]}`);
      }
      if (!shown && Date.now() + wait - started >= QUIET_MS) {
        shown = true;
        reconnecting(true);
      }
      await sleep(wait);
    }
  } finally {
    if (shown) reconnecting(false);
  }
}

export async function api(method, path, { body, token, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body instanceof Blob) {          // a file as it is (a scan): its own type
    init.headers["Content-Type"] = body.type || "application/octet-stream";
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetchRetrying(path, init);
  } catch (err) {
    if (err instanceof ApiError) throw err;
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
