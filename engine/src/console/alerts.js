// Alerts a dispatcher must not miss, derived every second from what the console
// already holds: a stop predicted late, a driver offline or silent (no position for
// `silent_s`) while holding work, an order unassignable for over `unassignable_min`.
// Each alert is listed in the Alerts panel and raises one toast when it first appears.
// The limits come from the page URL (`?silent_s=&unassignable_min=`) or the defaults.

import { $, state, esc, toast, setHtml } from "./shared.js";
import { stopsAhead, lateBy, workByDriver } from "./fleet.js";

export const ALERT_DEFAULTS = { silent_s: 120, unassignable_min: 10 };

/** Alert limits from the page URL, falling back to the defaults. */
export function alertLimits(url) {
  const num = (k) => {
    const v = Number(url.searchParams.get(k));
    return url.searchParams.has(k) && Number.isFinite(v) && v >= 0 ? v : ALERT_DEFAULTS[k];
  };
  return { silent_s: num("silent_s"), unassignable_min: num("unassignable_min") };
}

function name(id) {
  const p = state.profiles.get(id);
  return p && p.name ? `${p.name} (${id})` : id;
}

/** Since when an unassignable order has been unassignable (its current streak). */
function unassignableSince(o) {
  const h = o.history || [];
  let since = o.created_ms;
  for (let i = h.length - 1; i >= 0 && h[i].status === "unassignable"; i--) since = h[i].at_ms;
  return since;
}

/** Every alert now: `{key, kind, text, driver?, order?}`, most urgent kinds first. */
export function computeAlerts(now, limits) {
  const out = [];
  const work = workByDriver(state.orders);
  for (const [id, orders] of work) {
    const d = state.drivers.get(id);
    if (!d) continue;
    const n = orders.length;
    if (d.status === "offline") {
      out.push({ key: `offline:${id}`, kind: "offline", driver: id, text: `${name(id)} is offline with ${n} order${n > 1 ? "s" : ""}` });
    } else if (now - d.ts_ms > limits.silent_s * 1000) {
      const s = Math.round((now - d.ts_ms) / 1000);
      out.push({ key: `silent:${id}`, kind: "silent", driver: id, text: `${name(id)} silent for ${s} s with ${n} order${n > 1 ? "s" : ""}` });
    }
  }
  for (const o of state.orders.values()) {
    for (const s of stopsAhead(o)) {
      const late = lateBy(s);
      if (late > 0) {
        out.push({ key: `late:${o.id}:${s.kind}`, kind: "late", order: o.id, driver: o.driver_id,
          text: `${s.kind} of ${o.id} predicted ${Math.max(1, Math.round(late / 60000))} min late (${name(o.driver_id)})` });
      }
    }
    if (o.status === "unassignable" && now - unassignableSince(o) > limits.unassignable_min * 60000) {
      const m = Math.round((now - unassignableSince(o)) / 60000);
      out.push({ key: `unassignable:${o.id}`, kind: "unassignable", order: o.id, text: `${o.id} unassignable for ${m} min` });
    }
  }
  return out;
}

/** Recomputes the alerts, renders the panel and toasts the new ones (once each). */
export function refreshAlerts(now) {
  const list = computeAlerts(now, state.alertLimits);
  const keys = new Set(list.map((a) => a.key));
  for (const a of list) {
    if (!state.alertsSeen.has(a.key)) toast(`Alert: ${a.text}`);
  }
  state.alertsSeen = keys; // an alert that clears and comes back is new again
  state.alerts = list;
  $("alert-count").textContent = list.length ? String(list.length) : "";
  setHtml($("alert-list"), list.length
    ? list.map((a) => `<li class="alert ${esc(a.kind)}" data-alert="${esc(a.key)}"` +
        `${a.driver ? ` data-driver="${esc(a.driver)}"` : ""}${a.order ? ` data-order="${esc(a.order)}"` : ""}>` +
        `<span class="kind">${esc(a.kind)}</span> ${esc(a.text)}</li>`).join("")
    : '<li class="empty">No alerts.</li>');
}
