// Trail replay: a selected driver's positions over a window (GET
// /v1/drivers/{id}/trail, see "Trails" in docs/protocol.md) drawn as a line, with a
// marker that a slider (or the play button) moves through time.

import { $, state, ctx, esc, fmtTime, toast } from "./shared.js";
import { toScreen } from "./geo.js";

const PLAY_STEPS = 200; // a replay plays in this many steps
const PLAY_TICK_MS = 50;

/** Loads the driver's trail for the last `hours` and starts showing it at its end. */
export async function loadReplay(getJson, id, hours) {
  const to = Date.now();
  const from = to - hours * 3600 * 1000;
  try {
    const t = await getJson(`/v1/drivers/${encodeURIComponent(id)}/trail?from=${from}&to=${to}`);
    const points = t.points || [];
    stopPlaying();
    state.replay = { id, points, t: points.length ? points[points.length - 1].ts_ms : to, timer: null };
  } catch (e) {
    toast(`Trail of ${id}: ${e.message}`);
  }
  state.dirty = true;
}

export function closeReplay() {
  stopPlaying();
  state.replay = null;
  state.dirty = true;
}

function stopPlaying() {
  if (state.replay && state.replay.timer) clearInterval(state.replay.timer);
  if (state.replay) state.replay.timer = null;
}

/** Plays from the start (or pauses a running replay). */
export function togglePlay() {
  const r = state.replay;
  if (!r || r.points.length < 2) return;
  if (r.timer) { stopPlaying(); renderReplayControls(); return; }
  const t0 = r.points[0].ts_ms, t1 = r.points[r.points.length - 1].ts_ms;
  if (r.t >= t1) r.t = t0;
  const step = Math.max(1, (t1 - t0) / PLAY_STEPS);
  r.timer = setInterval(() => {
    r.t = Math.min(t1, r.t + step);
    if (r.t >= t1) stopPlaying();
    syncSlider();
    state.dirty = true;
  }, PLAY_TICK_MS);
  renderReplayControls();
}

/** Where the driver was at `t`, between the two points around it. */
export function positionAt(points, t) {
  if (!points.length) return null;
  if (t <= points[0].ts_ms) return points[0];
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1], b = points[i];
    if (t <= b.ts_ms) {
      const f = b.ts_ms === a.ts_ms ? 1 : (t - a.ts_ms) / (b.ts_ms - a.ts_ms);
      return { lat: a.lat + (b.lat - a.lat) * f, lon: a.lon + (b.lon - a.lon) * f, ts_ms: t };
    }
  }
  return points[points.length - 1];
}

/** The trail up to the replay time, and the marker there. */
export function drawReplay() {
  const r = state.replay;
  const sel = state.selected;
  if (!r || !sel || sel.kind !== "driver" || sel.id !== r.id || !r.points.length) return 0;
  ctx.strokeStyle = "rgba(17, 24, 39, 0.25)";
  ctx.lineWidth = 2;
  ctx.beginPath();
  r.points.forEach((p, i) => { const s = toScreen(p.lat, p.lon); if (i) ctx.lineTo(s.x, s.y); else ctx.moveTo(s.x, s.y); });
  ctx.stroke();
  ctx.strokeStyle = "#0f766e";
  ctx.lineWidth = 3;
  ctx.beginPath();
  let n = 0;
  for (const p of r.points) {
    if (p.ts_ms > r.t) break;
    const s = toScreen(p.lat, p.lon);
    if (n++) ctx.lineTo(s.x, s.y); else ctx.moveTo(s.x, s.y);
  }
  const at = positionAt(r.points, r.t);
  const s = toScreen(at.lat, at.lon);
  ctx.lineTo(s.x, s.y);
  ctx.stroke();
  ctx.fillStyle = "#0f766e";
  ctx.beginPath();
  ctx.arc(s.x, s.y, 6, 0, 2 * Math.PI);
  ctx.fill();
  return r.points.length;
}

/** The replay block of a driver's detail panel. */
export function replayHtml(id) {
  const r = state.replay;
  if (!r || r.id !== id) {
    return `<h2>Trail</h2><button type="button" id="replay-load" data-replay="${esc(id)}">Replay the last 24 h</button>`;
  }
  if (!r.points.length) return `<h2>Trail</h2><p>No positions kept in the last 24 h.</p>`;
  const t0 = r.points[0].ts_ms, t1 = r.points[r.points.length - 1].ts_ms;
  return `<h2>Trail <small>${r.points.length} points</small></h2>` +
    `<div class="replay"><button type="button" id="replay-play">${r.timer ? "Pause" : "Play"}</button>` +
    `<input id="replay-slider" type="range" min="${t0}" max="${Math.max(t1, t0 + 1)}" step="1000" value="${r.t}" aria-label="replay time">` +
    `<button type="button" id="replay-close" aria-label="close the replay">×</button></div>` +
    `<small id="replay-time">${fmtTime(r.t)}</small>`;
}

function renderReplayControls() {
  const btn = $("replay-play");
  if (btn && state.replay) btn.textContent = state.replay.timer ? "Pause" : "Play";
}

function syncSlider() {
  const slider = $("replay-slider");
  if (slider && state.replay) slider.value = String(state.replay.t);
  const label = $("replay-time");
  if (label && state.replay) label.textContent = fmtTime(state.replay.t);
}

/** The slider moved. */
export function seek(t) {
  if (!state.replay) return;
  state.replay.t = Number(t);
  syncSlider();
  state.dirty = true;
}
