// Drives the driver web app (/driver) in headless Chromium against a running engine,
// as a driver with a phone would: a refused token stops with a message; the real
// token (from ?token=) signs in; going available shares the (mocked) position, which
// the engine sees; orders created over HTTP appear in the stop list and on the map;
// the pickup is marked, the delivery delivered with a note and a PNG proof, which the
// engine stores and the web console shows (its driver panel also makes a sign-in link
// and QR code, which sign a second phone in); with the network lost a marked stop
// waits in the outbox and arrives once after the reconnect's `welcome`, and one whose
// order was cancelled meanwhile is dropped unsent; the app opens with no network
// (service worker). Screenshots at phone and desktop widths. Started by
// engine/tests/browser.rs, which owns the engine and checks its side afterwards.
//
// Input (environment):
//   BASE          http://127.0.0.1:PORT
//   CONSOLE       a console token (HTTP checks and order creation)
//   DRIVER_ID     the registered driver, DRIVER_TOKEN its token
//   LAT, LON      where the phone is
//   SCREENSHOTS   the directory for driver-phone.png and driver-desktop.png
//   CHROMIUM      the browser binary (default /usr/bin/chromium)
// Output: one JSON line on stdout, {"ok":true,"delivered":"o1","picked_up":"o2"}; any
// failed step throws, prints the reason and exits 1.

import { chromium } from "playwright-core";
import path from "node:path";
import crypto from "node:crypto";

const env = process.env;
const base = env.BASE;
const driverId = env.DRIVER_ID;
const lat = Number(env.LAT);
const lon = Number(env.LON);
const executablePath = env.CHROMIUM || "/usr/bin/chromium";
const STEP_MS = 10_000;
// A 1x1 PNG.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);

// A sign-in link and the SHA-256 of its QR modules (rows of 0/1 joined by newlines),
// as /driver/qr.js drew it when zbarimg decoded that drawing back to the same link.
const QR_TEXT = "https://dispatch.example/driver?token=djJ8dG9rLTAxMjM0NTY3ODlhYmNkZWZ8MTc2NDE0MDAwMDAwMHwtfGQ6dmFuNw.c2lnbmF0dXJlLW9mLXRoZS10b2tlbi1mb3ItdGVzdHM";
const QR_SHA256 = "18262ee6dab9f17a43daf357bfe7d5ad20eea0c78bbf6e170013502f610df5ca";

function log(msg) {
  process.stderr.write(`[driver_test] ${msg}\n`);
}

async function waitFor(page, what, fn, arg) {
  try {
    await page.waitForFunction(fn, arg, { timeout: STEP_MS, polling: 50 });
  } catch (e) {
    const st = await page.evaluate(() => window.driverApp && window.driverApp.state()).catch(() => null);
    throw new Error(`timed out waiting for ${what}; app state: ${JSON.stringify(st)}`);
  }
  log(`ok: ${what}`);
}

