// What every part of the console shares: constants, the one state object, the
// canvas, small formatting helpers and toasts.

// ------------------------------------------------------------------ constants
export const TOKEN_KEY = "dispatch.console.token";
export const VIEW_KEY = "dispatch.console.view";
export const ANIM_MS = 1000; // a marker glides to its new position over this time
export const RESUBSCRIBE_MS = 300; // after the last pan or zoom
export const BACKOFF_MIN_MS = 500;
export const BACKOFF_MAX_MS = 15000;
export const DETAIL_REFRESH_MS = 3000;
export const MAX_LIST = 300;
export const KEEP_FINISHED = 500; // finished orders kept for the list
export const HIT_PX = 9;
export const COLORS = {
  available: "#16a34a",
  on_route: "#2563eb",
  break: "#d97706",
  offline: "#9ca3af",
  pending: "#ea580c",
  unassignable: "#dc2626",
  route: "#7c3aed",
  grid: "#dde1e7",
  gridText: "#9aa1ab",
  selected: "#111827",
};
export const OPEN = new Set(["pending", "assigned", "picked_up", "unassignable"]);
export const CANCELLABLE = new Set(["pending", "assigned", "unassignable"]);

export const $ = (id) => document.getElementById(id);
export const canvas = $("map");
export const ctx = canvas.getContext("2d");

/** Statuses after which a driver may have sent a proof-of-delivery photo. */
export const WITH_PROOF = new Set(["picked_up", "delivered", "failed"]);

// ------------------------------------------------------------------ state
export const state = {
  token: "",
  appLinks: new Map(), // driver id -> driver app sign-in link made in this page
  conn: "idle", // idle | connecting | connected | reconnecting | unauthorized
  ws: null,
  backoff: BACKOFF_MIN_MS,
  retryTimer: null,
  seq: 1,
  drivers: new Map(), // id -> {id, status, ts_ms, lat, lon, fromLat, fromLon, t0}
  orders: new Map(), // id -> Order (open ones from the feed, finished ones seen)
  stats: null,
  subscribedBbox: null, // what the last subscribe asked for (null: everything)
  fitOnSnapshot: true,
  selected: null, // {kind: "driver"|"order", id}
  driverDetail: null, // GET /v1/drivers/{id} answer for the selected driver
  fitRoute: false, // fit the view to the selected driver's route once it loads
  pick: null, // null | {stage: "pickup"|"dropoff", pickup?, dropoff?}
  pendingCreates: new Map(), // seq -> order id
  view: { cx: 0.5, cy: 0.5, z: 2 }, // centre in web-mercator units [0,1], zoom level
  dirty: true,
  frame: { drivers: 0, orders: 0, routeStops: 0, at: 0, drawMs: 0 },
  resubscribeTimer: null,
  lastMessageAt: 0,
  attempts: 0, // sockets opened so far (a refused token stops at one)
  authError: null, // the engine's message refusing the token, until the close
  profiles: new Map(), // driver id -> {id, name?, capacity} from driver_info
  alerts: [], // the alerts now (alerts.js)
  alertsSeen: new Set(), // alert keys already toasted
  alertLimits: { silent_s: 120, unassignable_min: 10 },
  replay: null, // {id, points, t, timer} while a trail is replayed
};

// ------------------------------------------------------------------ rendering panels
export function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
export function fmtTime(ms) {
  if (ms == null) return "—";
  const d = new Date(ms);
  const rel = Math.round((ms - Date.now()) / 60000);
  const hhmm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return rel === 0 ? hhmm : `${hhmm} (${rel > 0 ? "in " : ""}${Math.abs(rel)} min${rel < 0 ? " ago" : ""})`;
}
export function fmtMs(v) { return v == null ? "—" : v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`; }
export function rows(pairs) {
  return pairs.map(([label, n, cls]) => `<tr><td>${cls ? `<i class="${cls}"></i>` : ""}${esc(label)}</td><td class="n">${esc(n)}</td></tr>`).join("");
}

// ------------------------------------------------------------------ toasts
export function toast(text, kind) {
  const el = document.createElement("div");
  el.className = `toast ${kind || ""}`;
  el.textContent = text;
  $("toasts").appendChild(el);
  setTimeout(() => el.remove(), kind === "info" ? 4000 : 8000);
  while ($("toasts").children.length > 5) $("toasts").firstChild.remove();
}

// ------------------------------------------------------------------ drivers
export function driverPos(d, now) {
  const t = Math.min(1, (now - d.t0) / ANIM_MS);
  if (t >= 1) return { lat: d.lat, lon: d.lon, moving: false };
  return { lat: d.fromLat + (d.lat - d.fromLat) * t, lon: d.fromLon + (d.lon - d.fromLon) * t, moving: true };
}
export function applyDriver(u, now, animate) {
  const d = state.drivers.get(u.id);
  if (!d) {
    state.drivers.set(u.id, { id: u.id, status: u.status, ts_ms: u.ts_ms, lat: u.lat, lon: u.lon, fromLat: u.lat, fromLon: u.lon, t0: 0 });
    return;
  }
  const cur = driverPos(d, now);
  d.fromLat = animate ? cur.lat : u.lat;
  d.fromLon = animate ? cur.lon : u.lon;
  d.t0 = now;
  d.lat = u.lat;
  d.lon = u.lon;
  d.status = u.status;
  d.ts_ms = u.ts_ms;
}
/** Drivers holding an open order, from the orders the console knows. */
export function driversOnRoute() {
  const busy = new Set();
  for (const o of state.orders.values()) {
    if (o.driver_id && (o.status === "assigned" || o.status === "picked_up")) busy.add(o.driver_id);
  }
  return busy;
}
export function colourKey(d, busy) {
  if (d.status === "available") return busy.has(d.id) ? "on_route" : "available";
  return d.status === "break" ? "break" : "offline";
}

/** Sets an element's HTML only when it changed (lists re-render every second; an
 * unchanged list keeps its nodes, so a click in progress is not lost). */
const shownHtml = new WeakMap();
export function setHtml(el, html) {
  if (shownHtml.get(el) !== html) {
    el.innerHTML = html;
    shownHtml.set(el, html);
  }
}
