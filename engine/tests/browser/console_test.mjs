// Drives the web console in headless Chromium against a running engine, as a
// dispatcher would: open the page with a token, see the drivers drawn on the map and
// listed with their names, search and filter the list, create an order (with its
// recipient) by clicking its pickup and dropoff, see it assigned, its driver's stop
// list, an alert for that driver going silent with work, replay a trail, see an
// engine error shown, survive a dropped connection, stop at a refused token with one
// message; screenshots at desktop and phone widths. Started by engine/tests/browser.rs, which
// owns the engine and the driver bots and checks the engine's side afterwards.
//
// Input (environment):
//   CONSOLE_URL  http://127.0.0.1:PORT/?token=...
//   DRIVERS      JSON [{"id","name","lat","lon"}] of the bots that are online
//   SCREENSHOT   where to save the final screenshot (PNG)
//   SCREENSHOTS  directory for console-desktop.png and console-phone.png (optional)
//   CHROMIUM     the browser binary (default /usr/bin/chromium)
// Output: one JSON line on stdout, {"ok":true,"order_id":...,"screenshot":...}; any
// failed step throws, prints the reason and exits 1.

import { chromium } from "playwright-core";

const url = process.env.CONSOLE_URL;
const drivers = JSON.parse(process.env.DRIVERS || "[]");
const screenshot = process.env.SCREENSHOT;
const screenshots = process.env.SCREENSHOTS;
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

/** Every bot is listed with its name; searching and the status filter narrow the list. */
async function checkDriverList(page) {
  await waitFor(page, "the driver list with every bot's name", (ds) => ds.every((d) => {
    const li = document.querySelector(`#driver-list li[data-driver="${d.id}"]`);
    return li && li.textContent.includes(d.name);
  }), drivers);
  const count = () => page.locator("#driver-list li").count();
  if (await count() !== drivers.length) throw new Error(`the driver list has ${await count()} rows`);
  const one = drivers[1];
  await page.fill("#driver-filter", one.name.slice(0, 4).toLowerCase());
  const listed = await page.locator("#driver-list li").evaluateAll((lis) => lis.map((li) => li.dataset.driver));
  if (listed.length !== 1 || listed[0] !== one.id) throw new Error(`searching ${one.name} lists ${listed}`);
  await page.fill("#driver-filter", "");
  await page.selectOption("#driver-status", "break");
  if (await count() !== 0) throw new Error("the break filter lists drivers that are available");
  await page.selectOption("#driver-status", "available");
  if (await count() !== drivers.length) throw new Error("the available filter misses drivers");
  await page.selectOption("#driver-status", "");
  log("ok: the driver list shows names; search and status filter work");
}

/** Selecting the driver in the list shows its stop list; it holds work and has sent no
 * position for longer than the page's `silent_s`: an alert is listed and toasted once. */
async function checkStopListAndAlert(page, driverId, orderId) {
  await page.click("#tab-drivers");
  await page.click(`#driver-list li[data-driver="${driverId}"]`);
  await waitFor(page, "the stop list of the selected driver", (id) => {
    const lis = [...document.querySelectorAll("#detail-body ol.stops li")];
    return lis.length === 2 && lis.every((li) => li.textContent.includes(id));
  }, orderId);
  const row = await page.textContent(`#driver-list li[data-driver="${driverId}"]`);
  if (!row.includes(orderId)) throw new Error(`the driver's row lacks its next stop: ${row}`);
  await waitFor(page, `an alert for ${driverId} (silent with work)`,
    (id) => !!document.querySelector(`#alert-list li[data-alert="silent:${id}"]`), driverId);
  const alertToasts = await page.locator(".toast", { hasText: "Alert:" })
    .evaluateAll((ts, id) => ts.filter((t) => t.textContent.includes(`(${id}) silent`)).length, driverId);
  if (alertToasts !== 1) throw new Error(`${alertToasts} toasts for the alert`);
  await page.click("#tab-alerts");
  const text = await page.textContent("#alert-list");
  if (!text.includes("silent")) throw new Error(`alert panel: ${text}`);
  await page.click("#tab-drivers");
  log("ok: stop list shown; the silent driver with work raised one alert");
}

/** The selected driver's trail is replayed on the map, with a slider. */
async function checkReplay(page) {
  await page.click("#replay-load");
  await waitFor(page, "the trail loaded", () => {
    const r = window.dispatchConsole.state().replay;
    return r && r.points >= 1 && window.dispatchConsole.state().frame.replayed >= 1;
  });
  const slider = await page.locator("#replay-slider").count();
  const points = await page.evaluate(() => window.dispatchConsole.state().replay.points);
  if (points >= 2 && slider !== 1) throw new Error("no replay slider");
  log(`ok: trail replayed (${points} points)`);
}