async function api(method, p, body, token = env.CONSOLE) {
  const resp = await fetch(`${base}${p}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  const type = resp.headers.get("content-type") || "";
  const data = type.includes("json") ? await resp.json() : Buffer.from(await resp.arrayBuffer());
  return { status: resp.status, type, data };
}

/** Polls the engine over HTTP until `check(answer)` holds (bounded; not a sleep). */
async function until(what, p, check) {
  const deadline = Date.now() + STEP_MS;
  let last;
  for (;;) {
    last = await api("GET", p);
    if (check(last)) {
      log(`ok: ${what}`);
      return last;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last answer ${JSON.stringify(last.data)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Opens a stop's actions (if not open) and clicks an outcome. */
async function markStop(page, stopId, outcome, extra) {
  const li = page.locator(`li.stop[data-stop="${stopId}"]`);
  if (await li.locator("button.open").count()) await li.locator("button.open").click();
  if (extra) await extra(li);
  await li.locator(`button[data-outcome="${outcome}"]`).click();
}

function order(id, dLat, dLon, minutes) {
  const now = Date.now();
  return {
    id,
    pickup: { lat: lat + dLat, lon: lon + dLon, due_ms: now + minutes * 60_000 },
    dropoff: { lat: lat - dLat, lon: lon + 2 * dLon, ready_ms: now, due_ms: now + 2 * minutes * 60_000 },
  };
}

async function refusedToken(context) {
  const page = await context.newPage();
  await page.goto(`${base}/driver`);
  await page.fill("#token-input", "not-a-token");
  await page.click("#sign-in-form button[type=submit]");
  await waitFor(page, "a refused token to stop with a message", () => {
    const s = window.driverApp.state();
    return s.conn === "stopped" && s.refused && !document.getElementById("sign-in").hidden;
  });
  const text = await page.textContent("#sign-in-error");
  if (!/refused/.test(text)) throw new Error(`unclear refusal message: ${text}`);
  if (await page.evaluate(() => localStorage.getItem("dispatch.driver.token"))) throw new Error("a refused token was kept");
  await page.close();
}

async function signInAndShare(page, sent) {
  await page.goto(`${base}/driver?token=${encodeURIComponent(env.DRIVER_TOKEN)}`);
  await waitFor(page, "the app to connect", (id) => {
    const s = window.driverApp.state();
    return s.conn === "connected" && s.driverId === id;
  }, driverId);
  if (page.url().includes("token=")) throw new Error("the token stayed in the URL");
  await page.click('button[data-status="available"]');
  await waitFor(page, "the position shared", () => window.driverApp.state().positionsSent >= 1);
  await until("the engine sees the driver available where the phone is", `/v1/drivers/${driverId}`, (r) =>
    r.data.status === "available" && Math.abs(r.data.lat - lat) < 1e-6 && Math.abs(r.data.lon - lon) < 1e-6);
  if (!sent.some((m) => m.type === "hello")) throw new Error("no hello sent");
}

async function screenshots(page) {
  const dir = env.SCREENSHOTS;
  await page.screenshot({ path: path.join(dir, "driver-phone.png") });
  await page.setViewportSize({ width: 1280, height: 800 });
  await waitFor(page, "the desktop layout", () => document.getElementById("map").getBoundingClientRect().width > 400);
  await page.screenshot({ path: path.join(dir, "driver-desktop.png") });
  await page.setViewportSize({ width: 375, height: 812 });
  log(`screenshots in ${dir}`);
}

async function workTheRoute(page, sent) {
  for (const o of [order("o1", 0.002, 0.003, 30), order("o2", -0.003, 0.001, 45)]) {
    const r = await api("POST", "/v1/orders", o);
    if (r.status !== 201) throw new Error(`order ${o.id}: ${r.status} ${JSON.stringify(r.data)}`);
  }
  await waitFor(page, "both orders' stops in the list", () => {
    const s = window.driverApp.state().stops;
    return ["p:o1", "d:o1", "p:o2", "d:o2"].every((id) => s.includes(id));
  });
  const listed = await page.textContent("#stops");
  for (const want of ["ETA", "window", "Pick up", "Deliver"]) {
    if (!listed.includes(want)) throw new Error(`the stop list lacks ${want}: ${listed}`);
  }
  const geo = await page.getAttribute('li.stop[data-stop="p:o1"] a.maps', "href");
  if (!geo.startsWith("geo:")) throw new Error(`no geo: link: ${geo}`);
  if ((await page.locator("#map .stop").count()) !== 4) throw new Error("the map does not show the 4 stops");
  await screenshots(page);

  await markStop(page, "p:o1", "picked_up");
  await waitFor(page, "the pickup done", () => !window.driverApp.state().stops.includes("p:o1") && window.driverApp.state().outbox === 0);
  await markStop(page, "d:o1", "delivered", async (li) => {
    await li.locator("[name=note]").fill("left with the neighbour");
    await li.locator("[name=photo]").setInputFiles({ name: "proof.png", mimeType: "image/png", buffer: PNG });
  });
  await waitFor(page, "the delivery done and its photo sent", () => !window.driverApp.state().stops.includes("d:o1") && window.driverApp.state().outbox === 0);
  await until("o1 delivered", "/v1/orders/o1", (r) => r.data.status === "delivered");
  const proof = await api("GET", "/v1/orders/o1/proof");
  if (proof.status !== 200 || proof.type !== "image/png" || !proof.data.equals(PNG)) {
    throw new Error(`proof of o1: ${proof.status} ${proof.type} ${proof.data.length} bytes`);
  }
  log("ok: the proof stored is the photo taken");
  const done = sent.find((m) => m.type === "stop_done" && m.stop_id === "d:o1");
  if (!done || done.note !== "left with the neighbour" || done.outcome !== "delivered") throw new Error(`stop_done sent: ${JSON.stringify(done)}`);
}

async function networkLoss(context, page, sent) {
  await context.setOffline(true);
  await page.evaluate(() => window.driverApp.dropConnection());
  await waitFor(page, "the app to show the connection lost", () => window.driverApp.state().conn === "reconnecting");
  await markStop(page, "p:o2", "picked_up");
  await waitFor(page, "the pickup queued", () => window.driverApp.state().outbox === 1);
  const queued = JSON.parse(await page.evaluate(() => localStorage.getItem("dispatch.driver.outbox")));
  if (queued.length !== 1 || queued[0].stop_id !== "p:o2") throw new Error(`outbox: ${JSON.stringify(queued)}`);
  const before = await api("GET", "/v1/orders/o2");
  if (before.data.status !== "assigned") throw new Error(`o2 changed while offline: ${before.data.status}`);
  await context.setOffline(false);
  await waitFor(page, "the queued pickup sent after welcome", () => {
    const s = window.driverApp.state();
    return s.conn === "connected" && s.outbox === 0 && !s.stops.includes("p:o2");
  });
  const o2 = await until("o2 picked up", "/v1/orders/o2", (r) => r.data.status === "picked_up");
  const pickedUp = o2.data.history.filter((h) => h.status === "picked_up").length;
  const sends = sent.filter((m) => m.type === "stop_done" && m.stop_id === "p:o2").length;
  if (pickedUp !== 1 || sends !== 1) throw new Error(`p:o2 recorded ${pickedUp} times, sent ${sends} times`);
}

/** A stop marked offline whose order is cancelled meanwhile: after the reconnect the
 * `welcome` route lacks it, so it is dropped, never sent. */
async function staleWhileOffline(context, page, sent) {
  const r = await api("POST", "/v1/orders", order("o3", 0.001, -0.002, 40));
  if (r.status !== 201) throw new Error(`order o3: ${r.status} ${JSON.stringify(r.data)}`);
  await waitFor(page, "o3's stops in the list", () => window.driverApp.state().stops.includes("p:o3"));
  await context.setOffline(true);
  await page.evaluate(() => window.driverApp.dropConnection());
  await waitFor(page, "the connection lost again", () => window.driverApp.state().conn === "reconnecting");
  await markStop(page, "p:o3", "picked_up");
  await waitFor(page, "the o3 pickup queued", () => window.driverApp.state().outbox === 1);
  const cancelled = await api("POST", "/v1/orders/o3/cancel");
  if (cancelled.status !== 200) throw new Error(`cancel o3: ${cancelled.status}`);
  await context.setOffline(false);
  await waitFor(page, "the stale pickup dropped after welcome", () => {
    const s = window.driverApp.state();
    return s.conn === "connected" && s.outbox === 0 && !s.stops.includes("p:o3");
  });
  if (sent.some((m) => m.type === "stop_done" && m.stop_id === "p:o3")) throw new Error("the stale p:o3 was sent");
}

async function offlineStart(context, page) {
  await page.evaluate(() => navigator.serviceWorker.ready);
  await waitFor(page, "the service worker controlling the page", () => !!navigator.serviceWorker.controller);
  await context.setOffline(true);
  await page.reload();
  await waitFor(page, "the app to open with no network, signed in", () => {
    const s = window.driverApp.state();
    return s.signedIn && s.conn === "reconnecting";
  });
  await context.setOffline(false);
  await waitFor(page, "the route back from welcome", () => {
    const s = window.driverApp.state();
    return s.conn === "connected" && s.stops.length === 1 && s.stops[0] === "d:o2";
  });
}

/** The web console, open while the driver works, to see the proof in o1's detail. */
async function openConsole(browser) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${base}/?token=${encodeURIComponent(env.CONSOLE)}`);
  await waitFor(page, "the console to connect", () => window.dispatchConsole.state().conn === "connected");
  return page;
}

