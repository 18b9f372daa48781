// The side panels and the detail panel: totals, lists, a driver's or an order's detail.

import { $, setHtml, MAX_LIST, OPEN, CANCELLABLE, WITH_PROOF, state, esc, fmtTime, fmtMs, rows, toast } from "./shared.js";
import { send } from "./conn.js";
import { stopListHtml, renderDriverList } from "./fleet.js";

export function renderStats() {
  const s = state.stats;
  if (!s) return;
  const d = s.drivers;
  $("drivers-total").textContent = `${d.total} registered`;
  $("driver-counts").innerHTML = rows([
    ["available, idle", d.available - d.on_route, "dot available"],
    ["available, on route", d.on_route, "dot on_route"],
    ["break", d.break, "dot break"],
    ["offline", d.offline, "dot offline"],
  ]);
  const o = s.orders;
  $("order-counts").innerHTML = rows([
    ["pending", o.pending], ["assigned", o.assigned], ["picked up", o.picked_up],
    ["unassignable", o.unassignable], ["delivered", o.delivered], ["cancelled", o.cancelled], ["failed", o.failed],
  ]);
  $("latency-window").textContent = `last ${s.window_s} s`;
  const a = s.assign_latency, r = s.route_latency;
  $("latency").innerHTML = rows([
    ["created → assigned p50", fmtMs(a.count ? a.p50_ms : null)],
    ["created → assigned p99", fmtMs(a.count ? a.p99_ms : null)],
    ["created → route pushed p50", fmtMs(r.count ? r.p50_ms : null)],
    ["created → route pushed p99", fmtMs(r.count ? r.p99_ms : null)],
    ["orders assigned", a.count],
  ]);
}

let listTimer = null;
export function renderListsSoon() {
  if (listTimer) return;
  listTimer = setTimeout(() => { listTimer = null; renderLists(); }, 150);
}
export function renderLists() {
  const text = $("order-filter").value.trim().toLowerCase();
  const status = $("order-status").value;
  const all = [...state.orders.values()].filter((o) => {
    if (status === "open" ? !OPEN.has(o.status) : status && o.status !== status) return false;
    if (!text) return true;
    return [o.id, o.driver_id, o.recipient_name, o.address].some((v) => (v || "").toLowerCase().includes(text));
  });
  all.sort((a, b) => b.created_ms - a.created_ms || (a.id < b.id ? -1 : 1));
  const sel = state.selected;
  $("order-list-count").textContent = `${all.length}${all.length > MAX_LIST ? ` (first ${MAX_LIST})` : ""}`;
  setHtml($("order-list"), all.slice(0, MAX_LIST).map((o) =>
    `<li data-id="${esc(o.id)}" class="${sel && sel.kind === "order" && sel.id === o.id ? "selected" : ""}">` +
    `<span class="id">${esc(o.id)}</span>${o.recipient_name ? `<span class="who">${esc(o.recipient_name)}</span>` : ""}` +
    `<span class="status ${esc(o.status)}">${esc(o.status)}</span></li>`).join(""));
  renderDriverList();
}

export function renderDetail() {
  const sel = state.selected;
  const body = $("detail-body");
  if (!sel) { body.innerHTML = ""; return; }
  body.innerHTML = sel.kind === "driver" ? driverDetailHtml(sel.id) : orderDetailHtml(sel.id);
  // Shown once it loads: most orders have no photo (404).
  const img = body.querySelector("#proof img");
  if (img) img.addEventListener("load", () => { body.querySelector("#proof").hidden = false; });
}

/** A driver's detail: who, status, load, position, and the route as a stop list. */
function driverDetailHtml(id) {
  const live = state.drivers.get(id);
  const d = state.driverDetail;
  const profile = state.profiles.get(id);
  const name = (d && d.name) || (profile && profile.name);
  const stops = (d && d.route && d.route.stops) || [];
  return `<h3>${name ? `${esc(name)} <small>${esc(id)}</small>` : esc(id)}</h3>` +
    `<dl><dt>status</dt><dd>${esc((live && live.status) || (d && d.status) || "—")}</dd>` +
    `<dt>load</dt><dd>${d ? `${esc(d.load)} / ${esc(d.capacity)}` : "…"}</dd>` +
    `<dt>position</dt><dd>${live ? `${live.lat.toFixed(5)}, ${live.lon.toFixed(5)}` : "—"}</dd>` +
    `<dt>updated</dt><dd>${live ? fmtTime(live.ts_ms) : "—"}</dd>` +
    `<dt>route</dt><dd>${d && d.route ? `version ${esc(d.route.version)}, ${stops.length} stops` : "…"}</dd></dl>` +
    // Manual actions (assign, reorder, lock) will get their buttons here.
    `<div class="actions" id="driver-actions"></div>` +
    `<h2>Stops</h2>` +
    (stops.length ? stopListHtml(stops) : d ? "<p>No stops.</p>" : "") +
    appLinkHtml(id);
}

