// The dispatch console: one page, no dependencies, no network beyond the engine that
// serves it. It talks JSON over /ws/console (snapshot, drivers batches, order changes,
// stats) and reads details over HTTP (GET /v1/drivers/{id}, GET /v1/orders/{id}).
// Everything on the map is drawn on one canvas: 10,000 drivers are 10,000 arcs in four
// paths (one per colour), not DOM nodes.
"use strict";

(function () {
  // ------------------------------------------------------------------ constants
  const TOKEN_KEY = "dispatch.console.token";
  const VIEW_KEY = "dispatch.console.view";
  const ANIM_MS = 1000; // a marker glides to its new position over this time
  const RESUBSCRIBE_MS = 300; // after the last pan or zoom
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 15000;
  const DETAIL_REFRESH_MS = 3000;
  const MAX_LIST = 300;
  const KEEP_FINISHED = 500; // finished orders kept for the list
  const HIT_PX = 9;
  const COLORS = {
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
  const OPEN = new Set(["pending", "assigned", "picked_up", "unassignable"]);
  const CANCELLABLE = new Set(["pending", "assigned", "unassignable"]);

  const $ = (id) => document.getElementById(id);
  const canvas = $("map");
  const ctx = canvas.getContext("2d");

  // ------------------------------------------------------------------ state
  const state = {
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
  };

  // ------------------------------------------------------------------ projection
  // Web Mercator: the world is the unit square; at zoom z it is 256 * 2^z pixels wide.
  function mercX(lon) { return (lon + 180) / 360; }
  function mercY(lat) {
    const s = Math.sin((Math.max(-85.05, Math.min(85.05, lat)) * Math.PI) / 180);
    return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
  }
  function unmercLon(x) { return x * 360 - 180; }
  function unmercLat(y) {
    const n = Math.PI - 2 * Math.PI * y;
    return (180 / Math.PI) * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n)));
  }
  function scale() { return 256 * Math.pow(2, state.view.z); }
  function cssSize() { return { w: canvas.clientWidth, h: canvas.clientHeight }; }
  function toScreen(lat, lon) {
    const { w, h } = cssSize();
    const s = scale();
    return { x: (mercX(lon) - state.view.cx) * s + w / 2, y: (mercY(lat) - state.view.cy) * s + h / 2 };
  }
  function toLatLon(x, y) {
    const { w, h } = cssSize();
    const s = scale();
    return { lat: unmercLat(state.view.cy + (y - h / 2) / s), lon: unmercLon(state.view.cx + (x - w / 2) / s) };
  }
  /** The visible box, [min_lon, min_lat, max_lon, max_lat], grown by `pad` of its size. */
  function visibleBbox(pad) {
    const { w, h } = cssSize();
    const a = toLatLon(-w * pad, h * (1 + pad));
    const b = toLatLon(w * (1 + pad), -h * pad);
    return [clampLon(a.lon), clampLat(a.lat), clampLon(b.lon), clampLat(b.lat)];
  }
  function clampLon(v) { return Math.max(-180, Math.min(180, v)); }
  function clampLat(v) { return Math.max(-90, Math.min(90, v)); }
  function inBbox(b, lat, lon) { return !b || (lon >= b[0] && lon <= b[2] && lat >= b[1] && lat <= b[3]); }

  function fitTo(points, maxZ = 16) {
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
  function saveView() {
    try { localStorage.setItem(VIEW_KEY, JSON.stringify(state.view)); } catch (_) { /* private mode */ }
  }

  // ------------------------------------------------------------------ drivers
  function driverPos(d, now) {
    const t = Math.min(1, (now - d.t0) / ANIM_MS);
    if (t >= 1) return { lat: d.lat, lon: d.lon, moving: false };
    return { lat: d.fromLat + (d.lat - d.fromLat) * t, lon: d.fromLon + (d.lon - d.fromLon) * t, moving: true };
  }
  function applyDriver(u, now, animate) {
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
  function driversOnRoute() {
    const busy = new Set();
    for (const o of state.orders.values()) {
      if (o.driver_id && (o.status === "assigned" || o.status === "picked_up")) busy.add(o.driver_id);
    }
    return busy;
  }
  function colourKey(d, busy) {
    if (d.status === "available") return busy.has(d.id) ? "on_route" : "available";
    return d.status === "break" ? "break" : "offline";
  }

  // ------------------------------------------------------------------ drawing
  function resize() {
    const dpr = window.devicePixelRatio || 1;
    const { w, h } = cssSize();
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    state.dirty = true;
  }

  function drawGrid(w, h) {
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
  function niceStep(x) {
    const p = Math.pow(10, Math.floor(Math.log10(x)));
    const m = x / p;
    return (m < 2 ? 1 : m < 5 ? 2 : 5) * p;
  }
  function decimals(step) { return Math.max(0, Math.min(6, -Math.floor(Math.log10(step)))); }

  function drawScaleBar(w, h) {
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

  function draw(now) {
    const t0 = performance.now();
    const { w, h } = cssSize();
    ctx.clearRect(0, 0, w, h);
    drawGrid(w, h);
    let moving = false;

    // Pending and unassignable orders: pickup (filled square), dropoff (hollow), joined.
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

    // The selected driver's route, from where it is through its stops in order.
    let routeStops = 0;
    const sel = state.selected;
    if (sel && sel.kind === "driver" && state.driverDetail && state.driverDetail.id === sel.id) {
      const d = state.drivers.get(sel.id);
      const stops = (state.driverDetail.route && state.driverDetail.route.stops) || [];
      const start = d ? driverPos(d, now) : state.driverDetail.lat != null ? state.driverDetail : null;
      ctx.strokeStyle = COLORS.route;
      ctx.lineWidth = 3;
      ctx.beginPath();
      if (start) { const s = toScreen(start.lat, start.lon); ctx.moveTo(s.x, s.y); }
      for (const st of stops) { const p = toScreen(st.lat, st.lon); ctx.lineTo(p.x, p.y); }
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
        routeStops++;
      });
    }
    // The selected order's pickup and dropoff.
    if (sel && sel.kind === "order") {
      const o = state.orders.get(sel.id);
      if (o) {
        const p = toScreen(o.pickup.lat, o.pickup.lon), q = toScreen(o.dropoff.lat, o.dropoff.lon);
        ctx.strokeStyle = COLORS.selected;
        ctx.lineWidth = 2;
        ctx.beginPath(); ctx.moveTo(p.x, p.y); ctx.lineTo(q.x, q.y); ctx.stroke();
        ctx.strokeRect(p.x - 7, p.y - 7, 14, 14);
        ctx.beginPath(); ctx.arc(q.x, q.y, 7, 0, 2 * Math.PI); ctx.stroke();
      }
    }

    // Drivers: one path per colour.
    const busy = driversOnRoute();
    const paths = { available: new Path2D(), on_route: new Path2D(), break: new Path2D(), offline: new Path2D() };
    const r = state.view.z >= 13 ? 4 : 3;
    let driversDrawn = 0;
    let selectedAt = null;
    for (const d of state.drivers.values()) {
      const pos = driverPos(d, now);
      if (pos.moving) moving = true;
      const p = toScreen(pos.lat, pos.lon);
      if (!onScreen(p, w, h)) continue;
      const path = paths[colourKey(d, busy)];
      path.moveTo(p.x + r, p.y);
      path.arc(p.x, p.y, r, 0, 2 * Math.PI);
      driversDrawn++;
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
    // Order being created.
    if (state.pick) {
      ctx.fillStyle = COLORS.selected;
      for (const k of ["pickup", "dropoff"]) {
        const s = state.pick[k];
        if (!s) continue;
        const p = toScreen(s.lat, s.lon);
        ctx.beginPath(); ctx.arc(p.x, p.y, 6, 0, 2 * Math.PI); ctx.fill();
        ctx.fillText(k, p.x + 8, p.y - 8);
      }
    }
    drawScaleBar(w, h);
    state.frame = { drivers: driversDrawn, orders: ordersDrawn, routeStops, at: now, drawMs: performance.now() - t0 };
    return moving;
  }
  function onScreen(p, w, h) { return p.x >= -10 && p.y >= -10 && p.x <= w + 10 && p.y <= h + 10; }

  function loop(now) {
    if (state.dirty) {
      state.dirty = false;
      if (draw(now)) state.dirty = true; // keep drawing while markers glide
    }
    requestAnimationFrame(loop);
  }

  // ------------------------------------------------------------------ connection
  function setConn(c, text) {
    state.conn = c;
    const el = $("conn");
    el.className = `conn conn-${c}`;
    el.textContent = text || c;
  }

  function connect() {
    clearTimeout(state.retryTimer);
    if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; }
    if (!state.token) { setConn("idle", "no token"); return; }
    setConn(state.conn === "reconnecting" ? "reconnecting" : "connecting", "connecting…");
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/ws/console?token=${encodeURIComponent(state.token)}`);
    state.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      state.backoff = BACKOFF_MIN_MS;
      setConn("connected", "connected");
      subscribe(state.fitOnSnapshot ? null : visibleBbox(0.5));
    };
    ws.onmessage = (ev) => {
      state.lastMessageAt = Date.now();
      let msg;
      try { msg = JSON.parse(ev.data); } catch (_) { return; }
      onMessage(msg);
    };
    ws.onclose = (ev) => {
      state.ws = null;
      if (ev.code === 1008 && !opened) {
        setConn("unauthorized", "token refused");
        toast("The engine refused the token: enter a console token.");
        return;
      }
      if (ev.code === 1008) toast(`Disconnected: ${ev.reason || "policy violation"}`);
      const wait = Math.round(state.backoff * (0.75 + Math.random() * 0.5));
      state.backoff = Math.min(BACKOFF_MAX_MS, state.backoff * 2);
      setConn("reconnecting", `reconnecting in ${(wait / 1000).toFixed(1)} s`);
      state.retryTimer = setTimeout(connect, wait);
    };
  }

  function send(msg) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
      toast("Not connected to the engine.");
      return null;
    }
    const seq = state.seq++;
    state.ws.send(JSON.stringify(Object.assign({ seq }, msg)));
    return seq;
  }

  function subscribe(bbox) {
    state.subscribedBbox = bbox;
    send(bbox ? { type: "subscribe", bbox } : { type: "subscribe" });
  }
  function scheduleResubscribe() {
    clearTimeout(state.resubscribeTimer);
    state.resubscribeTimer = setTimeout(() => {
      if (state.conn !== "connected") return;
      const b = state.subscribedBbox;
      const want = visibleBbox(0.25);
      const area = (x) => Math.max(1e-12, (x[2] - x[0]) * (x[3] - x[1]));
      // The last subscription still covers the view and is not much larger (after a
      // zoom in): keep it.
      const covers = b && want[0] >= b[0] && want[1] >= b[1] && want[2] <= b[2] && want[3] <= b[3];
      if (covers && area(b) <= 16 * area(want)) return;
      subscribe(visibleBbox(0.5));
    }, RESUBSCRIBE_MS);
  }

  function onMessage(msg) {
    const now = performance.now();
    switch (msg.type) {
      case "snapshot": {
        const seen = new Set();
        for (const u of msg.drivers) { applyDriver(u, now, false); seen.add(u.id); }
        for (const id of [...state.drivers.keys()]) if (!seen.has(id)) state.drivers.delete(id);
        // Open orders come from the snapshot; finished ones stay for the list.
        for (const [id, o] of state.orders) if (OPEN.has(o.status)) state.orders.delete(id);
        for (const o of msg.orders) state.orders.set(o.id, o);
        if (state.fitOnSnapshot) {
          state.fitOnSnapshot = false;
          const pts = msg.drivers.map((d) => ({ lat: d.lat, lon: d.lon }));
          for (const o of msg.orders) pts.push(o.pickup, o.dropoff);
          // Fitting re-subscribes to the visible box: from now on the view is followed.
          if (pts.length) fitTo(pts);
        }
        renderLists();
        break;
      }
      case "drivers":
        for (const u of msg.updates) applyDriver(u, now, true);
        if (state.selected && state.selected.kind === "driver") renderDetail();
        break;
      case "order":
        onOrder(msg.order);
        break;
      case "stats":
        state.stats = msg.stats;
        renderStats();
        break;
      case "error":
        onError(msg);
        break;
      default:
        break;
    }
    state.dirty = true;
  }

  function onOrder(o) {
    state.orders.set(o.id, o);
    pruneFinished();
    for (const [seq, id] of state.pendingCreates) {
      if (id === o.id) {
        state.pendingCreates.delete(seq);
        toast(`Order ${o.id} created (${o.status}).`, "info");
        select("order", o.id);
      }
    }
    const sel = state.selected;
    if (sel && ((sel.kind === "order" && sel.id === o.id) || (sel.kind === "driver" && o.driver_id === sel.id))) {
      if (sel.kind === "driver") refreshDriverDetail();
      renderDetail();
    }
    renderListsSoon();
  }

  function onError(msg) {
    const text = `${msg.code}: ${msg.message}`;
    if (msg.ref != null && state.pendingCreates.has(msg.ref)) {
      state.pendingCreates.delete(msg.ref);
      const err = $("order-form-error");
      err.textContent = text;
      err.hidden = false;
      $("order-form").hidden = false;
    }
    toast(`Engine error — ${text}`);
  }

  function pruneFinished() {
    const finished = [...state.orders.values()].filter((o) => !OPEN.has(o.status));
    if (finished.length <= KEEP_FINISHED) return;
    finished.sort((a, b) => lastChange(a) - lastChange(b));
    for (const o of finished.slice(0, finished.length - KEEP_FINISHED)) state.orders.delete(o.id);
  }
  function lastChange(o) {
    const h = o.history || [];
    return h.length ? h[h.length - 1].at_ms : o.created_ms;
  }

  // ------------------------------------------------------------------ HTTP reads
  async function getJson(path) {
    const resp = await fetch(path, { headers: { Authorization: `Bearer ${state.token}` } });
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const e = body.error || {};
      throw new Error(`${e.code || resp.status}: ${e.message || resp.statusText}`);
    }
    return body;
  }
  async function refreshDriverDetail() {
    const sel = state.selected;
    if (!sel || sel.kind !== "driver") return;
    try {
      const d = await getJson(`/v1/drivers/${encodeURIComponent(sel.id)}`);
      if (state.selected && state.selected.id === d.id) {
        state.driverDetail = d;
        if (state.fitRoute) {
          state.fitRoute = false;
          const pts = ((d.route && d.route.stops) || []).map((s) => ({ lat: s.lat, lon: s.lon }));
          if (d.lat != null) pts.push({ lat: d.lat, lon: d.lon });
          if (pts.length > 1) fitTo(pts, Math.max(state.view.z, 12));
        }
        renderDetail();
        state.dirty = true;
      }
    } catch (e) {
      toast(`Driver ${sel.id}: ${e.message}`);
    }
  }
  async function loadOrder(id) {
    try {
      const o = await getJson(`/v1/orders/${encodeURIComponent(id)}`);
      state.orders.set(o.id, o);
      renderDetail();
      state.dirty = true;
    } catch (e) {
      toast(`Order ${id}: ${e.message}`);
    }
  }

  // ------------------------------------------------------------------ selection
  function select(kind, id) {
    state.selected = kind ? { kind, id } : null;
    state.driverDetail = null;
    $("detail").hidden = !kind;
    if (kind === "driver") refreshDriverDetail();
    if (kind === "order" && !state.orders.has(id)) loadOrder(id);
    renderDetail();
    renderLists();
    state.dirty = true;
  }

  function hitTest(x, y) {
    const now = performance.now();
    let best = null, bestD = HIT_PX * HIT_PX;
    for (const d of state.drivers.values()) {
      const pos = driverPos(d, now);
      const p = toScreen(pos.lat, pos.lon);
      const dd = (p.x - x) ** 2 + (p.y - y) ** 2;
      if (dd < bestD) { bestD = dd; best = { kind: "driver", id: d.id }; }
    }
    if (best) return best;
    for (const o of state.orders.values()) {
      if (!OPEN.has(o.status)) continue;
      for (const s of [o.pickup, o.dropoff]) {
        const p = toScreen(s.lat, s.lon);
        const dd = (p.x - x) ** 2 + (p.y - y) ** 2;
        if (dd < bestD) { bestD = dd; best = { kind: "order", id: o.id }; }
      }
    }
    return best;
  }

  // ------------------------------------------------------------------ rendering panels
  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }
  function fmtTime(ms) {
    if (ms == null) return "—";
    const d = new Date(ms);
    const rel = Math.round((ms - Date.now()) / 60000);
    const hhmm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    return rel === 0 ? hhmm : `${hhmm} (${rel > 0 ? "in " : ""}${Math.abs(rel)} min${rel < 0 ? " ago" : ""})`;
  }
  function fmtMs(v) { return v == null ? "—" : v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`; }
  function rows(pairs) {
    return pairs.map(([label, n, cls]) => `<tr><td>${cls ? `<i class="${cls}"></i>` : ""}${esc(label)}</td><td class="n">${esc(n)}</td></tr>`).join("");
  }

  function renderStats() {
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
  function renderListsSoon() {
    if (listTimer) return;
    listTimer = setTimeout(() => { listTimer = null; renderLists(); }, 150);
  }
  function renderLists() {
    const text = $("order-filter").value.trim().toLowerCase();
    const status = $("order-status").value;
    const all = [...state.orders.values()].filter((o) => {
      if (status === "open" ? !OPEN.has(o.status) : status && o.status !== status) return false;
      if (!text) return true;
      return o.id.toLowerCase().includes(text) || (o.driver_id || "").toLowerCase().includes(text);
    });
    all.sort((a, b) => b.created_ms - a.created_ms || (a.id < b.id ? -1 : 1));
    const sel = state.selected;
    $("order-list-count").textContent = `${all.length}${all.length > MAX_LIST ? ` (first ${MAX_LIST})` : ""}`;
    $("order-list").innerHTML = all.slice(0, MAX_LIST).map((o) =>
      `<li data-id="${esc(o.id)}" class="${sel && sel.kind === "order" && sel.id === o.id ? "selected" : ""}">` +
      `<span class="id">${esc(o.id)}</span><span class="status ${esc(o.status)}">${esc(o.status)}</span></li>`).join("");
  }

  function renderDetail() {
    const sel = state.selected;
    const body = $("detail-body");
    if (!sel) { body.innerHTML = ""; return; }
    if (sel.kind === "driver") {
      const live = state.drivers.get(sel.id);
      const d = state.driverDetail;
      const stops = (d && d.route && d.route.stops) || [];
      body.innerHTML =
        `<h3>${esc(sel.id)}</h3>` +
        `<dl><dt>status</dt><dd>${esc((live && live.status) || (d && d.status) || "—")}</dd>` +
        `<dt>load</dt><dd>${d ? `${esc(d.load)} / ${esc(d.capacity)}` : "…"}</dd>` +
        `<dt>position</dt><dd>${live ? `${live.lat.toFixed(5)}, ${live.lon.toFixed(5)}` : "—"}</dd>` +
        `<dt>updated</dt><dd>${live ? fmtTime(live.ts_ms) : "—"}</dd>` +
        `<dt>route</dt><dd>${d && d.route ? `version ${esc(d.route.version)}, ${stops.length} stops` : "…"}</dd></dl>` +
        (stops.length
          ? `<ol>${stops.map((s) =>
              `<li><b>${s.kind === "pickup" ? "pick up" : "drop off"}</b> <span class="link" data-order="${esc(s.order_id)}">${esc(s.order_id)}</span>` +
              `<br>ETA ${fmtTime(s.eta_ms)}${s.due_ms != null && s.eta_ms > s.due_ms ? ' <span class="late">late</span>' : ""}` +
              `${s.due_ms != null ? `<br><small>due ${fmtTime(s.due_ms)}</small>` : ""}</li>`).join("")}</ol>`
          : d ? "<p>No stops.</p>" : "") +
        appLinkHtml(sel.id);
      return;
    }
    const o = state.orders.get(sel.id);
    if (!o) { body.innerHTML = `<h3>${esc(sel.id)}</h3><p>Loading…</p>`; return; }
    body.innerHTML =
      `<h3>${esc(o.id)}</h3>` +
      `<dl><dt>status</dt><dd><span class="status ${esc(o.status)}">${esc(o.status)}</span></dd>` +
      `<dt>driver</dt><dd>${o.driver_id ? `<span class="link" data-driver="${esc(o.driver_id)}">${esc(o.driver_id)}</span>` : "—"}</dd>` +
      `<dt>size</dt><dd>${esc(o.size)}</dd><dt>priority</dt><dd>${esc(o.priority)}</dd>` +
      `<dt>pickup</dt><dd>${o.pickup.lat.toFixed(5)}, ${o.pickup.lon.toFixed(5)}</dd>` +
      `<dt>pickup ETA</dt><dd>${fmtTime(o.pickup_eta_ms)}</dd>` +
      `<dt>dropoff</dt><dd>${o.dropoff.lat.toFixed(5)}, ${o.dropoff.lon.toFixed(5)}</dd>` +
      `<dt>dropoff ETA</dt><dd>${fmtTime(o.dropoff_eta_ms)}</dd>` +
      `<dt>created</dt><dd>${fmtTime(o.created_ms)}</dd></dl>` +
      `<h2>History</h2><ol>${(o.history || []).map((h) =>
        `<li><span class="status ${esc(h.status)}">${esc(h.status)}</span> ${fmtTime(h.at_ms)}${h.reason ? ` — ${esc(h.reason)}` : ""}</li>`).join("")}</ol>` +
      (CANCELLABLE.has(o.status) ? `<button type="button" id="cancel-order" data-id="${esc(o.id)}">Cancel order</button>` : "") +
      (WITH_PROOF.has(o.status)
        ? `<figure id="proof" hidden><figcaption>Proof of delivery</figcaption>` +
          `<a href="${proofUrl(o.id)}" target="_blank" rel="noopener"><img alt="proof of delivery of ${esc(o.id)}" src="${proofUrl(o.id)}"></a></figure>`
        : "");
    // Shown once it loads: most orders have no photo (404).
    const img = body.querySelector("#proof img");
    if (img) img.addEventListener("load", () => { body.querySelector("#proof").hidden = false; });
  }

  /** The driver app's sign-in link for a driver (a new driver token: admin only), or
   * the button that makes one, with the link's QR code (`/driver/qr.js`) to scan. */
  function appLinkHtml(id) {
    const link = state.appLinks.get(id);
    return link
      ? `<h2>Driver app</h2><p><small>Sign-in link with a new token for ${esc(id)}: send it to the phone; treat it like a password.</small></p>` +
        `<input id="driver-app-url" readonly value="${esc(link)}">` +
        (window.dispatchQr ? `<div id="driver-app-qr">${window.dispatchQr.svg(link, 4)}</div>` : "")
      : `<button type="button" id="driver-app-link" data-app-link="${esc(id)}">Driver app sign-in link</button>`;
  }
  async function issueAppLink(id) {
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

  /** Statuses after which a driver may have sent a proof-of-delivery photo. */
  const WITH_PROOF = new Set(["picked_up", "delivered", "failed"]);
  function proofUrl(id) {
    return `/v1/orders/${encodeURIComponent(id)}/proof?token=${encodeURIComponent(state.token)}`;
  }

  // ------------------------------------------------------------------ toasts
  function toast(text, kind) {
    const el = document.createElement("div");
    el.className = `toast ${kind || ""}`;
    el.textContent = text;
    $("toasts").appendChild(el);
    setTimeout(() => el.remove(), kind === "info" ? 4000 : 8000);
    while ($("toasts").children.length > 5) $("toasts").firstChild.remove();
  }

  // ------------------------------------------------------------------ creating orders
  function startPick() {
    if (state.pick) { stopPick(); return; }
    state.pick = { stage: "pickup" };
    $("new-order").classList.add("active");
    canvas.classList.add("picking");
    hint("Click the pickup on the map (Esc cancels)");
  }
  function stopPick() {
    state.pick = null;
    $("new-order").classList.remove("active");
    canvas.classList.remove("picking");
    hint(null);
    $("order-form").hidden = true;
    state.dirty = true;
  }
  function hint(text) {
    const el = $("hint");
    el.hidden = !text;
    el.textContent = text || "";
  }
  function picked(ll) {
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
      $("order-form-coords").textContent =
        `pickup ${ll5(p.pickup)} → dropoff ${ll5(p.dropoff)}`;
      $("order-form-error").hidden = true;
      f.hidden = false;
      f.elements.size.focus();
    }
    state.dirty = true;
  }
  function ll5(p) { return `${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}`; }
  function numberOr(v, dflt) {
    if (v === "" || v == null) return dflt;
    const n = Number(v);
    return Number.isFinite(n) ? n : dflt;
  }
  function submitOrder(ev) {
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
    const id = f.id.value.trim();
    if (id) order.id = id;
    const seq = send({ type: "create_order", order });
    if (seq == null) return;
    state.pendingCreates.set(seq, id);
    $("order-form-error").hidden = true;
    stopPick();
  }

  // ------------------------------------------------------------------ input
  function zoomAt(x, y, dz) {
    const before = toLatLon(x, y);
    state.view.z = Math.max(1, Math.min(20, state.view.z + dz));
    const s = scale();
    const { w, h } = cssSize();
    state.view.cx = mercX(before.lon) - (x - w / 2) / s;
    state.view.cy = mercY(before.lat) - (y - h / 2) / s;
    afterViewChange();
  }
  function afterViewChange() {
    saveView();
    state.dirty = true;
    scheduleResubscribe();
  }

  function wireInput() {
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
      if (d.moved) { afterViewChange(); return; }
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
      else if (ev.key === "ArrowLeft") { state.view.cx -= step; afterViewChange(); }
      else if (ev.key === "ArrowRight") { state.view.cx += step; afterViewChange(); }
      else if (ev.key === "ArrowUp") { state.view.cy -= step; afterViewChange(); }
      else if (ev.key === "ArrowDown") { state.view.cy += step; afterViewChange(); }
    });
    // The canvas changes size with the window and when the detail panel opens or closes.
    new ResizeObserver(() => { resize(); scheduleResubscribe(); }).observe(canvas);

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
    resize();
    wireInput();
    setInterval(() => { if (state.selected && state.selected.kind === "driver") refreshDriverDetail(); }, DETAIL_REFRESH_MS);
    setInterval(() => { if (state.selected) renderDetail(); }, 1000);
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
    }),
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
})();
