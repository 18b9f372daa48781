// The driver app: sign in with a driver token, go available / break / offline, share
// the phone's position over the driver socket, see and work the route (list and map),
// with stops marked offline kept in the outbox until the engine has them.
// Modules: wire.js (the socket), outbox.js (marked stops and photos), stops.js (the
// list), map.js (the map). `window.driverApp` lets the browser test read the state.

import { Wire } from "./wire.js";
import { Outbox } from "./outbox.js";
import { esc, preparePhoto, renderStops } from "./stops.js";
import { drawMap } from "./map.js";

const TOKEN_KEY = "dispatch.driver.token";
const STATUS_KEY = "dispatch.driver.status";
/** Positions go out at most this often (the engine keeps the latest anyway). */
const POSITION_EVERY_MS = 2_000;

const $ = (id) => document.getElementById(id);

const state = {
  token: null,
  driverId: null,
  conn: "idle",
  connDetail: "",
  route: { version: -1, stops: [] },
  status: null,
  me: null,
  positionsSent: 0,
  lastSentMs: 0,
  open: null,
  /** Whether the driver picked the open stop (else it follows the route's first). */
  openChosen: false,
  done: new Set(),
  refused: null,
  geo: { watch: null, error: null },
};

let wire = null;
const outbox = new Outbox({
  changed: () => render(),
  rejected: (item, why) => toast(`${item.stop_id}: ${why}`, "bad"),
  uploaded: (item) => toast(`Photo stored for ${item.order_id}`),
  token: () => state.token,
});

function store(key, value) {
  try {
    if (value == null) localStorage.removeItem(key); else localStorage.setItem(key, value);
  } catch (_) { /* private mode: this session only */ }
}

function stored(key) {
  try { return localStorage.getItem(key); } catch (_) { return null; }
}

// ------------------------------------------------------------------ sign-in
function takeTokenFromUrl() {
  const url = new URL(location.href);
  const token = url.searchParams.get("token");
  if (!token) return;
  store(TOKEN_KEY, token.trim());
  // Keep the token out of the history and of a bookmark of the installed app.
  url.searchParams.delete("token");
  history.replaceState(null, "", url.pathname + url.search + url.hash);
}

function showSignIn(error) {
  $("work").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").hidden = !error;
  $("sign-in-error").textContent = error || "";
  $("who").textContent = "Driver";
}

function signIn(token) {
  state.token = token;
  state.refused = null;
  store(TOKEN_KEY, token);
  $("sign-in").hidden = true;
  $("work").hidden = false;
  $("sign-out").hidden = false;
  wire = new Wire(token, {
    state: (conn, detail) => { state.conn = conn; state.connDetail = detail; render(); },
    welcome: onWelcome,
    route: (msg) => setRoute(msg.route),
    ack: (msg) => { if (msg.stop_id) state.done.add(msg.stop_id); outbox.ack(msg); render(); },
    error: onError,
    refused: onRefused,
  });
  wire.open();
  render();
}

function signOut() {
  const n = outbox.pending;
  if (n && !confirm(`${n} marked stop(s) are not sent yet and would be lost. Sign out anyway?`)) return;
  if (wire) wire.stop();
  wire = null;
  stopGeo();
  store(TOKEN_KEY, null);
  store(STATUS_KEY, null);
  Object.assign(state, { token: null, driverId: null, status: null, route: { version: -1, stops: [] } });
  showSignIn();
}

function onRefused(why) {
  state.refused = why;
  stopGeo();
  store(TOKEN_KEY, null);
  wire = null;
  showSignIn(`The engine refused this token: ${why}. Ask your dispatcher for a new one.`);
}

// ------------------------------------------------------------------ messages
function onWelcome(msg) {
  state.driverId = msg.driver_id;
  state.route = { version: -1, stops: [] };
  setRoute(msg.route);
  outbox.welcome(msg.route, wire);
  const want = stored(STATUS_KEY);
  if (want) {
    applyStatus(want);
  } else {
    loadStatus();
  }
  if (state.me) sendPosition(true);
}

