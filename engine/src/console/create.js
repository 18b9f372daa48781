// Creating an order: click the pickup, then the dropoff, then fill in the form.

import { $, canvas, state } from "./shared.js";
import { send } from "./conn.js";

// ------------------------------------------------------------------ creating orders
export function startPick() {
  if (state.pick) { stopPick(); return; }
  state.pick = { stage: "pickup" };
  $("new-order").classList.add("active");
  canvas.classList.add("picking");
  hint("Click the pickup on the map (Esc cancels)");
}
export function stopPick() {
  state.pick = null;
  $("new-order").classList.remove("active");
  canvas.classList.remove("picking");
  hint(null);
  $("order-form").hidden = true;
  state.dirty = true;
}
export function hint(text) {
  const el = $("hint");
  el.hidden = !text;
  el.textContent = text || "";
}
export function picked(ll) {
  const p = state.pick;
  if (p.stage === "pickup") {
    p.pickup = ll;
    p.stage = "dropoff";
    hint("Click the dropoff on the map");
  } else if (p.stage === "dropoff") {
    p.dropoff = ll;
    p.stage = "form";
    hint(null);
    const f = $("order-form");
    f.elements.id.value = `c-${Date.now().toString(36)}-${Math.floor(Math.random() * 1296).toString(36)}`;
    for (const k of ["recipient_name", "recipient_phone", "address", "notes"]) f.elements[k].value = "";
    $("order-form-coords").textContent =
      `pickup ${ll5(p.pickup)} → dropoff ${ll5(p.dropoff)}`;
    $("order-form-error").hidden = true;
    f.hidden = false;
    f.elements.size.focus();
  }
  state.dirty = true;
}
export function ll5(p) { return `${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}`; }
export function numberOr(v, dflt) {
  if (v === "" || v == null) return dflt;
  const n = Number(v);
  return Number.isFinite(n) ? n : dflt;
}
export function submitOrder(ev) {
  ev.preventDefault();
  const p = state.pick;
  if (!p || !p.pickup || !p.dropoff) return;
  const f = ev.target.elements;
  const now = Date.now();
  const mins = (v) => { const n = numberOr(v, null); return n == null ? undefined : Math.round(now + n * 60000); };
  const service = Math.max(0, Math.round(numberOr(f.service_s.value, 60)));
  const pickup = { lat: p.pickup.lat, lon: p.pickup.lon, service_s: service };
  const dropoff = { lat: p.dropoff.lat, lon: p.dropoff.lon, service_s: service };
  const ready = mins(f.pickup_ready_min.value), pdue = mins(f.pickup_due_min.value), ddue = mins(f.dropoff_due_min.value);
  if (ready !== undefined) pickup.ready_ms = ready;
  if (pdue !== undefined) pickup.due_ms = pdue;
  if (ddue !== undefined) dropoff.due_ms = ddue;
  const order = {
    pickup, dropoff,
    size: Math.round(numberOr(f.size.value, 1)),
    priority: Math.round(numberOr(f.priority.value, 0)),
  };
  for (const k of ["recipient_name", "recipient_phone", "address", "notes"]) {
    const v = f[k].value.trim();
    if (v) order[k] = v;
  }
  const id = f.id.value.trim();
  if (id) order.id = id;
  const seq = send({ type: "create_order", order });
  if (seq == null) return;
  state.pendingCreates.set(seq, id);
  $("order-form-error").hidden = true;
  stopPick();
}
