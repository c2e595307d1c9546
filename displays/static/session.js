// The video session of a remote window with the resident at a service point (docs/remote-session.md):
// the clerk's console and the point's screen each join WS /ws/sessions/{ticket}, and the server only
// relays the WebRTC signaling between them; picture and sound go browser to browser. The clerk's
// side offers, the point's answers. Without a camera or a microphone a side still joins: it receives
// what the other sends, the other is told, and the chat line still works.
// The page hands its container and token in, then calls follow(ticketId | null) whenever its ticket
// may have changed; everything else stays inside the container (element ids start with "rtc-").

import { wsUrl } from "./api.js";
import { bi, h, setBi } from "./i18n.js";

const RETRY_MS = [500, 1000, 2000, 4000, 8000];
const HEARTBEAT_MS = 30_000;
const HIDE_AFTER_END_MS = 8_000;
const LEAVE_GRACE_MS = 3_000;
// The server's close codes that mean "do not come back for this ticket" (1008/1009: it refused what
// this page sent, which a retry would only send again).
const REFUSED = {
  1008: ["视频信令被拒绝", "The video signaling was refused"],
  1009: ["视频信令过大被拒绝", "The video signaling was too large"],
  4401: ["设备未授权，无法视频", "This device may not join the video"],
  4403: ["无权加入此视频", "Not allowed to join this video"],
  4404: ["未找到该号码", "Ticket not found"],
  4409: ["该号码已不在远程窗口", "The ticket is no longer at the remote window"],
};
const ENDED = {
  finished: ["已办结", "finished"], no_show: ["未到", "no-show"], transferred: ["已转移", "transferred"],
  paused: ["暂停办理", "ticket paused"], cancelled: ["已取消", "cancelled"], window_paused: ["窗口暂停", "window paused"],
  window_closed: ["窗口关闭", "window closed"], hung_up: ["窗口结束视频", "the clerk ended the video"],
  superseded: ["已换号", "another ticket"],
};
const STATE_TEXT = {
  joining: ["正在连接视频…", "Connecting the video…"],
  waiting: ["等待对方加入…", "Waiting for the other side…"],
  connecting: ["正在接通…", "Connecting…"],
  connected: ["视频已接通", "Video connected"],
  trouble: ["视频连接中断，正在重试", "Video interrupted, retrying"],
  closed: ["视频已结束", "Video ended"],
};
const OTHER = { window: ["中心窗口", "Clerk"], point: ["服务点", "Service point"] };

// What getUserMedia's refusal means for the person in front of the page.
function mediaProblem(err) {
  if (!navigator.mediaDevices?.getUserMedia) {
    return ["此页面无法使用摄像头和麦克风（需 HTTPS）", "Camera and microphone are unavailable on this page (HTTPS is required)"];
  }
  if (err?.name === "NotAllowedError" || err?.name === "SecurityError") {
    return ["摄像头或麦克风未获允许", "Camera or microphone not allowed"];
  }
  return ["未检测到摄像头或麦克风", "No camera or microphone found"];
}

// The camera and microphone, or as much of them as there is: both, then each alone, then nothing.
async function openMedia() {
  if (!navigator.mediaDevices?.getUserMedia) return { stream: null, problem: mediaProblem(null) };
  let first = null;
  for (const want of [{ audio: true, video: true }, { audio: true }, { video: true }]) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia(want);
      return { stream, problem: want.audio && want.video ? null : mediaProblem(first) };
    } catch (err) {
      first = first || err;
      if (err?.name === "NotAllowedError" || err?.name === "SecurityError") break;   // asking again changes nothing
    }
  }
  return { stream: null, problem: mediaProblem(first) };
}

export class RemoteSession {
  constructor(box, { token, role }) {
    this.box = box;
    this.token = token;
    this.role = role;              // "window" (the clerk: offers) or "point" (answers)
    this.ticket = null;
    this.ws = null;
    this.me = null;
    this.iceServers = [];
    this.peers = new Map();        // peer id -> { pc, pending ICE candidates }
    this.media = null;             // a promise of { stream, problem }, once per session
    this.mediaSaid = null;         // the "media" message telling the other side what we can send
    this.attempt = 0;
    this.retryTimer = null;
    this.hideTimer = null;
    this.leaveTimer = null;
    this.chain = Promise.resolve();
    this.build();
    setInterval(() => this.send({ type: "heartbeat" }), HEARTBEAT_MS);
  }