/** An order's detail: recipient, address, notes, stops, history with the drivers'
 * notes, the cancel button and the proof of delivery. */
function orderDetailHtml(id) {
  const o = state.orders.get(id);
  if (!o) return `<h3>${esc(id)}</h3><p>Loading…</p>`;
  const opt = (label, v, cls) => (v ? `<dt>${label}</dt><dd class="${cls || ""}">${esc(v)}</dd>` : "");
  const driver = o.driver_id ? state.profiles.get(o.driver_id) : null;
  return `<h3>${esc(o.id)}</h3>` +
    `<dl><dt>status</dt><dd><span class="status ${esc(o.status)}">${esc(o.status)}</span></dd>` +
    opt("recipient", o.recipient_name, "recipient") +
    (o.recipient_phone ? `<dt>phone</dt><dd class="phone"><a href="tel:${esc(o.recipient_phone.replace(/[^0-9+]/g, ""))}">${esc(o.recipient_phone)}</a></dd>` : "") +
    opt("address", o.address, "address") +
    opt("notes", o.notes, "notes") +
    `<dt>driver</dt><dd>${o.driver_id ? `<span class="link" data-driver="${esc(o.driver_id)}">${esc(driver && driver.name ? `${driver.name} (${o.driver_id})` : o.driver_id)}</span>` : "—"}</dd>` +
    `<dt>size</dt><dd>${esc(o.size)}</dd><dt>priority</dt><dd>${esc(o.priority)}</dd>` +
    `<dt>pickup</dt><dd>${o.pickup.lat.toFixed(5)}, ${o.pickup.lon.toFixed(5)}</dd>` +
    `<dt>pickup ETA</dt><dd>${fmtTime(o.pickup_eta_ms)}${o.pickup.due_ms != null ? ` <small>due ${fmtTime(o.pickup.due_ms)}</small>` : ""}</dd>` +
    `<dt>dropoff</dt><dd>${o.dropoff.lat.toFixed(5)}, ${o.dropoff.lon.toFixed(5)}</dd>` +
    `<dt>dropoff ETA</dt><dd>${fmtTime(o.dropoff_eta_ms)}${o.dropoff.due_ms != null ? ` <small>due ${fmtTime(o.dropoff.due_ms)}</small>` : ""}</dd>` +
    `<dt>created</dt><dd>${fmtTime(o.created_ms)}</dd></dl>` +
    `<h2>History</h2><ol class="history">${(o.history || []).map((h) =>
      `<li><span class="status ${esc(h.status)}">${esc(h.status)}</span> ${fmtTime(h.at_ms)}${h.reason ? ` — ${esc(h.reason)}` : ""}` +
      `${h.note ? `<br><q class="note">${esc(h.note)}</q>` : ""}</li>`).join("")}</ol>` +
    // Manual actions (assign, reassign, lock) will get their buttons here.
    `<div class="actions" id="order-actions">` +
    (CANCELLABLE.has(o.status) ? `<button type="button" id="cancel-order" data-id="${esc(o.id)}">Cancel order</button>` : "") +
    `</div>` +
    (WITH_PROOF.has(o.status)
      ? `<figure id="proof" hidden><figcaption>Proof of delivery</figcaption>` +
        `<a href="${proofUrl(o.id)}" target="_blank" rel="noopener"><img alt="proof of delivery of ${esc(o.id)}" src="${proofUrl(o.id)}"></a></figure>`
      : "");
}

/** The driver app's sign-in link for a driver (a new driver token: admin only), or
 * the button that makes one, with the link's QR code (`/driver/qr.js`) to scan. */
export function appLinkHtml(id) {
  const link = state.appLinks.get(id);
  return link
    ? `<h2>Driver app</h2><p><small>Sign-in link with a new token for ${esc(id)}: send it to the phone; treat it like a password.</small></p>` +
      `<input id="driver-app-url" readonly value="${esc(link)}">` +
      (window.dispatchQr ? `<div id="driver-app-qr">${window.dispatchQr.svg(link, 4)}</div>` : "")
    : `<button type="button" id="driver-app-link" data-app-link="${esc(id)}">Driver app sign-in link</button>`;
}
export async function issueAppLink(id) {
  const resp = await fetch("/v1/tokens", {
    method: "POST",
    headers: { Authorization: `Bearer ${state.token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: `driver app ${id}`, driver_id: id }),
  });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) { toast(`Driver app link: ${(body.error && body.error.message) || resp.status}`); return; }
  state.appLinks.set(id, `${location.origin}/driver?token=${encodeURIComponent(body.token)}`);
  renderDetail();
}

export function proofUrl(id) {
  return `/v1/orders/${encodeURIComponent(id)}/proof?token=${encodeURIComponent(state.token)}`;
}
