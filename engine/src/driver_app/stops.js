// The route as a list: each stop with its kind, place, time window, ETA, an "open in
// maps" link, and — for the stop the driver is at — the outcome buttons, a note and
// (at a dropoff) a proof-of-delivery photo. Rendering only; app.js owns the state.

export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function fmtTime(ms) {
  if (ms == null) return "—";
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function window_(s) {
  if (s.ready_ms == null && s.due_ms == null) return "any time";
  if (s.ready_ms == null) return `by ${fmtTime(s.due_ms)}`;
  if (s.due_ms == null) return `from ${fmtTime(s.ready_ms)}`;
  return `${fmtTime(s.ready_ms)}–${fmtTime(s.due_ms)}`;
}

/** The phone's maps app (`geo:`) and a web fallback that also opens it on most phones. */
export function mapsLinks(lat, lon) {
  const ll = `${lat.toFixed(6)},${lon.toFixed(6)}`;
  return {
    geo: `geo:${ll}?q=${ll}`,
    web: `https://www.google.com/maps/dir/?api=1&destination=${ll}`,
  };
}

function buttons(s, blocked) {
  const done = s.kind === "pickup"
    ? `<button type="button" class="ok" data-outcome="picked_up">Picked up</button>`
    : `<button type="button" class="ok" data-outcome="delivered"${blocked ? " disabled" : ""}>Delivered</button>`;
  const photo = s.kind === "dropoff"
    ? `<label class="photo">Photo <input type="file" name="photo" accept="image/*" capture="environment"></label>`
    : "";
  return `<div class="act">` +
    `<input type="text" name="note" maxlength="500" placeholder="Note (optional)" aria-label="Note">` +
    photo +
    `<div class="row">${done}<button type="button" class="bad" data-outcome="failed">Failed</button></div>` +
    (blocked ? `<p class="small">Pick up ${esc(s.order_id)} first.</p>` : "") +
    `</div>`;
}

/**
 * The list's HTML. `queued(stopId)` says whether a stop waits in the outbox (marked,
 * not yet confirmed by the engine); `open` is the stop whose actions are shown.
 */
export function renderStops(stops, queued, open) {
  const pickups = new Set(stops.filter((s) => s.kind === "pickup").map((s) => s.order_id));
  return stops.map((s, i) => {
    const links = mapsLinks(s.lat, s.lon);
    const late = s.due_ms != null && s.eta_ms > s.due_ms;
    const waiting = queued(s.stop_id);
    const blocked = s.kind === "dropoff" && pickups.has(s.order_id);
    const kind = s.kind === "pickup" ? "Pick up" : "Deliver";
    return `<li class="stop ${esc(s.kind)}${waiting ? " queued" : ""}" data-stop="${esc(s.stop_id)}" data-order="${esc(s.order_id)}" data-kind="${esc(s.kind)}">` +
      `<div class="head"><span class="n">${i + 1}</span><b>${kind}</b> <span class="order">${esc(s.order_id)}</span>` +
      `<span class="eta${late ? " late" : ""}">ETA ${fmtTime(s.eta_ms)}${late ? " · late" : ""}</span></div>` +
      `<div class="meta">${s.lat.toFixed(5)}, ${s.lon.toFixed(5)} · window ${window_(s)}</div>` +
      `<div class="links"><a href="${esc(links.geo)}" class="maps">Open in maps</a>` +
      ` <a href="${esc(links.web)}" target="_blank" rel="noopener" class="maps-web">web map</a></div>` +
      (waiting
        ? `<p class="small waiting">Marked; sending when the connection is back…</p>`
        : s.stop_id === open ? buttons(s, blocked) : `<button type="button" class="open" data-open="${esc(s.stop_id)}">At this stop</button>`) +
      `</li>`;
  }).join("");
}

/** Accepted photo types the engine keeps as they are. */
const KEPT = new Set(["image/jpeg", "image/png", "image/webp"]);
/** Photos at most this large are sent unchanged; larger ones are scaled down. */
const KEEP_BYTES = 1_500_000;
const MAX_SIDE = 1600;

function readAsDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.readAsDataURL(blob);
  });
}

/** A phone photo as a `{dataUrl, type}` the engine takes: small ones as they are,
 * others scaled to at most 1600 px and re-encoded as JPEG. */
export async function preparePhoto(file) {
  if (KEPT.has(file.type) && file.size <= KEEP_BYTES) {
    return { dataUrl: await readAsDataUrl(file), type: file.type };
  }
  const bitmap = await createImageBitmap(file);
  const k = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * k);
  canvas.height = Math.round(bitmap.height * k);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.8));
  return { dataUrl: await readAsDataUrl(blob), type: "image/jpeg" };
}