  build() {
    const el = (tag, id, props = {}, ...children) => h(tag, { id, ...props }, ...children);
    this.status = el("div", "rtc-status", { class: "rtc-status", role: "status" });
    this.remoteVideo = el("video", "rtc-remote", { class: "rtc-remote", autoplay: true, playsinline: true });
    this.localVideo = el("video", "rtc-local", { class: "rtc-local", autoplay: true, playsinline: true });
    this.localVideo.muted = true;
    // The other side's picture is decoded (its size is known): what a test or a supervisor can check.
    this.remoteVideo.addEventListener("resize", () => { this.box.dataset.remoteFrames = `${this.remoteVideo.videoWidth}x${this.remoteVideo.videoHeight}`; });
    this.mediaNote = el("p", "rtc-media", { class: "rtc-note", role: "alert", hidden: true });
    this.peerNote = el("p", "rtc-peer-media", { class: "rtc-note", hidden: true });
    this.chatLog = el("ol", "rtc-chat-log", { class: "rtc-chat-log", "aria-live": "polite" });
    this.chatInput = el("input", "rtc-chat-input", { maxlength: "500", autocomplete: "off", "aria-label": "文字消息 Message" });
    const form = el("form", "rtc-chat", { class: "rtc-chat" }, this.chatInput,
      h("button", { type: "submit", class: "btn" }, bi("发送", "Send")));
    form.addEventListener("submit", (e) => { e.preventDefault(); this.chat(); });
    const head = h("div", { class: "rtc-head" }, h("h2", {}, bi("视频办理", "Video session")), this.status);
    if (this.role === "window") {
      this.hangupButton = el("button", "rtc-hangup", { type: "button", class: "btn" }, bi("结束视频", "End video"));
      this.hangupButton.addEventListener("click", () => this.send({ type: "hangup" }));
      head.append(this.hangupButton);
    }
    this.box.replaceChildren(head,
      h("div", { class: "rtc-stage" }, this.remoteVideo, this.localVideo),
      this.mediaNote, this.peerNote, this.chatLog, form);
    this.setState("idle");
  }

  setState(state, text = STATE_TEXT[state]) {
    this.box.dataset.state = state;
    this.status.className = `rtc-status ${state}`;
    if (text) setBi(this.status, ...text); else this.status.replaceChildren();
    if (this.hangupButton) this.hangupButton.disabled = !["waiting", "connecting", "connected", "trouble"].includes(state);
  }

  // The page's ticket now: a new one starts its session, none (or another) ends the one there was.
  // When the ticket just left, the server's session.closed (which says why) is given a moment first.
  follow(ticketId) {
    const next = ticketId || null;
    if (next === this.ticket) {
      clearTimeout(this.leaveTimer);
      this.leaveTimer = null;
      return;
    }
    if (!next && this.ws) {
      this.leaveTimer ||= setTimeout(() => this.switchTo(null), LEAVE_GRACE_MS);
      return;
    }
    this.switchTo(next);
  }

  switchTo(next) {
    clearTimeout(this.leaveTimer);
    this.leaveTimer = null;
    if (this.ticket && this.box.dataset.state !== "closed") this.end(STATE_TEXT.closed);
    this.ticket = next;
    if (!next) return;
    clearTimeout(this.hideTimer);
    this.box.hidden = false;
    this.box.dataset.remoteVideo = "";
    this.box.dataset.remoteFrames = "";
    this.chatLog.replaceChildren();
    this.mediaNote.hidden = true;
    this.peerNote.hidden = true;
    this.attempt = 0;
    this.connect();
  }

