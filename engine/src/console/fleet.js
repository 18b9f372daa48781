// The driver list: one row per driver the console sees, with its name (from
// `driver_info`), status, load against capacity, next stop and lateness, all derived
// from the live feed and the open orders (no extra request). Searching and the status
// filter work on these rows; selecting one shows the driver's route.

import { $, MAX_LIST, state, esc, fmtTime, setHtml } from "./shared.js";

/** The stops still ahead for an order on a driver's route, with ETA and due time. */
export function stopsAhead(o) {
  const out = [];
  if (o.status === "assigned") out.push({ kind: "pickup", order: o, eta: o.pickup_eta_ms, due: o.pickup.due_ms });
  if (o.status === "assigned" || o.status === "picked_up") {
    out.push({ kind: "dropoff", order: o, eta: o.dropoff_eta_ms, due: o.dropoff.due_ms });
  }
  return out;
}

/** How late a stop is predicted to be (ms, > 0), or 0. */
export function lateBy(stop) {
  return stop.eta != null && stop.due != null && stop.eta > stop.due ? stop.eta - stop.due : 0;
}

/** Open orders by driver id. */
export function workByDriver(orders) {
  const work = new Map();
  for (const o of orders.values()) {
    if (!o.driver_id || (o.status !== "assigned" && o.status !== "picked_up")) continue;
    if (!work.has(o.driver_id)) work.set(o.driver_id, []);
    work.get(o.driver_id).push(o);
  }
  return work;
}

/** A driver's list row: what a dispatcher scans for. */
export function driverRow(d, work, profile) {
  const stops = work.flatMap(stopsAhead).filter((s) => s.eta != null);
  stops.sort((a, b) => a.eta - b.eta);
  const load = work.filter((o) => o.status === "picked_up").reduce((n, o) => n + o.size, 0);
  const late = stops.reduce((m, s) => Math.max(m, lateBy(s)), 0);
  const status = d.status === "available" ? (work.length ? "on_route" : "available") : d.status;
  return {
    id: d.id,
    name: (profile && profile.name) || "",
    status,
    load,
    capacity: profile ? profile.capacity : null,
    next: stops[0] || null,
    late,
    orders: work.length,
    ts_ms: d.ts_ms,
  };
}

export function driverRows() {
  const work = workByDriver(state.orders);
  return [...state.drivers.values()].map((d) => driverRow(d, work.get(d.id) || [], state.profiles.get(d.id)));
}

/** Whether a row passes the search text and the status filter. */
export function matches(row, text, status) {
  if (status === "late" ? row.late <= 0 : status && row.status !== status) return false;
  if (!text) return true;
  return row.id.toLowerCase().includes(text) || row.name.toLowerCase().includes(text);
}

function rowHtml(r, selected) {
  const who = r.name ? `<b>${esc(r.name)}</b> <small class="id">${esc(r.id)}</small>` : `<b class="id">${esc(r.id)}</b>`;
  const load = r.capacity != null ? `${r.load}/${r.capacity}` : `${r.load}`;
  const next = r.next
    ? `${r.next.kind === "pickup" ? "pick up" : "drop off"} ${esc(r.next.order.id)} · ${fmtTime(r.next.eta)}`
    : "no stops";
  const late = r.late > 0 ? ` <span class="late">${Math.max(1, Math.round(r.late / 60000))} min late</span>` : "";
  return `<li data-driver="${esc(r.id)}" class="${selected ? "selected" : ""}">` +
    `<div class="row1">${who}<span class="status ${esc(r.status)}">${esc(r.status.replace("_", " "))}</span></div>` +
    `<div class="row2"><span title="load / capacity">load ${load}</span> · <span class="next">${next}</span>${late}</div></li>`;
}

export function renderDriverList() {
  const text = $("driver-filter").value.trim().toLowerCase();
  const status = $("driver-status").value;
  const rows = driverRows().filter((r) => matches(r, text, status));
  rows.sort((a, b) => b.late - a.late || (a.name || a.id).localeCompare(b.name || b.id));
  const sel = state.selected;
  $("driver-list-count").textContent = `${rows.length}${rows.length > MAX_LIST ? ` (first ${MAX_LIST})` : ""}`;
  setHtml($("driver-list"), rows.slice(0, MAX_LIST)
    .map((r) => rowHtml(r, sel && sel.kind === "driver" && sel.id === r.id)).join(""));
}

/** The driver's stops in route order (from GET /v1/drivers/{id}), as the detail shows them. */
export function stopListHtml(stops) {
  return `<ol class="stops">${stops.map((s) => {
    const o = state.orders.get(s.order_id);
    const who = o && o.recipient_name ? ` · ${esc(o.recipient_name)}` : "";
    const late = s.due_ms != null && s.eta_ms > s.due_ms ? ' <span class="late">late</span>' : "";
    return `<li data-stop="${esc(s.stop_id)}"><b>${s.kind === "pickup" ? "pick up" : "drop off"}</b> ` +
      `<span class="link" data-order="${esc(s.order_id)}">${esc(s.order_id)}</span>${who}` +
      `<br>ETA ${fmtTime(s.eta_ms)}${late}${s.due_ms != null ? `<br><small>due ${fmtTime(s.due_ms)}</small>` : ""}</li>`;
  }).join("")}</ol>`;
}
