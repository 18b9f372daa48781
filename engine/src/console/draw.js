// Drawing the map on its canvas: graticule, scale bar, orders, the selected route,
// drivers (one path per colour), the order being created, a replayed trail.

import { COLORS, canvas, ctx, state, driverPos, driversOnRoute, colourKey } from "./shared.js";
import { scale, cssSize, toScreen, toLatLon } from "./geo.js";
import { decodePolyline } from "./polyline.js";
import { drawReplay } from "./replay.js";

// ------------------------------------------------------------------ drawing
export function resize() {
  const dpr = window.devicePixelRatio || 1;
  const { w, h } = cssSize();
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  state.dirty = true;
}

export function drawGrid(w, h) {
  // A graticule whose step follows the zoom, so the map always has a sense of scale.
  const a = toLatLon(0, h), b = toLatLon(w, 0);
  const spanDeg = Math.max(b.lon - a.lon, 1e-9);
  const step = niceStep(spanDeg / 6);
  ctx.strokeStyle = COLORS.grid;
  ctx.fillStyle = COLORS.gridText;
  ctx.lineWidth = 1;
  ctx.font = "10px system-ui, sans-serif";
  ctx.beginPath();
  for (let lon = Math.ceil(a.lon / step) * step; lon <= b.lon; lon += step) {
    const x = toScreen(0, lon).x;
    ctx.moveTo(x, 0); ctx.lineTo(x, h);
    ctx.fillText(lon.toFixed(decimals(step)), x + 2, h - 4);
  }
  for (let lat = Math.ceil(a.lat / step) * step; lat <= b.lat; lat += step) {
    const y = toScreen(lat, a.lon).y;
    ctx.moveTo(0, y); ctx.lineTo(w, y);
    ctx.fillText(lat.toFixed(decimals(step)), 2, y - 2);
  }
  ctx.stroke();
}
export function niceStep(x) {
  const p = Math.pow(10, Math.floor(Math.log10(x)));
  const m = x / p;
  return (m < 2 ? 1 : m < 5 ? 2 : 5) * p;
}
export function decimals(step) { return Math.max(0, Math.min(6, -Math.floor(Math.log10(step)))); }

export function drawScaleBar(w, h) {
  const mid = toLatLon(w / 2, h / 2);
  const metresPerPx = (40075016.686 * Math.cos((mid.lat * Math.PI) / 180)) / scale();
  const target = metresPerPx * 120;
  const nice = niceStep(target);
  const px = nice / metresPerPx;
  ctx.fillStyle = "rgba(255,255,255,0.85)";
  ctx.fillRect(8, h - 54, Math.max(px + 16, 64), 22);
  ctx.strokeStyle = COLORS.selected;
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(16, h - 38); ctx.lineTo(16, h - 34); ctx.lineTo(16 + px, h - 34); ctx.lineTo(16 + px, h - 38);
  ctx.stroke();
  ctx.fillStyle = COLORS.selected;
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillText(nice >= 1000 ? `${nice / 1000} km` : `${nice} m`, 20, h - 40);
}

export function draw(now) {
  const t0 = performance.now();
  const { w, h } = cssSize();
  ctx.clearRect(0, 0, w, h);
  drawGrid(w, h);
  const ordersDrawn = drawOrders(w, h);
  const routeStops = drawRoute(now);
  drawSelectedOrder();
  const replayed = drawReplay();
  const { drawn, moving } = drawDrivers(now, w, h);
  drawPick();
  drawScaleBar(w, h);
  state.frame = { drivers: drawn, orders: ordersDrawn, routeStops, replayed, at: now, drawMs: performance.now() - t0 };
  return moving;
}

/** Pending and unassignable orders: pickup (filled square), dropoff (hollow), joined. */
function drawOrders(w, h) {
  let ordersDrawn = 0;
  for (const key of ["pending", "unassignable"]) {
    ctx.strokeStyle = COLORS[key];
    ctx.fillStyle = COLORS[key];
    ctx.lineWidth = 1;
    const filled = new Path2D();
    const hollow = new Path2D();
    const links = new Path2D();
    for (const o of state.orders.values()) {
      if (o.status !== key) continue;
      const p = toScreen(o.pickup.lat, o.pickup.lon);
      const q = toScreen(o.dropoff.lat, o.dropoff.lon);
      if (!onScreen(p, w, h) && !onScreen(q, w, h)) continue;
      filled.rect(p.x - 4, p.y - 4, 8, 8);
      hollow.rect(q.x - 3.5, q.y - 3.5, 7, 7);
      links.moveTo(p.x, p.y);
      links.lineTo(q.x, q.y);
      ordersDrawn++;
    }
    ctx.setLineDash([3, 3]);
    ctx.stroke(links);
    ctx.setLineDash([]);
    ctx.fill(filled);
    ctx.lineWidth = 1.5;
    ctx.stroke(hollow);
  }
  return ordersDrawn;
}