  connect() {
    clearTimeout(this.retryTimer);
    if (!this.ticket) return;
    this.setState("joining");
    const ws = new WebSocket(wsUrl(`/ws/sessions/${encodeURIComponent(this.ticket)}?token=${encodeURIComponent(this.token || "")}`));
    this.ws = ws;
    // One message at a time, in order: an ICE candidate must wait for the offer or answer before it.
    ws.onmessage = (e) => {
      this.chain = this.chain.then(() => (this.ws === ws ? this.receive(e.data) : null)).catch((err) => {
        console.warn("video session:", err);   // a failed step of the negotiation: said on screen, detailed here
        this.setState("trouble");
      });
    };
    ws.onclose = (e) => { if (this.ws === ws) this.closed(e.code); };
    ws.onerror = () => { /* onclose follows */ };
  }

  closed(code) {
    this.ws = null;
    this.dropPeers();
    if (!this.ticket) return;
    if (REFUSED[code]) {
      this.end(REFUSED[code]);
      return;
    }
    if (code === 1000) return;      // a normal close comes after session.closed, which ended it already
    this.setState("trouble");
    this.retryTimer = setTimeout(() => this.connect(), RETRY_MS[Math.min(this.attempt++, RETRY_MS.length - 1)]);
  }

  send(message) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  async receive(text) {
    let msg;
    try { msg = JSON.parse(text); } catch { return; }
    switch (msg.type) {
      case "joined":
        this.me = msg.me;
        this.iceServers = msg.ice_servers || [];
        this.attempt = 0;
        this.setState("waiting");
        this.startMedia();
        break;
      case "peer.joined":
      case "peer.present":
        // said when our media opened, to whoever was there then: one who joins later hears it now
        if (this.mediaSaid) this.send(this.mediaSaid);
        if (this.role === "window" && msg.role === "point" && !this.live(msg.from)) await this.call(msg.from);
        break;
      case "peer.left":
        this.dropPeer(msg.from);
        if (!this.peers.size && this.ws) this.setState("waiting");
        break;
      case "offer":
        if (this.role === "point") await this.answer(msg.from, msg.sdp);
        break;
      case "answer": {
        const peer = this.peers.get(msg.from);
        if (peer) {
          await peer.pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
          await this.flushCandidates(peer);
        }
        break;
      }
      case "ice":
        await this.candidate(msg.from, msg.candidate);
        break;
      case "media":
        this.peerNote.hidden = msg.video && msg.audio;
        if (!this.peerNote.hidden) {
          const what = !msg.video && !msg.audio ? ["摄像头和麦克风", "camera or microphone"] : !msg.video ? ["摄像头", "camera"] : ["麦克风", "microphone"];
          setBi(this.peerNote, `对方没有可用的${what[0]}，可用文字交流`, `The other side has no ${what[1]}; use the text line`);
        }
        break;
      case "chat":
        this.chatLine(OTHER[msg.role] || [msg.role, msg.role], msg.text, "theirs");
        break;
      case "session.closed":
        this.end(ENDED[msg.reason] ? [`视频已结束（${ENDED[msg.reason][0]}）`, `Video ended (${ENDED[msg.reason][1]})`] : STATE_TEXT.closed);
        break;
      default:
        break;   // "error" (a refused message of ours) and anything newer: nothing to do on screen
    }
  }

  startMedia() {
    if (this.media) return;
    this.media = openMedia().then((m) => {
      if (m.stream) this.localVideo.srcObject = m.stream;
      this.localVideo.hidden = !m.stream?.getVideoTracks().length;
      if (m.problem) {
        setBi(this.mediaNote, `${m.problem[0]}：您仍能看到、听到对方，也可用文字交流，办理照常进行`,
          `${m.problem[1]}: you still see and hear the other side, the text line works and the service goes on`);
        this.mediaNote.hidden = false;
      }
      const tracks = m.stream ? m.stream.getTracks() : [];
      this.mediaSaid = { type: "media", audio: tracks.some((t) => t.kind === "audio"), video: tracks.some((t) => t.kind === "video") };
      this.send(this.mediaSaid);
      return m;
    });
  }

  // A connection to that peer that is set up or on its way (both sides may hear of each other twice).
  live(id) {
    const s = this.peers.get(id)?.pc.connectionState;
    return Boolean(s) && s !== "failed" && s !== "closed";
  }