async function consoleChecks(browser, page) {
  await waitFor(page, "the console to see o1 delivered", () => {
    const o = window.dispatchConsole.order("o1");
    return o && o.status === "delivered";
  });
  await page.click("#tab-orders");
  await page.selectOption("#order-status", "delivered");
  await page.click('#order-list li[data-id="o1"]');
  await page.waitForSelector("#proof:not([hidden])", { timeout: STEP_MS });
  const width = await page.evaluate(() => document.querySelector("#proof img").naturalWidth);
  if (width !== 1) throw new Error(`the console's proof image is ${width} px wide`);
  log("ok: the console shows o1's proof of delivery");
  // The note sent with the delivery is kept on o1's history and shown there.
  const history = await page.textContent("#detail-body ol.history");
  if (!history.includes("left with the neighbour")) throw new Error(`o1's history lacks the note: ${history}`);
  log("ok: the console shows the driver's delivery note");
  // The driver's panel makes a sign-in link for the app, which signs a phone in.
  await page.click(`#detail-body [data-driver="${driverId}"]`);
  await page.click("#driver-app-link");
  await page.waitForSelector("#driver-app-url", { timeout: STEP_MS });
  const link = await page.inputValue("#driver-app-url");
  if (!link.startsWith(`${base}/driver?token=`)) throw new Error(`sign-in link: ${link}`);
  if ((await page.locator("#driver-app-qr svg path").count()) !== 1) throw new Error("no QR code of the link");
  const modules = await page.evaluate((t) => window.dispatchQr.encode(t).map((r) => r.map((d) => (d ? 1 : 0)).join("")).join("\n"), QR_TEXT);
  const sha = crypto.createHash("sha256").update(modules).digest("hex");
  if (sha !== QR_SHA256) throw new Error(`the QR encoder changed its output: ${sha}`);
  log("ok: the console shows the link and its QR code");
  await page.close();
  const phone = await browser.newContext({ viewport: { width: 375, height: 812 } });
  const app = await phone.newPage();
  await app.goto(link);
  await waitFor(app, "the console's sign-in link to sign the app in", (id) => {
    const s = window.driverApp.state();
    return s.conn === "connected" && s.driverId === id;
  }, driverId);
  await phone.close();
}

