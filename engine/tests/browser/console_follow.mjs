// Follow the fleet: the console opens on an engine with no driver online (the world
// view), then a driver registers and reports a position from another tab of the same
// browser (the driver socket takes its token in the URL, as the driver app's does);
// the console fits the map to it. Started by engine/tests/browser.rs.
//
// Input (environment): BASE (http://127.0.0.1:PORT), CONSOLE (a console token),
// CHROMIUM. Output: one JSON line on stdout, {"ok":true,"view":{…}}.

import { chromium } from "playwright-core";

const base = process.env.BASE;
const consoleToken = process.env.CONSOLE;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const STEP_MS = 10_000;
const AT = { lat: 60.1699, lon: 24.9384 };

function log(msg) {
  process.stderr.write(`[console_follow] ${msg}\n`);
}

async function waitFor(page, what, fn, arg) {
  try {
    await page.waitForFunction(fn, arg, { timeout: STEP_MS, polling: 50 });
  } catch (e) {
    const st = await page.evaluate(() => window.dispatchConsole && window.dispatchConsole.state()).catch(() => null);
    throw new Error(`timed out waiting for ${what}; console state: ${JSON.stringify(st)}`);
  }
  log(`ok: ${what}`);
}

/** Registers a driver and, from a page of the engine's origin, opens its socket and
 * reports a position; the socket stays open while the page does. */
async function driverOnline(browser) {
  const page = await browser.newPage();
  await page.goto(`${base}/healthz`);
  await page.evaluate(async ([token, at]) => {
    const resp = await fetch("/v1/drivers", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ id: "late1", name: "Late Starter", capacity: 2 }),
    });
    const body = await resp.json();
    if (resp.status !== 201) throw new Error(`register: ${resp.status} ${JSON.stringify(body)}`);
    const ws = new WebSocket(`ws://${location.host}/ws/driver?token=${encodeURIComponent(body.token)}`);
    await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
    ws.send(JSON.stringify({ type: "hello" }));
    ws.send(JSON.stringify({ type: "status", status: "available" }));
    ws.send(JSON.stringify({ type: "position", lat: at.lat, lon: at.lon, ts_ms: Date.now() }));
    window.driverSocket = ws;
  }, [consoleToken, AT]);
  return page;
}

async function main() {
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${base}/?token=${encodeURIComponent(consoleToken)}`);
    await waitFor(page, "the console to connect", () => window.dispatchConsole.state().conn === "connected");
    const world = await page.evaluate(() => window.dispatchConsole.state().view);
    if (world.z > 3) throw new Error(`not on the world view: ${JSON.stringify(world)}`);
    const driverPage = await driverOnline(browser);
    await waitFor(page, "the first driver to be drawn", () => window.dispatchConsole.state().frame.drivers === 1);
    await waitFor(page, "the map fitted to it", (at) => {
      const v = window.dispatchConsole.state().view;
      const p = window.dispatchConsole.toScreen(at.lat, at.lon);
      const m = document.getElementById("map");
      return v.z >= 12 && Math.abs(p.x - m.clientWidth / 2) < 5 && Math.abs(p.y - m.clientHeight / 2) < 5;
    }, AT);
    await waitFor(page, "its name in the driver list",
      () => (document.querySelector('#driver-list li[data-driver="late1"]') || {}).textContent?.includes("Late Starter"));
    const view = await page.evaluate(() => window.dispatchConsole.state().view);
    await driverPage.close();
    if (errors.length) throw new Error(`the page logged errors: ${errors.join(" | ")}`);
    process.stdout.write(`${JSON.stringify({ ok: true, view })}\n`);
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  process.stderr.write(`[console_follow] FAILED: ${e.stack || e}\n`);
  process.exit(1);
});