  newPeer(id) {
    this.dropPeer(id);
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    const peer = { pc, pending: [] };
    this.peers.set(id, peer);
    pc.onicecandidate = (e) => this.send({ type: "ice", to: id, candidate: e.candidate ? e.candidate.toJSON() : null });
    pc.ontrack = (e) => {
      const stream = e.streams[0] || new MediaStream([e.track]);
      if (this.remoteVideo.srcObject !== stream) this.remoteVideo.srcObject = stream;
      if (e.track.kind === "video") this.box.dataset.remoteVideo = "1";
    };
    pc.onconnectionstatechange = () => {
      if (this.peers.get(id)?.pc !== pc) return;
      const s = pc.connectionState;
      if (s === "connected") this.setState("connected");
      else if (s === "connecting" || s === "new") this.setState("connecting");
      else if (s === "failed" || s === "disconnected") this.setState("trouble");
    };
    return peer;
  }

  // The clerk's side: offer to a point page, sending what it has and receiving both kinds either way.
  async call(id) {
    const { stream } = await this.media;
    if (!this.ws) return;
    const { pc } = this.newPeer(id);
    this.setState("connecting");
    for (const kind of ["audio", "video"]) {
      const track = stream?.getTracks().find((t) => t.kind === kind);
      if (track) pc.addTrack(track, stream); else pc.addTransceiver(kind, { direction: "recvonly" });
    }
    await pc.setLocalDescription(await pc.createOffer());
    this.send({ type: "offer", to: id, sdp: pc.localDescription.sdp });
  }

  // The point's side: answer the clerk's offer with its own camera and microphone where it has them.
  async answer(id, sdp) {
    const { stream } = await this.media;
    if (!this.ws) return;
    const peer = this.newPeer(id);
    const { pc } = peer;
    this.setState("connecting");
    await pc.setRemoteDescription({ type: "offer", sdp });
    for (const tr of pc.getTransceivers()) {
      const track = stream?.getTracks().find((t) => t.kind === tr.receiver.track.kind);
      if (track) {
        await tr.sender.replaceTrack(track);
        tr.sender.setStreams?.(stream);
        tr.direction = "sendrecv";
      }
    }
    await pc.setLocalDescription(await pc.createAnswer());
    this.send({ type: "answer", to: id, sdp: pc.localDescription.sdp });
    await this.flushCandidates(peer);
  }

  async candidate(id, candidate) {
    const peer = this.peers.get(id);
    if (!peer) return;
    if (!peer.pc.remoteDescription) { peer.pending.push(candidate); return; }
    await peer.pc.addIceCandidate(candidate || undefined).catch(() => { /* a stale candidate: ICE goes on with the others */ });
  }

  async flushCandidates(peer) {
    const pending = peer.pending.splice(0);
    for (const c of pending) await peer.pc.addIceCandidate(c || undefined).catch(() => {});
  }

  chat() {
    const text = this.chatInput.value.trim();
    if (!text || this.ws?.readyState !== WebSocket.OPEN) return;
    this.send({ type: "chat", text: text.slice(0, 500) });
    this.chatLine(["我", "me"], text, "mine");
    this.chatInput.value = "";
  }

  chatLine(who, text, cls) {
    this.chatLog.append(h("li", { class: cls }, h("span", { class: "who" }, `${who[0]} ${who[1]}`), " ", h("span", { class: "text" }, text)));
    this.chatLog.scrollTop = this.chatLog.scrollHeight;
  }

  dropPeer(id) {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    peer.pc.close();
  }

  dropPeers() {
    for (const id of [...this.peers.keys()]) this.dropPeer(id);
  }

  // Over for this ticket: say why, let go of the camera, and step aside after a moment.
  end(text) {
    const ws = this.ws;
    this.ws = null;
    if (ws) { try { ws.close(1000, "done"); } catch { /* closing already */ } }
    clearTimeout(this.retryTimer);
    this.dropPeers();
    this.remoteVideo.srcObject = null;
    this.media?.then((m) => m.stream?.getTracks().forEach((t) => t.stop()));
    this.media = null;
    this.mediaSaid = null;
    this.localVideo.srcObject = null;
    this.setState("closed", text);
    clearTimeout(this.hideTimer);
    this.hideTimer = setTimeout(() => { if (this.box.dataset.state === "closed") this.box.hidden = true; }, HIDE_AFTER_END_MS);
  }
}
