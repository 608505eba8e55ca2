// Browser-side helpers for tests/web.rs, written the way a page would use the API.

const TYPED = { float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array, int32: Int32Array, bool: Uint8Array };

/** Expected-output JSON inputs ({ type, dims, data: number[] }) as feeds a web developer would pass. */
export function toFeeds(inputs) {
  const feeds = {};
  for (const [name, t] of Object.entries(inputs)) {
    const data = t.type === 'int64' ? BigInt64Array.from(t.data, BigInt) : TYPED[t.type].from(t.data);
    feeds[name] = t.type === 'bool' ? { type: 'bool', data, dims: t.dims } : { data, dims: t.dims };
  }
  return feeds;
}

export function toNumbers(arrayLike) {
  return Array.from(arrayLike, Number);
}

export async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

export async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** webinfer's model cache (src/web/cache.rs), and the key of `sha256`'s entry in it. */
async function modelCache(sha256) {
  return [await caches.open('webinfer-models-v1'), `https://webinfer.invalid/sha256/${sha256}`];
}

export async function cacheHas(sha256) {
  const [cache, key] = await modelCache(sha256);
  return (await cache.match(key)) !== undefined;
}

/** Stores `bytes` in webinfer's model cache under `sha256`'s key, as a damaged entry would be. */
export async function cachePut(sha256, bytes) {
  const [cache, key] = await modelCache(sha256);
  await cache.put(key, new Response(bytes));
}

/** The bytes webinfer's model cache holds under `sha256`'s key. */
export async function cacheBytes(sha256) {
  const [cache, key] = await modelCache(sha256);
  return new Uint8Array(await (await cache.match(key)).arrayBuffer());
}

/** Records onProgress calls as [loaded, total] pairs. */
export function progressRecorder() {
  const calls = [];
  const onProgress = (loaded, total) => calls.push([loaded, total === undefined ? -1 : total]);
  return { onProgress, calls };
}

// A controllable origin for failure cases the static test server cannot produce. Responses for
// URLs under a registered prefix come from a real browser ReadableStream that delivers `bytes`
// in `chunks` pieces and, when `failAfter` is set, errors after that many chunks (a connection
// reset mid-body). Other URLs go to the real network. Each test registers its own prefix, so
// tests running side by side cannot disturb each other.
const realFetch = globalThis.fetch.bind(globalThis);
const stubs = new Map();

globalThis.fetch = (input, init) => {
  const url = String(input);
  for (const [prefix, stub] of stubs) {
    if (url.startsWith(prefix)) return stub.plan ? flakyResponse(stub, init) : Promise.resolve(stubResponse(stub));
  }
  return realFetch(input, init);
};

// A flaky CDN: request n follows plan[n] (the last entry repeats): 'ok', an HTTP status ('500',
// '404'), 'cut:K' (body errors after K chunks), 'stall:K' (body stops after K chunks and never
// ends), 'hang' (no response at all). Aborting the request (fetch's signal) ends it as a real
// network stack would.
function flakyResponse(stub, init) {
  const step = stub.plan[Math.min(stub.requests, stub.plan.length - 1)];
  stub.requests += 1;
  const [kind, arg] = step.split(':');
  const aborted = new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
  if (kind === 'hang') return aborted;
  if (/^\d+$/.test(kind)) return Promise.resolve(new Response('error', { status: Number(kind), statusText: 'Stubbed' }));
  const after = Number(arg);
  const size = Math.ceil(stub.bytes.length / stub.chunks);
  let sent = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (kind === 'cut' && sent >= after) return controller.error(new TypeError('network error (connection reset)'));
      if (kind === 'stall' && sent >= after) return aborted.catch((e) => controller.error(e));
      if (sent * size >= stub.bytes.length) return controller.close();
      controller.enqueue(stub.bytes.slice(sent * size, (sent + 1) * size));
      sent += 1;
    },
  });
  return Promise.resolve(new Response(body, { headers: { 'content-length': String(stub.bytes.length) } }));
}

export function stubFlakyOrigin(prefix, bytes, chunks, plan) {
  stubs.set(prefix, { bytes, chunks, plan, requests: 0 });
}

export function stubRequests(prefix) {
  return stubs.get(prefix).requests;
}

function stubResponse({ bytes, chunks, failAfter }) {
  const size = Math.ceil(bytes.length / chunks);
  let sent = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (failAfter !== undefined && sent >= failAfter) {
        controller.error(new TypeError('network error (connection reset)'));
      } else if (sent * size >= bytes.length) {
        controller.close();
      } else {
        controller.enqueue(bytes.slice(sent * size, (sent + 1) * size));
        sent += 1;
      }
    },
  });
  return new Response(body, { headers: { 'content-length': String(bytes.length) } });
}

export function stubOrigin(prefix, bytes, chunks, failAfter) {
  stubs.set(prefix, { bytes, chunks, failAfter });
}

/** An ImageData, as a canvas gives one. */
export function imageData(bytes, width, height) {
  return new ImageData(new Uint8ClampedArray(bytes), width, height);
}