function setRoute(route) {
  if (route.version < state.route.version) return;
  state.route = route;
  const ids = new Set(route.stops.map((s) => s.stop_id));
  for (const id of state.done) if (!ids.has(id)) state.done.delete(id);
  const visible = visibleStops();
  // The next stop is open unless the driver chose another one that is still there.
  if (!state.openChosen || !visible.some((s) => s.stop_id === state.open)) {
    state.open = visible.length ? visible[0].stop_id : null;
    state.openChosen = false;
  }
  render();
}

function onError(msg) {
  if (outbox.error(msg)) return;
  toast(`${msg.code}: ${msg.message}`, "bad");
}

/** The status the engine has for this driver, when the app has not chosen one. */
async function loadStatus() {
  try {
    const resp = await fetch(`/v1/drivers/${encodeURIComponent(state.driverId)}`, {
      headers: { Authorization: `Bearer ${state.token}` },
    });
    if (!resp.ok) return;
    const d = await resp.json();
    if (!stored(STATUS_KEY)) {
      state.status = d.status;
      followStatus();
      render();
    }
  } catch (_) { /* shown as not connected anyway */ }
}

// ------------------------------------------------------------------ status and position
function applyStatus(status) {
  state.status = status;
  store(STATUS_KEY, status);
  if (wire) wire.send({ type: "status", status });
  followStatus();
  render();
}

/** Position is shared while available or on a break, not while offline. */
function followStatus() {
  if (state.status === "available" || state.status === "break") startGeo(); else stopGeo();
}

function startGeo() {
  if (state.geo.watch != null) return;
  if (!("geolocation" in navigator)) {
    state.geo.error = "this browser has no location";
    return;
  }
  state.geo.watch = navigator.geolocation.watchPosition(onPosition, (e) => {
    state.geo.error = e.message || "location refused";
    render();
  }, { enableHighAccuracy: true, maximumAge: 5_000, timeout: 30_000 });
}

function stopGeo() {
  if (state.geo.watch != null) navigator.geolocation.clearWatch(state.geo.watch);
  state.geo.watch = null;
}

function onPosition(pos) {
  const c = pos.coords;
  state.me = {
    lat: c.latitude,
    lon: c.longitude,
    ts_ms: Math.round(pos.timestamp || Date.now()),
    accuracy: c.accuracy,
    speed: c.speed,
    heading: c.heading,
  };
  state.geo.error = null;
  sendPosition(false);
  render();
}

function sendPosition(force) {
  const me = state.me;
  if (!me || !wire || !wire.ready) return;
  if (state.status !== "available" && state.status !== "break") return;
  const now = Date.now();
  if (!force && now - state.lastSentMs < POSITION_EVERY_MS) return;
  const msg = { type: "position", lat: me.lat, lon: me.lon, ts_ms: me.ts_ms };
  if (Number.isFinite(me.speed) && me.speed >= 0) msg.speed_mps = me.speed;
  if (Number.isFinite(me.heading) && me.heading >= 0 && me.heading < 360) msg.heading_deg = me.heading;
  if (wire.send(msg) != null) {
    state.lastSentMs = now;
    state.positionsSent += 1;
  }
}

// ------------------------------------------------------------------ stops
function visibleStops() {
  return state.route.stops.filter((s) => !state.done.has(s.stop_id));
}

async function mark(li, outcome) {
  const note = (li.querySelector("[name=note]") || {}).value || "";
  const file = li.querySelector("[name=photo]")?.files?.[0];
  let proof = null;
  if (file) {
    try {
      proof = await preparePhoto(file);
    } catch (e) {
      toast(`The photo could not be read: ${e.message || e}`, "bad");
      $("stops").dataset.html = "";
      render();
      return;
    }
  }
  outbox.add({
    stop_id: li.dataset.stop,
    order_id: li.dataset.order,
    kind: li.dataset.kind,
    outcome,
    note: note.trim(),
    ts_ms: Date.now(),
    proof,
  });
  const next = visibleStops().find((s) => s.stop_id !== li.dataset.stop && !outbox.has(s.stop_id));
  state.open = next ? next.stop_id : null;
  state.openChosen = false;
  if (wire) outbox.flush(wire);
  render();
}

