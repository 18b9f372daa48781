// The console socket and HTTP reads: connecting, subscribing, handling messages,
// selecting a driver or an order.

import { $, RESUBSCRIBE_MS, BACKOFF_MIN_MS, BACKOFF_MAX_MS, KEEP_FINISHED, HIT_PX, OPEN, state, toast, driverPos, applyDriver } from "./shared.js";
import { toScreen, visibleBbox, fitTo } from "./geo.js";
import { renderStats, renderListsSoon, renderLists, renderDetail } from "./panels.js";
import { closeReplay, replayHtml } from "./replay.js";

// ------------------------------------------------------------------ connection
export function setConn(c, text) {
  state.conn = c;
  const el = $("conn");
  el.className = `conn conn-${c}`;
  el.textContent = text || c;
}

export function connect() {
  clearTimeout(state.retryTimer);
  if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; }
  if (!state.token) { setConn("idle", "no token"); return; }
  setConn(state.conn === "reconnecting" ? "reconnecting" : "connecting", "connecting…");
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/ws/console?token=${encodeURIComponent(state.token)}`);
  state.ws = ws;
  state.attempts++;
  state.authError = null;
  $("auth-error").hidden = true;
  let opened = false;
  ws.onopen = () => {
    opened = true;
    state.backoff = BACKOFF_MIN_MS;
    setConn("connected", "connected");
    subscribe(state.fitOnSnapshot ? null : visibleBbox(0.5));
  };
  ws.onmessage = (ev) => {
    state.lastMessageAt = Date.now();
    let msg;
    try { msg = JSON.parse(ev.data); } catch (_) { return; }
    onMessage(msg);
  };
  ws.onclose = (ev) => {
    state.ws = null;
    // The engine opens the socket, sends an `unauthenticated` or `permission_denied`
    // error and closes with 1008: a refused token, whether the close comes before or
    // after the open event. Retrying cannot help; say so once and stop.
    if (ev.code === 1008 && (!opened || state.authError)) {
      refused(state.authError || ev.reason);
      return;
    }
    if (ev.code === 1008) toast(`Disconnected: ${ev.reason || "policy violation"}`);
    const wait = Math.round(state.backoff * (0.75 + Math.random() * 0.5));
    state.backoff = Math.min(BACKOFF_MAX_MS, state.backoff * 2);
    setConn("reconnecting", `reconnecting in ${(wait / 1000).toFixed(1)} s`);
    state.retryTimer = setTimeout(connect, wait);
  };
}

/** A refused token: one message where the token is entered, no retry, no toasts. */
function refused(why) {
  clearTimeout(state.retryTimer);
  state.retryTimer = null;
  setConn("unauthorized", "token refused");
  const el = $("auth-error");
  el.textContent = `The engine refused this console token${why ? ` (${why})` : ""}. ` +
    "Enter a valid console token above and press Connect.";
  el.hidden = false;
}

export function send(msg) {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
    toast("Not connected to the engine.");
    return null;
  }
  const seq = state.seq++;
  state.ws.send(JSON.stringify(Object.assign({ seq }, msg)));
  return seq;
}

export function subscribe(bbox) {
  state.subscribedBbox = bbox;
  send(bbox ? { type: "subscribe", bbox } : { type: "subscribe" });
}
export function scheduleResubscribe() {
  clearTimeout(state.resubscribeTimer);
  state.resubscribeTimer = setTimeout(() => {
    if (state.conn !== "connected") return;
    const b = state.subscribedBbox;
    const want = visibleBbox(0.25);
    const area = (x) => Math.max(1e-12, (x[2] - x[0]) * (x[3] - x[1]));
    // The last subscription still covers the view and is not much larger (after a
    // zoom in): keep it.
    const covers = b && want[0] >= b[0] && want[1] >= b[1] && want[2] <= b[2] && want[3] <= b[3];
    if (covers && area(b) <= 16 * area(want)) return;
    subscribe(visibleBbox(0.5));
  }, RESUBSCRIBE_MS);
}

export function onMessage(msg) {
  const now = performance.now();
  switch (msg.type) {
    case "snapshot": {
      const seen = new Set();
      for (const u of msg.drivers) { applyDriver(u, now, false); seen.add(u.id); }
      for (const id of [...state.drivers.keys()]) if (!seen.has(id)) state.drivers.delete(id);
      // Open orders come from the snapshot; finished ones stay for the list.
      for (const [id, o] of state.orders) if (OPEN.has(o.status)) state.orders.delete(id);
      for (const o of msg.orders) state.orders.set(o.id, o);
      if (state.fitOnSnapshot) {
        const pts = msg.drivers.map((d) => ({ lat: d.lat, lon: d.lon }));
        for (const o of msg.orders) pts.push(o.pickup, o.dropoff);
        // Fitting re-subscribes to the visible box: from now on the view is followed.
        // An empty fleet leaves the flag set: the first drivers to appear are fitted.
        if (pts.length) { state.fitOnSnapshot = false; fitTo(pts); }
      }
      renderLists();
      break;
    }
    case "drivers":
      for (const u of msg.updates) applyDriver(u, now, true);
      if (state.fitOnSnapshot && msg.updates.length) {
        // The first drivers after an empty start (the world view): follow the fleet.
        state.fitOnSnapshot = false;
        fitTo([...state.drivers.values()].map((d) => ({ lat: d.lat, lon: d.lon })));
      }
      if (state.selected && state.selected.kind === "driver") renderDetail();
      break;
    case "driver_info":
      for (const p of msg.drivers) state.profiles.set(p.id, p);
      renderListsSoon();
      break;
    case "order":
      onOrder(msg.order);
      break;
    case "stats":
      state.stats = msg.stats;
      renderStats();
      break;
    case "error":
      onError(msg);
      break;
    default:
      break;
  }
  state.dirty = true;
}

export function onOrder(o) {
  state.orders.set(o.id, o);
  pruneFinished();
  for (const [seq, id] of state.pendingCreates) {
    if (id === o.id) {
      state.pendingCreates.delete(seq);
      toast(`Order ${o.id} created (${o.status}).`, "info");
      select("order", o.id);
    }
  }
  const sel = state.selected;
  if (sel && ((sel.kind === "order" && sel.id === o.id) || (sel.kind === "driver" && o.driver_id === sel.id))) {
    if (sel.kind === "driver") refreshDriverDetail();
    renderDetail();
  }
  renderListsSoon();
}

export function onError(msg) {
  const text = `${msg.code}: ${msg.message}`;
  if (msg.ref == null && (msg.code === "unauthenticated" || msg.code === "permission_denied")) {
    state.authError = msg.message; // the close that follows stops the console
    return;
  }
  if (msg.ref != null && state.pendingCreates.has(msg.ref)) {
    state.pendingCreates.delete(msg.ref);
    const err = $("order-form-error");
    err.textContent = text;
    err.hidden = false;
    $("order-form").hidden = false;
  }
  toast(`Engine error — ${text}`);
}

export function pruneFinished() {
  const finished = [...state.orders.values()].filter((o) => !OPEN.has(o.status));
  if (finished.length <= KEEP_FINISHED) return;
  finished.sort((a, b) => lastChange(a) - lastChange(b));
  for (const o of finished.slice(0, finished.length - KEEP_FINISHED)) state.orders.delete(o.id);
}
export function lastChange(o) {
  const h = o.history || [];
  return h.length ? h[h.length - 1].at_ms : o.created_ms;
}

// ------------------------------------------------------------------ HTTP reads
export async function getJson(path) {
  const resp = await fetch(path, { headers: { Authorization: `Bearer ${state.token}` } });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const e = body.error || {};
    throw new Error(`${e.code || resp.status}: ${e.message || resp.statusText}`);
  }
  return body;
}
export async function refreshDriverDetail() {
  const sel = state.selected;
  if (!sel || sel.kind !== "driver") return;
  try {
    const d = await getJson(`/v1/drivers/${encodeURIComponent(sel.id)}`);
    if (state.selected && state.selected.id === d.id) {
      state.driverDetail = d;
      if (state.fitRoute) {
        state.fitRoute = false;
        const pts = ((d.route && d.route.stops) || []).map((s) => ({ lat: s.lat, lon: s.lon }));
        if (d.lat != null) pts.push({ lat: d.lat, lon: d.lon });
        if (pts.length > 1) fitTo(pts, Math.max(state.view.z, 12));
      }
      renderDetail();
      state.dirty = true;
    }
  } catch (e) {
    toast(`Driver ${sel.id}: ${e.message}`);
  }
}
export async function loadOrder(id) {
  try {
    const o = await getJson(`/v1/orders/${encodeURIComponent(id)}`);
    state.orders.set(o.id, o);
    renderDetail();
    state.dirty = true;
  } catch (e) {
    toast(`Order ${id}: ${e.message}`);
  }
}

// ------------------------------------------------------------------ selection
export function select(kind, id) {
  state.selected = kind ? { kind, id } : null;
  state.driverDetail = null;
  $("detail").hidden = !kind;
  if (state.replay && !(kind === "driver" && state.replay.id === id)) closeReplay();
  renderReplayBox();
  if (kind === "driver") refreshDriverDetail();
  if (kind === "order" && !state.orders.has(id)) loadOrder(id);
  renderDetail();
  renderLists();
  state.dirty = true;
}

/** The trail replay block under a selected driver's detail (its own element, so the
 * detail's refreshes do not reset the slider). */
export function renderReplayBox() {
  const sel = state.selected;
  $("detail-replay").innerHTML = sel && sel.kind === "driver" ? replayHtml(sel.id) : "";
}

export function hitTest(x, y) {
  const now = performance.now();
  let best = null, bestD = HIT_PX * HIT_PX;
  for (const d of state.drivers.values()) {
    const pos = driverPos(d, now);
    const p = toScreen(pos.lat, pos.lon);
    const dd = (p.x - x) ** 2 + (p.y - y) ** 2;
    if (dd < bestD) { bestD = dd; best = { kind: "driver", id: d.id }; }
  }
  if (best) return best;
  for (const o of state.orders.values()) {
    if (!OPEN.has(o.status)) continue;
    for (const s of [o.pickup, o.dropoff]) {
      const p = toScreen(s.lat, s.lon);
      const dd = (p.x - x) ** 2 + (p.y - y) ** 2;
      if (dd < bestD) { bestD = dd; best = { kind: "order", id: o.id }; }
    }
  }
  return best;
}