/** The selected driver's route, from where it is through its stops in order (along the
 * streets where the stops carry their legs' road paths). */
function drawRoute(now) {
  const sel = state.selected;
  if (!sel || sel.kind !== "driver" || !state.driverDetail || state.driverDetail.id !== sel.id) return 0;
  const d = state.drivers.get(sel.id);
  const stops = (state.driverDetail.route && state.driverDetail.route.stops) || [];
  const start = d ? driverPos(d, now) : state.driverDetail.lat != null ? state.driverDetail : null;
  ctx.strokeStyle = COLORS.route;
  ctx.lineWidth = 3;
  ctx.beginPath();
  if (start) { const s = toScreen(start.lat, start.lon); ctx.moveTo(s.x, s.y); }
  for (const st of stops) {
    for (const { lat, lon } of st.path ? decodePolyline(st.path) : []) {
      const q = toScreen(lat, lon);
      ctx.lineTo(q.x, q.y);
    }
    const p = toScreen(st.lat, st.lon);
    ctx.lineTo(p.x, p.y);
  }
  ctx.stroke();
  ctx.font = "bold 11px system-ui, sans-serif";
  stops.forEach((st, i) => {
    const p = toScreen(st.lat, st.lon);
    ctx.fillStyle = "#fff";
    ctx.strokeStyle = COLORS.route;
    ctx.lineWidth = 2;
    ctx.beginPath();
    // Pickups are circles, dropoffs squares, numbered in route order.
    if (st.kind === "pickup") ctx.arc(p.x, p.y, 8, 0, 2 * Math.PI);
    else ctx.rect(p.x - 7.5, p.y - 7.5, 15, 15);
    ctx.fill();
    ctx.stroke();
    ctx.fillStyle = COLORS.route;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(String(i + 1), p.x, p.y + 0.5);
    ctx.textAlign = "start";
    ctx.textBaseline = "alphabetic";
  });
  return stops.length;
}

/** The selected order's pickup and dropoff. */
function drawSelectedOrder() {
  const sel = state.selected;
  const o = sel && sel.kind === "order" ? state.orders.get(sel.id) : null;
  if (!o) return;
  const p = toScreen(o.pickup.lat, o.pickup.lon), q = toScreen(o.dropoff.lat, o.dropoff.lon);
  ctx.strokeStyle = COLORS.selected;
  ctx.lineWidth = 2;
  ctx.beginPath(); ctx.moveTo(p.x, p.y); ctx.lineTo(q.x, q.y); ctx.stroke();
  ctx.strokeRect(p.x - 7, p.y - 7, 14, 14);
  ctx.beginPath(); ctx.arc(q.x, q.y, 7, 0, 2 * Math.PI); ctx.stroke();
}

/** Drivers: one path per colour; the selected one ringed. */
function drawDrivers(now, w, h) {
  const sel = state.selected;
  const busy = driversOnRoute();
  const paths = { available: new Path2D(), on_route: new Path2D(), break: new Path2D(), offline: new Path2D() };
  const r = state.view.z >= 13 ? 4 : 3;
  let drawn = 0, moving = false, selectedAt = null;
  for (const d of state.drivers.values()) {
    const pos = driverPos(d, now);
    if (pos.moving) moving = true;
    const p = toScreen(pos.lat, pos.lon);
    if (!onScreen(p, w, h)) continue;
    const path = paths[colourKey(d, busy)];
    path.moveTo(p.x + r, p.y);
    path.arc(p.x, p.y, r, 0, 2 * Math.PI);
    drawn++;
    if (sel && sel.kind === "driver" && sel.id === d.id) selectedAt = p;
  }
  for (const key of ["offline", "break", "available", "on_route"]) {
    ctx.fillStyle = COLORS[key];
    ctx.fill(paths[key]);
  }
  if (selectedAt) {
    ctx.strokeStyle = COLORS.selected;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(selectedAt.x, selectedAt.y, r + 4, 0, 2 * Math.PI);
    ctx.stroke();
  }
  return { drawn, moving };
}

/** The order being created. */
function drawPick() {
  if (!state.pick) return;
  ctx.fillStyle = COLORS.selected;
  for (const k of ["pickup", "dropoff"]) {
    const s = state.pick[k];
    if (!s) continue;
    const p = toScreen(s.lat, s.lon);
    ctx.beginPath(); ctx.arc(p.x, p.y, 6, 0, 2 * Math.PI); ctx.fill();
    ctx.fillText(k, p.x + 8, p.y - 8);
  }
}
export function onScreen(p, w, h) { return p.x >= -10 && p.y >= -10 && p.x <= w + 10 && p.y <= h + 10; }

export function loop(now) {
  if (state.dirty) {
    state.dirty = false;
    if (draw(now)) state.dirty = true; // keep drawing while markers glide
  }
  requestAnimationFrame(loop);
}
