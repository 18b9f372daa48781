// Drives the web console in headless Chromium against a running engine, as a
// dispatcher would: open the page with a token, see the drivers drawn on the map,
// create an order by clicking its pickup and dropoff, see it assigned, see an engine
// error shown, survive a dropped connection. Started by engine/tests/browser.rs, which
// owns the engine and the driver bots and checks the engine's side afterwards.
//
// Input (environment):
//   CONSOLE_URL  http://127.0.0.1:PORT/?token=...
//   DRIVERS      JSON [{"id","lat","lon"}] of the bots that are online
//   SCREENSHOT   where to save the final screenshot (PNG)
//   CHROMIUM     the browser binary (default /usr/bin/chromium)
// Output: one JSON line on stdout, {"ok":true,"order_id":...,"screenshot":...}; any
// failed step throws, prints the reason and exits 1.

import { chromium } from "playwright-core";

const url = process.env.CONSOLE_URL;
const drivers = JSON.parse(process.env.DRIVERS || "[]");
const screenshot = process.env.SCREENSHOT;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const STEP_MS = 10_000;

function log(msg) {
  process.stderr.write(`[console_test] ${msg}\n`);
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

/** The canvas pixel (RGB) at CSS position (x, y). */
async function pixelAt(page, x, y) {
  return page.evaluate(([x, y]) => {
    const c = document.getElementById("map");
    const dpr = c.width / c.clientWidth;
    const d = c.getContext("2d").getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data;
    return [d[0], d[1], d[2]];
  }, [x, y]);
}

function hexToRgb(h) {
  const n = parseInt(h.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

async function main() {
  if (!url || !screenshot) throw new Error("CONSOLE_URL and SCREENSHOT must be set");
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text()); });

    await page.goto(url);
    await waitFor(page, "the console to connect", () => window.dispatchConsole.state().conn === "connected");
    await waitFor(page, `all ${drivers.length} drivers drawn`,
      (n) => window.dispatchConsole.state().frame.drivers === n, drivers.length);
    await waitFor(page, "stats with the fleet", (n) => {
      const s = window.dispatchConsole.state().stats;
      return s && s.drivers.total === n && s.drivers.available === n;
    }, drivers.length);
    const panel = await page.textContent("#driver-counts");
    if (!panel.includes(String(drivers.length))) throw new Error(`driver panel does not count the fleet: ${panel}`);

    // Every driver's marker is on the canvas, in its status colour, where it is.
    for (const d of drivers) {
      const p = await page.evaluate(([lat, lon]) => window.dispatchConsole.toScreen(lat, lon), [d.lat, d.lon]);
      const want = hexToRgb(await page.evaluate((id) => window.dispatchConsole.colourOf(id), d.id));
      const got = await pixelAt(page, p.x, p.y);
      if (got.some((v, i) => Math.abs(v - want[i]) > 40)) {
        throw new Error(`driver ${d.id} at (${p.x.toFixed(1)}, ${p.y.toFixed(1)}): pixel ${got}, expected ${want}`);
      }
    }
    log("ok: every driver marker has its status colour at its position");

    // The token was remembered.
    const stored = await page.evaluate(() => localStorage.getItem("dispatch.console.token"));
    if (!stored) throw new Error("the token was not remembered");

    // Create an order through the UI: pickup and dropoff between the drivers (so both
    // are on screen whatever the fitted zoom), clear of every marker.
    const at = await Promise.all(drivers.map((d) =>
      page.evaluate(([lat, lon]) => window.dispatchConsole.toScreen(lat, lon), [d.lat, d.lon])));
    const pick = { x: (at[0].x + at[1].x) / 2 + 15, y: (at[0].y + at[1].y) / 2 + 15 };
    const drop = { x: (at[0].x + at[2].x) / 2 - 15, y: (at[0].y + at[2].y) / 2 + 15 };
    const box = await page.locator("#map").boundingBox();
    await page.click("#new-order");
    await page.mouse.click(box.x + pick.x, box.y + pick.y);
    await page.mouse.click(box.x + drop.x, box.y + drop.y);
    await page.waitForSelector("#order-form:not([hidden])", { timeout: STEP_MS });
    const orderId = await page.inputValue("#order-form input[name=id]");
    await page.fill("#order-form input[name=size]", "1");
    await page.fill("#order-form input[name=dropoff_due_min]", "90");
    await page.click("#order-form button[type=submit]");
    log(`submitted order ${orderId}`);
    await waitFor(page, `order ${orderId} assigned`, (id) => {
      const o = window.dispatchConsole.order(id);
      return o && o.status === "assigned" && o.driver_id;
    }, orderId);
    const order = await page.evaluate((id) => window.dispatchConsole.order(id), orderId);
    // The list shows it, and selecting it shows its history and driver.
    await page.click(`#order-list li[data-id="${orderId}"]`);
    await page.waitForSelector("#detail:not([hidden])", { timeout: STEP_MS });
    const detail = await page.textContent("#detail-body");
    for (const want of [orderId, "pending", "assigned", order.driver_id]) {
      if (!detail.includes(want)) throw new Error(`order detail lacks ${want}: ${detail}`);
    }
    log("ok: order detail shows its history and driver");
    // Selecting its driver shows the route with the order's stops and ETAs.
    await page.click(`#detail-body [data-driver="${order.driver_id}"]`);
    await waitFor(page, "the driver's route drawn", () => window.dispatchConsole.state().frame.routeStops >= 2);
    const route = await page.textContent("#detail-body");
    if (!route.includes(orderId) || !route.includes("ETA")) throw new Error(`driver detail lacks the route: ${route}`);
    log("ok: driver detail shows the route with ETAs");
    await waitFor(page, "the latency panel to show an assignment", () => {
      const s = window.dispatchConsole.state().stats;
      return s && s.assign_latency.count >= 1;
    });
    await page.screenshot({ path: screenshot });

    // An order the engine refuses (size above every driver's capacity): the error is shown.
    await page.click("#detail-close");
    await page.click("#fit");
    await waitFor(page, "the fleet in view again", (n) => window.dispatchConsole.state().frame.drivers === n, drivers.length);
    const box2 = await page.locator("#map").boundingBox();
    const c = await page.evaluate(() => { const m = document.getElementById("map"); return { x: m.clientWidth / 2, y: m.clientHeight / 2 }; });
    await page.click("#new-order");
    await page.mouse.click(box2.x + c.x - 40, box2.y + c.y + 40);
    await page.mouse.click(box2.x + c.x + 40, box2.y + c.y + 40);
    await page.waitForSelector("#order-form:not([hidden])", { timeout: STEP_MS });
    await page.fill("#order-form input[name=size]", "999");
    await page.click("#order-form button[type=submit]");
    await page.waitForSelector("#order-form-error:not([hidden])", { timeout: STEP_MS });
    const err = await page.textContent("#order-form-error");
    if (!err.includes("invalid_argument")) throw new Error(`unexpected error text: ${err}`);
    log(`ok: engine error shown: ${err}`);
    await page.click("#order-form-cancel");

    // Cancel the assigned order from its detail panel.
    await page.click(`#order-list li[data-id="${orderId}"]`);
    await page.click("#cancel-order");
    await waitFor(page, `order ${orderId} cancelled`, (id) => {
      const o = window.dispatchConsole.order(id);
      return o && o.status === "cancelled";
    }, orderId);
    await page.selectOption("#order-status", "cancelled");
    const listed = await page.locator("#order-list li").count();
    if (listed !== 1) throw new Error(`the cancelled filter lists ${listed} orders`);
    log("ok: order cancelled from the console and found by the status filter");

    // A dropped connection: the page shows it and reconnects on its own.
    await page.click("#fit");
    await waitFor(page, "the fleet in view", (n) => window.dispatchConsole.state().frame.drivers === n, drivers.length);
    await page.evaluate(() => window.dispatchConsole.dropConnection());
    await waitFor(page, "the state to show reconnecting", () => window.dispatchConsole.state().conn === "reconnecting");
    await waitFor(page, "the console to reconnect", () => window.dispatchConsole.state().conn === "connected");
    await waitFor(page, "drivers drawn again", (n) => window.dispatchConsole.state().frame.drivers === n, drivers.length);

    if (pageErrors.length) throw new Error(`the page logged errors: ${pageErrors.join(" | ")}`);
    process.stdout.write(`${JSON.stringify({ ok: true, order_id: orderId, driver_id: order.driver_id, screenshot })}\n`);
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  process.stderr.write(`[console_test] FAILED: ${e.stack || e}\n`);
  process.exit(1);
});