/** The console at phone width: map and panels stacked, nothing wider than the screen. */
async function phone(browser, pageErrors) {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await page.goto(url);
  await waitFor(page, "the phone console to connect", () => window.dispatchConsole.state().conn === "connected");
  await waitFor(page, "the driver list on the phone", (n) =>
    document.querySelectorAll("#driver-list li").length === n, drivers.length);
  const layout = await page.evaluate(() => {
    const r = (id) => document.getElementById(id).getBoundingClientRect();
    return { width: document.documentElement.scrollWidth, map: r("map-wrap"), side: r("side") };
  });
  if (layout.width > 390) throw new Error(`the page is ${layout.width} px wide at 390`);
  if (layout.side.top < layout.map.bottom - 1 || layout.map.width < 380) {
    throw new Error(`map and panels are not stacked: ${JSON.stringify(layout)}`);
  }
  await page.screenshot({ path: `${screenshots}/console-phone.png` });
  await page.close();
  log("ok: phone layout stacked, screenshot taken");
}

/** A refused token: one clear message, no reconnecting, no toasts. */
async function refusedToken(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(url.replace(/token=[^&]*/, "token=not-a-token"));
  await waitFor(page, "the refused token to stop the console", () =>
    window.dispatchConsole.state().conn === "unauthorized");
  const st = await page.evaluate(() => window.dispatchConsole.state());
  if (st.attempts !== 1 || st.retryPending) throw new Error(`still reconnecting: ${JSON.stringify(st)}`);
  const msg = await page.textContent("#auth-error");
  if (!(await page.isVisible("#auth-error")) || !msg.includes("refused")) throw new Error(`no clear message: ${msg}`);
  const toasts = await page.locator(".toast").count();
  if (toasts !== 0) throw new Error(`${toasts} toasts for a refused token`);
  log("ok: a refused token shows one message and stops");
  // A valid token entered in the header connects, and the message goes.
  await page.fill("#token", new URL(url).searchParams.get("token"));
  await page.click("#token-form button[type=submit]");
  await waitFor(page, "a valid token to connect after the refusal", () =>
    window.dispatchConsole.state().conn === "connected");
  if (await page.isVisible("#auth-error")) throw new Error("the refusal message stays after connecting");
  await context.close();
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
    await checkDriverList(page);

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
    await page.fill("#order-form input[name=recipient_name]", "Aino Virtanen");
    await page.fill("#order-form input[name=recipient_phone]", "+358 40 123 4567");
    await page.fill("#order-form textarea[name=address]", "Mannerheimintie 1, Helsinki");
    await page.fill("#order-form textarea[name=notes]", "door code 1234");
    await page.click("#order-form button[type=submit]");
    log(`submitted order ${orderId}`);
    await waitFor(page, `order ${orderId} assigned`, (id) => {
      const o = window.dispatchConsole.order(id);
      return o && o.status === "assigned" && o.driver_id;
    }, orderId);
    const order = await page.evaluate((id) => window.dispatchConsole.order(id), orderId);
    // The list shows it, and selecting it shows its recipient, history and driver.
    await page.click("#tab-orders");
    await page.click(`#order-list li[data-id="${orderId}"]`);
    await page.waitForSelector("#detail:not([hidden])", { timeout: STEP_MS });
    const detail = await page.textContent("#detail-body");
    for (const want of [orderId, "pending", "assigned", order.driver_id, "Aino Virtanen", "+358 40 123 4567",
      "Mannerheimintie 1, Helsinki", "door code 1234"]) {
      if (!detail.includes(want)) throw new Error(`order detail lacks ${want}: ${detail}`);
    }
    log("ok: order detail shows its history and driver");
    // Selecting its driver shows the route with the order's stops and ETAs.
    await page.click(`#detail-body [data-driver="${order.driver_id}"]`);
    await waitFor(page, "the driver's route drawn", () => window.dispatchConsole.state().frame.routeStops >= 2);
    const route = await page.textContent("#detail-body");
    if (!route.includes(orderId) || !route.includes("ETA")) throw new Error(`driver detail lacks the route: ${route}`);
    log("ok: driver detail shows the route with ETAs");
    await checkStopListAndAlert(page, order.driver_id, orderId);
    await checkReplay(page);
    if (screenshots) await page.screenshot({ path: `${screenshots}/console-desktop.png` });
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
    await page.click("#tab-orders");
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

    if (screenshots) await phone(browser, pageErrors);
    await refusedToken(browser);

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
