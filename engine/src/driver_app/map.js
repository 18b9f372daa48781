// The route on a small map: the stops in order (numbered, pickups square, dropoffs
// round, late ones red), the line through them from the driver's position (along the
// streets when the engine dispatches on roads: each stop's `path`), and the
// driver. No tiles (the app needs no network but the engine): a local equirectangular
// projection around the points, north up, with a scale bar.

import { decodePolyline } from "./polyline.js";

const NS = "http://www.w3.org/2000/svg";
const W = 400;
const H = 300;
const PAD = 28;

function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text != null) e.textContent = text;
  return e;
}

/** A projection fitting `points` ({lat, lon}) into the map, metres kept square. */
export function projection(points) {
  const lats = points.map((p) => p.lat);
  const lons = points.map((p) => p.lon);
  const lat0 = (Math.min(...lats) + Math.max(...lats)) / 2;
  const lon0 = (Math.min(...lons) + Math.max(...lons)) / 2;
  const kx = 111_320 * Math.cos((lat0 * Math.PI) / 180);
  const ky = 110_540;
  const xs = points.map((p) => (p.lon - lon0) * kx);
  const ys = points.map((p) => (p.lat - lat0) * ky);
  const spanX = Math.max(200, Math.max(...xs) - Math.min(...xs));
  const spanY = Math.max(200, Math.max(...ys) - Math.min(...ys));
  const mPerPx = Math.max(spanX / (W - 2 * PAD), spanY / (H - 2 * PAD));
  return {
    mPerPx,
    at(p) {
      return { x: W / 2 + ((p.lon - lon0) * kx) / mPerPx, y: H / 2 - ((p.lat - lat0) * ky) / mPerPx };
    },
  };
}

function scaleBar(svg, mPerPx) {
  const target = mPerPx * 80;
  const pow = 10 ** Math.floor(Math.log10(target));
  const step = [1, 2, 5, 10].map((k) => k * pow).filter((v) => v <= target).pop() || pow;
  const px = step / mPerPx;
  const label = step >= 1000 ? `${step / 1000} km` : `${step} m`;
  svg.append(el("line", { x1: 10, y1: H - 12, x2: 10 + px, y2: H - 12, class: "scale" }));
  svg.append(el("text", { x: 10, y: H - 16, class: "scale-label" }, label));
}

/** Draws `stops` and the driver's `me` ({lat, lon} or null) into `svg`. */
export function drawMap(svg, stops, me) {
  svg.replaceChildren();
  const points = stops.map((s) => ({ lat: s.lat, lon: s.lon }));
  if (me) points.push(me);
  if (!points.length) {
    svg.append(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "hint" }, "No position or stops yet"));
    return null;
  }
  const line = me ? [me] : [];
  for (const s of stops) line.push(...(s.path ? decodePolyline(s.path) : []), s);
  const proj = projection(points);
  const path = line.map((p) => proj.at(p));
  if (path.length > 1) {
    svg.append(el("polyline", { points: path.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" "), class: "leg" }));
  }
  stops.forEach((s, i) => {
    const p = proj.at(s);
    const late = s.due_ms != null && s.eta_ms > s.due_ms;
    const cls = `stop ${s.kind}${late ? " late" : ""}`;
    const g = el("g", { class: cls, "data-stop": s.stop_id });
    g.append(s.kind === "pickup"
      ? el("rect", { x: p.x - 9, y: p.y - 9, width: 18, height: 18, rx: 3 })
      : el("circle", { cx: p.x, cy: p.y, r: 10 }));
    g.append(el("text", { x: p.x, y: p.y + 4, "text-anchor": "middle" }, i + 1));
    svg.append(g);
  });
  if (me) {
    const p = proj.at(me);
    svg.append(el("circle", { cx: p.x, cy: p.y, r: 14, class: "me-halo" }));
    svg.append(el("circle", { cx: p.x, cy: p.y, r: 7, class: "me" }));
  }
  scaleBar(svg, proj.mPerPx);
  return proj;
}
