// How fluid the console stays under a real fleet: opens the page in headless Chromium
// against a running engine (for example during `dispatch-sim run
// sim/scenarios/morning-peak-5x.toml --url ...`), watches for SECONDS, and reports
// frame intervals, the time of each map draw, drivers drawn and the page's JS heap.
//
//   CONSOLE_URL=http://127.0.0.1:8080/?token=... SECONDS=60 node console_load.mjs
//
// Prints one JSON object on stdout; SCREENSHOT=path also saves the last frame.

import { chromium } from "playwright-core";

const url = process.env.CONSOLE_URL;
const seconds = Number(process.env.SECONDS || 60);
const screenshot = process.env.SCREENSHOT;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-precise-memory-info"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.goto(url);
  await page.waitForFunction(() => window.dispatchConsole.state().conn === "connected", null, { timeout: 30000 });
  await page.waitForFunction(() => window.dispatchConsole.state().frame.drivers > 0, null, { timeout: 30000 });
  const result = await page.evaluate(async (seconds) => {
    const intervals = [], draws = [], drawn = [];
    let last = performance.now(), lastAt = -1;
    const end = last + seconds * 1000;
    await new Promise((done) => {
      function tick(now) {
        intervals.push(now - last);
        last = now;
        const f = window.dispatchConsole.state().frame;
        if (f.at !== lastAt) { draws.push(f.drawMs); drawn.push(f.drivers); lastAt = f.at; }
        if (now < end) requestAnimationFrame(tick); else done();
      }
      requestAnimationFrame(tick);
    });
    const pct = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : null; };
    const st = window.dispatchConsole.state();
    return {
      seconds,
      frames: intervals.length,
      fps: intervals.length / seconds,
      frame_interval_ms: { p50: pct(intervals, 0.5), p95: pct(intervals, 0.95), p99: pct(intervals, 0.99), max: Math.max(...intervals) },
      long_frames_over_50ms: intervals.filter((x) => x > 50).length,
      draws: draws.length,
      draw_ms: { p50: pct(draws, 0.5), p95: pct(draws, 0.95), p99: pct(draws, 0.99), max: Math.max(...draws) },
      drivers_drawn: { min: Math.min(...drawn), max: Math.max(...drawn) },
      drivers_known: st.drivers,
      orders_known: st.orders,
      js_heap_mb: performance.memory ? performance.memory.usedJSHeapSize / 1048576 : null,
      stats: st.stats,
    };
  }, seconds);
  if (screenshot) await page.screenshot({ path: screenshot });
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await browser.close();
}
