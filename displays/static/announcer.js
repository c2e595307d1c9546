// The hall's voice: each call is a chime and then one Mandarin sentence, strictly one after another.
// Calls are queued, never dropped and never spoken over each other; switching the voice off
// keeps the queue moving silently. Tests read window.__announcements (every text queued) and
// window.__spoken (every text finished, in order).

const VOICE_KEY = "qs.display.voice";
const CHIME_MS = 900;

window.__announcements = [];
window.__spoken = [];

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class Announcer {
  constructor() {
    this.pending = [];
    this.busy = false;
    this.audio = null;
    let saved = null;
    try { saved = localStorage.getItem(VOICE_KEY); } catch { saved = null; }
    this.enabled = saved !== "off";
    this.voice = null;
    if ("speechSynthesis" in window) {
      const pick = () => {
        this.voice = speechSynthesis.getVoices().find((v) => /^zh[-_]CN/i.test(v.lang))
          || speechSynthesis.getVoices().find((v) => /^zh/i.test(v.lang)) || null;
      };
      pick();
      speechSynthesis.addEventListener?.("voiceschanged", pick);
    }
  }

  setEnabled(on) {
    this.enabled = on;
    try { localStorage.setItem(VOICE_KEY, on ? "on" : "off"); } catch { /* not remembered */ }
    if (on) this.unlock();
  }

  // Called from a user gesture: lets audio and speech start on browsers that wait for one.
  unlock() {
    const ctx = this.context();
    if (ctx && ctx.state === "suspended") ctx.resume().catch(() => {});
  }

  // Whether the browser lets this page make sound yet (it may wait for a first tap).
  blocked() {
    const ctx = this.context();
    return Boolean(ctx && ctx.state !== "running");
  }

  context() {
    if (!this.audio && (window.AudioContext || window.webkitAudioContext)) {
      this.audio = new (window.AudioContext || window.webkitAudioContext)();
    }
    return this.audio;
  }

  say(text) {
    window.__announcements.push(text);
    this.pending.push(text);
    this.pump();
  }

  async pump() {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.pending.length) {
        const text = this.pending.shift();
        if (this.enabled) {
          await this.chime();
          await this.speak(text);
        }
        window.__spoken.push(text);
      }
    } finally {
      this.busy = false;
    }
  }

  async chime() {
    const ctx = this.context();
    if (!ctx || ctx.state !== "running") return;
    const t0 = ctx.currentTime + 0.02;
    [[880, 0], [660, 0.38]].forEach(([freq, at]) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t0 + at);
      gain.gain.exponentialRampToValueAtTime(0.4, t0 + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + at + 0.5);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0 + at);
      osc.stop(t0 + at + 0.55);
    });
    await sleep(CHIME_MS);
  }

  // Resolves when the sentence is spoken, refused, or plainly never going to end (a browser
  // without voices may fire neither event): the queue must not stall on one call.
  speak(text) {
    if (!("speechSynthesis" in window)) return Promise.resolve();
    return new Promise((resolve) => {
      const u = new SpeechSynthesisUtterance(text);
      u.lang = "zh-CN";
      u.rate = 0.9;
      if (this.voice) u.voice = this.voice;
      let done = false;
      const finish = () => { if (!done) { done = true; clearTimeout(guard); resolve(); } };
      const guard = setTimeout(() => { speechSynthesis.cancel(); finish(); }, 2_000 + text.length * 400);
      u.onend = finish;
      u.onerror = finish;
      speechSynthesis.speak(u);
    });
  }
}
