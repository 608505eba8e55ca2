// Service worker: makes the page work offline after one visit. The app shell (this build's
// hashed assets but the wasm builds, the page and the model manifest) is cached at install; the
// page names the one wasm build it runs once it has loaded (`keep`), so a visitor never
// downloads the builds their browser does not use. The model itself is kept by webinfer's own
// cache (keyed by sha256), so it is never fetched twice either.
//
// build.sh fills in BUILD and SHELL for each build; a new build gets a new cache and the old
// one is deleted once the new worker takes over.
const BUILD = '__BUILD__';
const SHELL = __SHELL__;
const CACHE = `webinfer-shell-${BUILD}`;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('webinfer-shell-') && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  const url = event.data?.keep;
  // Only this build's assets (a page of an older build may still talk to this worker): the
  // page just fetched it, so this is read from the HTTP cache.
  if (typeof url !== 'string' || !url.startsWith(`${self.location.origin}/assets/${BUILD}/`)) return;
  event.waitUntil(caches.open(CACHE).then(async (cache) => (await cache.match(url)) || cache.add(url)));
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  // Only this origin's GETs: the CDN's model requests go straight to the network.
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  event.respondWith(url.pathname.startsWith('/assets/') ? cacheFirst(event.request) : networkFirst(event.request));
});

/** Hashed assets never change: the cache is always right. */
async function cacheFirst(request) {
  return (await caches.match(request)) ?? fetch(request);
}

/** The page and the manifest may change: the network wins, the cache answers offline. */
async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (e) {
    const cached = await cache.match(request, { ignoreSearch: true });
    if (cached) return cached;
    throw e;
  }
}
