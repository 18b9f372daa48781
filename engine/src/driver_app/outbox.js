// The outbox: every stop the driver marks (picked up / delivered / failed, a note,
// a proof photo) goes here first and is kept in localStorage until the engine has it,
// so a stop marked with no network is sent after the next `welcome`, exactly once:
// - a `stop_done` is sent when the socket is up and forgotten at its `ack`;
// - after a reconnect, one whose stop is no longer on the `welcome` route was already
//   recorded (its ack was lost with the socket) or the order went away: not sent again;
// - an `error` answering it (`not_found`, `failed_precondition`, ...) drops it and
//   tells the driver why;
// - a proof photo is uploaded over HTTP (`PUT /v1/orders/{id}/proof`) and retried
//   until the engine answers; a 4xx answer drops it with the reason.

const KEY = "dispatch.driver.outbox";

function load() {
  try {
    const items = JSON.parse(localStorage.getItem(KEY) || "[]");
    return Array.isArray(items) ? items : [];
  } catch (_) {
    return [];
  }
}

/** A `data:` URL's bytes (fetching it would need `connect-src data:`). */
function toBlob(dataUrl) {
  const [head, b64] = dataUrl.split(",", 2);
  const type = (head.match(/^data:([^;]+)/) || [])[1] || "application/octet-stream";
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type });
}

export class Outbox {
  /** @param {object} hooks changed(), rejected(item, why), uploaded(item), token() */
  constructor(hooks) {
    this.hooks = hooks;
    this.items = load();
    // Seqs sent on the current socket: seq -> item id.
    this.inFlight = new Map();
    this.uploading = false;
  }

  save() {
    try {
      localStorage.setItem(KEY, JSON.stringify(this.items));
    } catch (_) {
      // A photo too large for the browser's storage: keep the rest, the photo stays in
      // memory only (lost if the app is closed before it is uploaded).
      const slim = this.items.map((i) => (i.proof ? { ...i, proof: null, proofLost: true } : i));
      try { localStorage.setItem(KEY, JSON.stringify(slim)); } catch (_) { /* storage off */ }
    }
    this.hooks.changed();
  }

  get pending() {
    return this.items.length;
  }

  /** Whether a `stop_done` for this stop waits here. */
  has(stopId) {
    return this.items.some((i) => i.stop_id === stopId && !i.acked);
  }

  add(item) {
    this.items.push({ id: `${Date.now()}-${Math.random().toString(36).slice(2)}`, acked: false, proofDone: !item.proof, ...item });
    this.save();
  }

  remove(item) {
    this.items = this.items.filter((i) => i !== item);
    this.save();
  }

  /** A new socket said `welcome`: nothing sent on the old one is in flight any more. */
  welcome(route, wire) {
    this.inFlight.clear();
    const onRoute = new Set(route.stops.map((s) => s.stop_id));
    for (const item of this.items) {
      if (!item.acked && !onRoute.has(item.stop_id)) item.acked = true;
    }
    this.items = this.items.filter((i) => !(i.acked && i.proofDone));
    this.save();
    this.flush(wire);
  }

  /** Sends what can be sent now; uploads waiting photos. */
  flush(wire) {
    if (wire.ready) {
      const waiting = new Set(this.inFlight.values());
      for (const item of this.items) {
        if (item.acked || waiting.has(item.id)) continue;
        const msg = { type: "stop_done", stop_id: item.stop_id, outcome: item.outcome, ts_ms: item.ts_ms };
        if (item.note) msg.note = item.note;
        const seq = wire.send(msg);
        if (seq == null) break;
        this.inFlight.set(seq, item.id);
      }
    }
    this.upload();
  }

  byRef(ref) {
    const id = this.inFlight.get(ref);
    this.inFlight.delete(ref);
    return this.items.find((i) => i.id === id);
  }

  ack(msg) {
    const item = this.byRef(msg.ref) || this.items.find((i) => !i.acked && i.stop_id === msg.stop_id);
    if (!item) return;
    item.acked = true;
    if (item.proofDone) this.remove(item); else this.save();
  }

  /** An `error` frame: true when it answered one of ours (then dropped). */
  error(msg) {
    if (msg.ref == null || !this.inFlight.has(msg.ref)) return false;
    const item = this.byRef(msg.ref);
    if (item) {
      this.remove(item);
      this.hooks.rejected(item, `${msg.code}: ${msg.message}`);
    }
    return true;
  }

  async upload() {
    if (this.uploading) return;
    this.uploading = true;
    try {
      for (const item of this.items.filter((i) => !i.proofDone && i.proof)) {
        if (!(await this.put(item))) break;
      }
    } finally {
      this.uploading = false;
    }
  }

  /** Uploads one photo; false when the network failed (try again later). */
  async put(item) {
    let resp;
    try {
      const blob = toBlob(item.proof.dataUrl);
      resp = await fetch(`/v1/orders/${encodeURIComponent(item.order_id)}/proof`, {
        method: "PUT",
        headers: { Authorization: `Bearer ${this.hooks.token()}`, "Content-Type": item.proof.type },
        body: blob,
      });
    } catch (_) {
      return false;
    }
    if (resp.status >= 500 || resp.status === 429) return false;
    item.proofDone = true;
    item.proof = null;
    if (resp.ok) {
      this.hooks.uploaded(item);
    } else {
      const body = await resp.json().catch(() => ({}));
      const e = body.error || {};
      this.hooks.rejected(item, `photo not stored: ${e.code || resp.status}: ${e.message || ""}`);
    }
    if (item.acked) this.remove(item); else this.save();
    return true;
  }
}