function onStopsClick(ev) {
  const open = ev.target.closest("[data-open]");
  if (open) {
    state.open = open.dataset.open;
    state.openChosen = true;
    render();
    return;
  }
  const btn = ev.target.closest("[data-outcome]");
  if (btn && !btn.disabled) {
    btn.disabled = true;
    mark(btn.closest("li.stop"), btn.dataset.outcome);
  }
}

// ------------------------------------------------------------------ rendering
let toastTimer = null;
function toast(text, kind) {
  const t = $("toast");
  t.textContent = text;
  t.className = kind || "";
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 5_000);
}

const CONN_TEXT = {
  idle: "not connected",
  connecting: "connecting…",
  connected: "online",
  reconnecting: "offline — reconnecting",
  stopped: "signed out",
};

function renderHeader() {
  $("who").textContent = state.driverId || "Driver";
  const conn = $("conn");
  conn.dataset.conn = state.conn;
  conn.textContent = CONN_TEXT[state.conn] || state.conn;
  conn.title = state.connDetail;
  const n = outbox.pending;
  $("outbox").hidden = n === 0;
  $("outbox").textContent = `${n} to send`;
  for (const b of document.querySelectorAll("[data-status]")) {
    b.setAttribute("aria-pressed", String(b.dataset.status === state.status));
  }
  const me = state.me;
  $("gps").textContent = state.geo.error
    ? `Location: ${state.geo.error}`
    : me && state.geo.watch != null
      ? `Location shared: ${me.lat.toFixed(5)}, ${me.lon.toFixed(5)} (±${Math.round(me.accuracy || 0)} m)`
      : "Location: not shared";
}

/** Re-renders the list, moving the open stop's note and photo inputs (what the driver
 * typed or picked) into the new list: an ETA push must not wipe them. */
function replaceKeepingInputs(list, html) {
  const sel = state.open && `li.stop[data-stop="${CSS.escape(state.open)}"]`;
  const kept = sel ? [...list.querySelectorAll(`${sel} [name=note], ${sel} [name=photo]`)] : [];
  list.innerHTML = html;
  for (const input of kept) {
    const fresh = list.querySelector(`${sel} [name=${input.name}]`);
    if (fresh) fresh.replaceWith(input);
  }
}

function render() {
  if ($("work").hidden) return;
  renderHeader();
  const stops = visibleStops();
  $("route-version").textContent = state.route.version >= 0 ? `v${state.route.version} · ${stops.length} stops` : "";
  $("empty").hidden = stops.length > 0;
  const list = $("stops");
  // Keep what the driver is typing: re-render only when what is shown changed.
  const html = renderStops(stops, (id) => outbox.has(id), state.open);
  if (list.dataset.html !== html) {
    replaceKeepingInputs(list, html);
    list.dataset.html = html;
  }
  drawMap($("map"), stops, state.me);
}

// ------------------------------------------------------------------ start
function start() {
  takeTokenFromUrl();
  $("sign-in-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const token = $("token-input").value.trim();
    if (token) signIn(token);
  });
  $("sign-out").addEventListener("click", signOut);
  for (const b of document.querySelectorAll("[data-status]")) {
    b.addEventListener("click", () => applyStatus(b.dataset.status));
  }
  $("stops").addEventListener("click", onStopsClick);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/driver/sw.js", { scope: "/driver" }).catch(() => {});
  }
  const token = stored(TOKEN_KEY);
  if (token) signIn(token); else showSignIn();
}

window.driverApp = {
  state: () => ({
    conn: state.conn,
    driverId: state.driverId,
    status: state.status,
    routeVersion: state.route.version,
    stops: visibleStops().map((s) => s.stop_id),
    outbox: outbox.pending,
    positionsSent: state.positionsSent,
    me: state.me,
    refused: state.refused,
    signedIn: !!state.token,
  }),
  dropConnection: () => wire && wire.drop(),
  esc,
};

start();
