// One resumable websocket: a snapshot (or a resume) first, then every event in stream order.
// The client keeps the last stream id it handled (its cursor) and the stream's epoch; after a drop
// it reconnects with both, so the server sends exactly what was missed. Events at or below the
// cursor are dropped here too, so a replayed event is never handled twice.

import { wsUrl } from "./api.js";

const PING_TIMEOUT_MS = 40_000;   // the server pings after 15 s of silence; two missed pings = offline
const HEARTBEAT_MS = 30_000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 8_000;
const FATAL = { 4401: ["设备未授权", "This device is not authorised"],
                4403: ["设备不属于此中心或窗口", "This device belongs elsewhere"],
                4404: ["未找到", "Not found"] };

const STREAM_ID = /^\d+-\d+$/;

// Stream ids are "ms-seq"; compare them as numbers.
export function compareIds(a, b) {
  const [am, as] = String(a).split("-").map(Number);
  const [bm, bs] = String(b).split("-").map(Number);
  return am !== bm ? am - bm : (as || 0) - (bs || 0);
}

export class LiveSocket {
  // path: "/ws/..."; handlers: onSnapshot(msg, {reset}), onEvent(evt), onMessage(msg), onStatus(state, info)
  constructor(path, { token = null, onSnapshot = () => {}, onEvent = () => {}, onMessage = () => {},
    onStatus = () => {} } = {}) {
    this.path = path;
    this.token = token;
    this.handlers = { onSnapshot, onEvent, onMessage, onStatus };
    this.cursor = null;
    this.epoch = null;
    this.ws = null;
    this.attempt = 0;
    this.lastHeard = 0;
    this.serverOffset = 0;     // server clock minus this device's clock
    this.state = "connecting";
    this.stopped = false;
    this.retryTimer = null;
    addEventListener("offline", () => this.drop("browser offline"));
    addEventListener("online", () => this.reconnectNow());
    setInterval(() => this.watch(), 2_000);
    setInterval(() => this.send({ type: "heartbeat" }), HEARTBEAT_MS);
  }

  now() {
    return Date.now() + this.serverOffset;
  }

  start() {
    this.connect();
    return this;
  }

  // The page needs no more updates (its ticket has ended): close for good, no retries.
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      try { ws.close(1000, "done"); } catch { /* already closing */ }
    }
  }

  url() {
    const q = new URLSearchParams();
    if (this.token) q.set("token", this.token);
    if (this.cursor) q.set("cursor", this.cursor);
    if (this.epoch) q.set("epoch", this.epoch);
    const qs = q.toString();
    return wsUrl(this.path + (qs ? `?${qs}` : ""));
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.stopped) return;
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => { this.lastHeard = Date.now(); };
    ws.onmessage = (e) => { if (this.ws === ws) this.receive(e.data); };
    ws.onclose = (e) => { if (this.ws === ws) this.closed(e.code); };
    ws.onerror = () => { /* onclose follows and decides */ };
  }

  receive(text) {
    this.lastHeard = Date.now();
    let msg;
    try { msg = JSON.parse(text); } catch { return; }
    if (msg.now) this.serverOffset = msg.now - Date.now();
    if (msg.type === "ping") {
      this.setState("online");
      return;
    }
    if (msg.type === "snapshot") {
      this.cursor = msg.cursor || null;
      this.epoch = msg.epoch || null;
      this.attempt = 0;
      this.setState("online");
      this.handlers.onSnapshot(msg, { reset: Boolean(msg.reset) });
      return;
    }
    if (msg.type === "resume") {
      if (msg.cursor) this.cursor = msg.cursor;
      if (msg.epoch) this.epoch = msg.epoch;
      this.attempt = 0;
      this.setState("online");
      return;
    }
    if (STREAM_ID.test(msg.id || "")) {
      if (this.cursor && compareIds(msg.id, this.cursor) <= 0) return;
      this.cursor = msg.id;
      this.setState("online");
      this.handlers.onEvent(msg);
      return;
    }
    this.attempt = 0;
    this.setState("online");
    this.handlers.onMessage(msg);
  }

  closed(code) {
    this.ws = null;
    if (FATAL[code]) {
      this.setState("refused", { code, text: FATAL[code] });
      // A token may be fixed or a device re-registered: try again, slowly.
      this.retryTimer = setTimeout(() => this.connect(), 30_000);
      return;
    }
    this.setState("offline");
    this.scheduleRetry();
  }

  scheduleRetry() {
    if (this.retryTimer || this.stopped) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    this.attempt += 1;
    const delay = base / 2 + Math.random() * base / 2;
    this.retryTimer = setTimeout(() => { this.retryTimer = null; this.connect(); }, delay);
  }

  // The link is gone (or silent): close it and try again.
  drop(why) {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      try { ws.close(4000, why.slice(0, 100)); } catch { /* already closing */ }
    }
    this.setState("offline");
    this.scheduleRetry();
  }

  reconnectNow() {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) return;
    this.attempt = 0;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connect();
  }

  watch() {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && Date.now() - this.lastHeard > PING_TIMEOUT_MS) {
      this.drop("no ping");
    }
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  setState(state, info = {}) {
    if (state === this.state && state !== "refused") return;
    this.state = state;
    this.handlers.onStatus(state, info);
  }
}

// The offline banner every live page shows while its socket is down.
export function bindBanner(banner) {
  return (state, info) => {
    if (state === "online") {
      banner.hidden = true;
      document.body.classList.remove("is-offline");
      return;
    }
    if (state === "connecting") return;
    const [zh, en] = state === "refused" ? info.text : ["网络连接中断，正在重新连接…", "Offline — reconnecting…"];
    banner.querySelector(".zh").textContent = zh;
    banner.querySelector(".en").textContent = en;
    banner.hidden = false;
    document.body.classList.add("is-offline");
  };
}
