// The dispatch console: one page, no dependencies, no network beyond the engine that
// serves it. It talks JSON over /ws/console (snapshot, drivers batches, order changes,
// stats) and reads details over HTTP (GET /v1/drivers/{id}, GET /v1/orders/{id}).
// Everything on the map is drawn on one canvas: 10,000 drivers are 10,000 arcs in four
// paths (one per colour), not DOM nodes. This file wires the page together; its parts
// are ES modules under /console/ (no build step): shared state and helpers, the map
// projection, drawing, the socket, the panels, order creation, the driver list, the
// alerts and the trail replay.

import { $, TOKEN_KEY, VIEW_KEY, BACKOFF_MIN_MS, DETAIL_REFRESH_MS, COLORS, canvas, state, driversOnRoute, colourKey } from "./console/shared.js";
import { scale, toScreen, toLatLon, fitTo, zoomAt, userMoved } from "./console/geo.js";
import { resize, loop } from "./console/draw.js";
import { setConn, connect, send, subscribe, scheduleResubscribe, refreshDriverDetail, select, hitTest, getJson, renderReplayBox } from "./console/conn.js";
import { renderLists, renderDetail, issueAppLink } from "./console/panels.js";
import { startPick, stopPick, picked, submitOrder } from "./console/create.js";
import { renderDriverList, driverRows } from "./console/fleet.js";
import { alertLimits, refreshAlerts } from "./console/alerts.js";
import { loadReplay, closeReplay, togglePlay, seek } from "./console/replay.js";

// ------------------------------------------------------------------ input
function wireMap() {
  let drag = null;
  canvas.addEventListener("pointerdown", (ev) => {
    canvas.setPointerCapture(ev.pointerId);
    drag = { x: ev.offsetX, y: ev.offsetY, cx: state.view.cx, cy: state.view.cy, moved: false };
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    const dx = ev.offsetX - drag.x, dy = ev.offsetY - drag.y;
    if (!drag.moved && dx * dx + dy * dy < 16) return;
    drag.moved = true;
    canvas.classList.add("dragging");
    const s = scale();
    state.view.cx = drag.cx - dx / s;
    state.view.cy = drag.cy - dy / s;
    state.dirty = true;
  });
  canvas.addEventListener("pointerup", (ev) => {
    const d = drag;
    drag = null;
    canvas.classList.remove("dragging");
    if (!d) return;
    if (d.moved) { userMoved(); return; }
    onClick(ev.offsetX, ev.offsetY);
  });
  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    zoomAt(ev.offsetX, ev.offsetY, -Math.sign(ev.deltaY) * (ev.ctrlKey ? 0.25 : 0.5));
  }, { passive: false });
  canvas.addEventListener("dblclick", (ev) => zoomAt(ev.offsetX, ev.offsetY, 1));
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") { if (state.pick) stopPick(); else select(null); }
    if (ev.target !== canvas) return;
    const step = 80 / scale();
    if (ev.key === "+" || ev.key === "=") zoomAt(canvas.clientWidth / 2, canvas.clientHeight / 2, 1);
    else if (ev.key === "-") zoomAt(canvas.clientWidth / 2, canvas.clientHeight / 2, -1);
    else if (ev.key === "ArrowLeft") { state.view.cx -= step; userMoved(); }
    else if (ev.key === "ArrowRight") { state.view.cx += step; userMoved(); }
    else if (ev.key === "ArrowUp") { state.view.cy -= step; userMoved(); }
    else if (ev.key === "ArrowDown") { state.view.cy += step; userMoved(); }
  });
  // The canvas changes size with the window and when the detail panel opens or closes.
  new ResizeObserver(() => { resize(); scheduleResubscribe(); }).observe(canvas);
}

function wireControls() {
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    setToken($("token").value.trim());
    state.backoff = BACKOFF_MIN_MS;
    connect();
  });
  $("new-order").addEventListener("click", startPick);
  $("fit").addEventListener("click", () => {
    state.fitOnSnapshot = true;
    subscribe(null);
  });
  $("order-form").addEventListener("submit", submitOrder);
  $("order-form-cancel").addEventListener("click", stopPick);
  $("detail-close").addEventListener("click", () => select(null));
  for (const tab of document.querySelectorAll("[data-tab]")) {
    tab.addEventListener("click", () => showTab(tab.dataset.tab));
  }
}

/** Shows one of the side panel's lists (drivers, orders, alerts). */
function showTab(name) {
  for (const t of document.querySelectorAll("[data-tab]")) t.classList.toggle("active", t.dataset.tab === name);
  for (const p of document.querySelectorAll("[data-pane]")) p.hidden = p.dataset.pane !== name;
}

