// The driver app's service worker: keeps the app's files so the app opens with no
// network (the route then comes back with the next `welcome`). Network first, the
// cached copy when the network fails, so a new engine's files are picked up at once.
// The API and the sockets are never touched.

const CACHE = "dispatch-driver-v2";
const SHELL = [
  "/driver",
  "/driver/app.js",
  "/driver/wire.js",
  "/driver/outbox.js",
  "/driver/stops.js",
  "/driver/map.js",
  "/driver/polyline.js",
  "/driver/qr.js",
  "/driver/app.css",
  "/driver/manifest.webmanifest",
  "/driver/icon.svg",
];

self.addEventListener("install", (ev) => {
  ev.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (ev) => {
  ev.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (ev) => {
  const url = new URL(ev.request.url);
  if (ev.request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname !== "/driver" && !url.pathname.startsWith("/driver/")) return;
  // The page with ?token= is the same page: one cached copy.
  const key = url.pathname;
  ev.respondWith(
    fetch(ev.request)
      .then((resp) => {
        if (resp.ok) {
          const copy = resp.clone();
          caches.open(CACHE).then((c) => c.put(key, copy));
        }
        return resp;
      })
      .catch(() => caches.match(key).then((hit) => hit || Response.error())),
  );
});