async function main() {
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  try {
    const context = await browser.newContext({
      viewport: { width: 375, height: 812 },
      hasTouch: true,
      geolocation: { latitude: lat, longitude: lon, accuracy: 8 },
    });
    await context.grantPermissions(["geolocation"], { origin: base });
    await refusedToken(context);
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => {
      // A socket or fetch refused while offline is the network, not the app.
      if (m.type() === "error" && !/WebSocket|ERR_INTERNET_DISCONNECTED|Failed to load resource/.test(m.text())) errors.push(m.text());
    });
    const sent = [];
    page.on("websocket", (ws) => ws.on("framesent", (f) => {
      try { sent.push(JSON.parse(f.payload)); } catch (_) { /* binary */ }
    }));
    await signInAndShare(page, sent);
    const consolePage = await openConsole(browser);
    await workTheRoute(page, sent);
    await consoleChecks(browser, consolePage);
    await networkLoss(context, page, sent);
    await staleWhileOffline(context, page, sent);
    await offlineStart(context, page);
    if (errors.length) throw new Error(`the page logged errors: ${errors.join(" | ")}`);
    process.stdout.write(`${JSON.stringify({ ok: true, delivered: "o1", picked_up: "o2" })}\n`);
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  process.stderr.write(`[driver_test] FAILED: ${e.stack || e}\n`);
  process.exit(1);
});