function wirePanels() {
  $("driver-filter").addEventListener("input", renderDriverList);
  $("driver-status").addEventListener("change", renderDriverList);
  $("driver-list").addEventListener("click", (ev) => {
    const li = ev.target.closest("li[data-driver]");
    if (li) { select("driver", li.dataset.driver); state.fitRoute = true; }
  });
  $("alert-list").addEventListener("click", (ev) => {
    const li = ev.target.closest("li[data-alert]");
    if (!li) return;
    if (li.dataset.order) select("order", li.dataset.order);
    else if (li.dataset.driver) { select("driver", li.dataset.driver); state.fitRoute = true; }
  });
  $("order-filter").addEventListener("input", renderLists);
  $("order-status").addEventListener("change", renderLists);
  $("order-list").addEventListener("click", (ev) => {
    const li = ev.target.closest("li[data-id]");
    if (!li) return;
    select("order", li.dataset.id);
    const o = state.orders.get(li.dataset.id);
    if (o) fitTo([o.pickup, o.dropoff], Math.max(state.view.z, 12));
  });
  $("detail-body").addEventListener("click", (ev) => {
    const t = ev.target;
    if (t.dataset.driver) { select("driver", t.dataset.driver); state.fitRoute = true; }
    else if (t.dataset.order) select("order", t.dataset.order);
    else if (t.id === "cancel-order") send({ type: "cancel_order", id: t.dataset.id });
    else if (t.dataset.appLink) issueAppLink(t.dataset.appLink);
  });
  $("detail-replay").addEventListener("click", async (ev) => {
    const t = ev.target;
    if (t.dataset.replay) { await loadReplay(getJson, t.dataset.replay, 24); renderReplayBox(); }
    else if (t.id === "replay-play") togglePlay();
    else if (t.id === "replay-close") { closeReplay(); renderReplayBox(); }
  });
  $("detail-replay").addEventListener("input", (ev) => { if (ev.target.id === "replay-slider") seek(ev.target.value); });
}
function onClick(x, y) {
  if (state.pick && state.pick.stage !== "form") { picked(toLatLon(x, y)); return; }
  const hit = hitTest(x, y);
  select(hit ? hit.kind : null, hit ? hit.id : null);
}

function setToken(t) {
  state.token = t;
  $("token").value = t;
  try { if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY); } catch (_) { /* private mode */ }
}

// ------------------------------------------------------------------ start
function start() {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get("token");
  let stored = null;
  try { stored = localStorage.getItem(TOKEN_KEY); } catch (_) { /* private mode */ }
  setToken(fromUrl || stored || "");
  try {
    const v = JSON.parse(localStorage.getItem(VIEW_KEY) || "null");
    if (v && Number.isFinite(v.cx) && Number.isFinite(v.cy) && Number.isFinite(v.z)) {
      state.view = v;
      state.fitOnSnapshot = false;
    }
  } catch (_) { /* no saved view */ }
  state.alertLimits = alertLimits(url);
  resize();
  wireMap();
  wireControls();
  wirePanels();
  setInterval(() => { if (state.selected && state.selected.kind === "driver") refreshDriverDetail(); }, DETAIL_REFRESH_MS);
  setInterval(() => {
    if (state.selected) renderDetail();
    refreshAlerts(Date.now());
    renderDriverList();
  }, 1000);
  requestAnimationFrame(loop);
  if (state.token) connect(); else setConn("idle", "enter a console token");
}

// Hooks for the browser test and for debugging from the devtools console (read-only,
// but for dropConnection, which simulates a network cut).
window.dispatchConsole = {
  dropConnection: () => { if (state.ws) state.ws.close(); },
  toScreen,
  toLatLon,
  state: () => ({
    conn: state.conn,
    drivers: state.drivers.size,
    orders: state.orders.size,
    frame: Object.assign({}, state.frame),
    view: Object.assign({}, state.view),
    subscribedBbox: state.subscribedBbox,
    stats: state.stats,
    selected: state.selected,
    attempts: state.attempts,
    retryPending: state.retryTimer != null,
    alerts: state.alerts.map((a) => Object.assign({}, a)),
    profiles: state.profiles.size,
    replay: state.replay ? { id: state.replay.id, points: state.replay.points.length, t: state.replay.t } : null,
  }),
  driverRows: () => driverRows().map((r) => Object.assign({}, r, { next: r.next && { kind: r.next.kind, order: r.next.order.id, eta: r.next.eta } })),
  order: (id) => state.orders.get(id) || null,
  driver: (id) => {
    const d = state.drivers.get(id);
    return d ? Object.assign({}, d) : null;
  },
  colourOf: (id) => {
    const d = state.drivers.get(id);
    return d ? COLORS[colourKey(d, driversOnRoute())] : null;
  },
};

start();
