// The driver socket, in JSON as docs/protocol.md describes it: `hello` first, then
// `welcome` with the whole route; `route` pushes; `ack` / `error` answering our
// messages by `ref` (our `seq`). On network loss it reconnects with backoff
// (0.5 s doubling to 15 s, with jitter; with no network at all it waits for the
// browser's `online` event); a refused token (close 1008 after an `unauthenticated` or
// `permission_denied` error, or before any `welcome`) stops for good with the reason.

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15_000;
const FATAL = new Set(["unauthenticated", "permission_denied"]);

export class Wire {
  /**
   * @param {string} token the driver token
   * @param {object} on callbacks: state(conn, detail), welcome(msg), route(msg),
   *   ack(msg), error(msg), refused(reason)
   */
  constructor(token, on) {
    this.token = token;
    this.on = on;
    this.ws = null;
    this.seq = 0;
    this.backoff = BACKOFF_MIN_MS;
    this.timer = null;
    this.stopped = false;
    this.welcomed = false;
    this.lastError = null;
    this.conn = "idle";
    this.onOnline = () => { if (this.conn === "reconnecting") this.reconnectNow(); };
    window.addEventListener("online", this.onOnline);
  }

  setConn(conn, detail) {
    this.conn = conn;
    this.on.state(conn, detail || "");
  }

  open() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${proto}//${location.host}/ws/driver?token=${encodeURIComponent(this.token)}`;
    if (navigator.onLine === false) {
      this.retry("no network");
      return;
    }
    this.setConn(this.welcomed ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      this.retry(String(e));
      return;
    }
    this.ws = ws;
    this.welcomed = false;
    this.lastError = null;
    ws.onopen = () => this.send({ type: "hello" });
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = (ev) => this.closed(ws, ev);
  }

  receive(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch (_) {
      return;
    }
    switch (msg.type) {
      case "welcome":
        this.welcomed = true;
        this.backoff = BACKOFF_MIN_MS;
        this.setConn("connected");
        this.on.welcome(msg);
        break;
      case "route":
        this.on.route(msg);
        break;
      case "ack":
        this.on.ack(msg);
        break;
      case "error":
        this.lastError = msg;
        this.on.error(msg);
        break;
      default:
        break;
    }
  }

  closed(ws, ev) {
    if (ws !== this.ws) return;
    this.ws = null;
    const code = this.lastError && this.lastError.code;
    const refused = ev.code === 1008 && (FATAL.has(code) || (!this.welcomed && code !== "rate_limited"));
    if (refused) {
      this.stop();
      const why = (this.lastError && this.lastError.message) || ev.reason || "the engine refused this token";
      this.on.refused(why);
      return;
    }
    if (!this.stopped) this.retry(ev.reason || `closed (${ev.code})`);
  }

  retry(detail) {
    clearTimeout(this.timer);
    if (navigator.onLine === false) {
      // No network at all: wait for the browser's `online` event instead of polling.
      this.setConn("reconnecting", "no network; waiting for it to come back");
      return;
    }
    const jitter = 0.75 + Math.random() * 0.5;
    const wait = Math.round(this.backoff * jitter);
    this.backoff = Math.min(BACKOFF_MAX_MS, this.backoff * 2);
    this.setConn("reconnecting", `${detail}; retrying in ${(wait / 1000).toFixed(1)} s`);
    this.timer = setTimeout(() => this.open(), wait);
  }

  reconnectNow() {
    this.backoff = BACKOFF_MIN_MS;
    this.open();
  }

  /** Sends a message with the next `seq`; returns the seq, or null when not connected. */
  send(msg) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return null;
    if (msg.type !== "hello" && !this.welcomed) return null;
    this.seq += 1;
    ws.send(JSON.stringify({ seq: this.seq, ...msg }));
    return this.seq;
  }

  get ready() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN && this.welcomed;
  }

  /** Closes the socket as a network loss would (tests, and the user's "reconnect"). */
  drop() {
    if (this.ws) this.ws.close(4000, "dropped by the app");
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    window.removeEventListener("online", this.onOnline);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, "signed out");
    }
    this.setConn("stopped");
  }
}
