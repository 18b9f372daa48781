// The map's projection (Web Mercator) and view: screen <-> lat/lon, fitting, zooming.

import { scheduleResubscribe } from "./conn.js";

import { VIEW_KEY, canvas, state } from "./shared.js";

// ------------------------------------------------------------------ projection
// Web Mercator: the world is the unit square; at zoom z it is 256 * 2^z pixels wide.
export function mercX(lon) { return (lon + 180) / 360; }
export function mercY(lat) {
  const s = Math.sin((Math.max(-85.05, Math.min(85.05, lat)) * Math.PI) / 180);
  return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
}
export function unmercLon(x) { return x * 360 - 180; }
export function unmercLat(y) {
  const n = Math.PI - 2 * Math.PI * y;
  return (180 / Math.PI) * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n)));
}
export function scale() { return 256 * Math.pow(2, state.view.z); }
export function cssSize() { return { w: canvas.clientWidth, h: canvas.clientHeight }; }
export function toScreen(lat, lon) {
  const { w, h } = cssSize();
  const s = scale();
  return { x: (mercX(lon) - state.view.cx) * s + w / 2, y: (mercY(lat) - state.view.cy) * s + h / 2 };
}
export function toLatLon(x, y) {
  const { w, h } = cssSize();
  const s = scale();
  return { lat: unmercLat(state.view.cy + (y - h / 2) / s), lon: unmercLon(state.view.cx + (x - w / 2) / s) };
}
/** The visible box, [min_lon, min_lat, max_lon, max_lat], grown by `pad` of its size. */
export function visibleBbox(pad) {
  const { w, h } = cssSize();
  const a = toLatLon(-w * pad, h * (1 + pad));
  const b = toLatLon(w * (1 + pad), -h * pad);
  return [clampLon(a.lon), clampLat(a.lat), clampLon(b.lon), clampLat(b.lat)];
}
export function clampLon(v) { return Math.max(-180, Math.min(180, v)); }
export function clampLat(v) { return Math.max(-90, Math.min(90, v)); }
export function inBbox(b, lat, lon) { return !b || (lon >= b[0] && lon <= b[2] && lat >= b[1] && lat <= b[3]); }

export function fitTo(points, maxZ = 16) {
  if (!points.length) return;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const p of points) {
    const x = mercX(p.lon), y = mercY(p.lat);
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  const { w, h } = cssSize();
  const spanX = Math.max(x1 - x0, 1e-6), spanY = Math.max(y1 - y0, 1e-6);
  const z = Math.log2(Math.min((w * 0.85) / spanX, (h * 0.85) / spanY) / 256);
  state.view = { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, z: Math.max(1, Math.min(maxZ, z)) };
  afterViewChange();
}
export function saveView() {
  try { localStorage.setItem(VIEW_KEY, JSON.stringify(state.view)); } catch (_) { /* private mode */ }
}
/** The dispatcher moved the map: the console no longer fits the fleet by itself. */
export function userMoved() {
  state.fitOnSnapshot = false;
  afterViewChange();
}

export function zoomAt(x, y, dz) {
  const before = toLatLon(x, y);
  state.view.z = Math.max(1, Math.min(20, state.view.z + dz));
  const s = scale();
  const { w, h } = cssSize();
  state.view.cx = mercX(before.lon) - (x - w / 2) / s;
  state.view.cy = mercY(before.lat) - (y - h / 2) / s;
  userMoved();
}
export function afterViewChange() {
  saveView();
  state.dirty = true;
  scheduleResubscribe();
}
