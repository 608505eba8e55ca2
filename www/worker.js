// The inference worker: owns the wasm instance, the model session and the labels, so the page's
// main thread never blocks on a download, a compile or an inference. Spoken to only by
// classifier.js, one request at a time: { id, op, ... } -> { id, ok, result | error, fatal, buildFailed }.
// Which wasm build runs is the page's choice (classifier.js `wasmBuild`): the module is imported
// on the first load.

let webinfer = null;
let session = null;
let manifest = null;
let compileMs = null;

/** Imports and instantiates `build`'s module, starting its threads if it has any. A panic on
 *  a pool thread is posted on `crashChannel`: this worker itself is then stuck waiting for
 *  that thread, so the page has to hear of it another way. */
async function start(build, crashChannel) {
  const module = await import(build.module);
  await module.default({ module_or_path: build.wasm });
  if (build.threads > 1) {
    await withDeadline(module.startThreads(build.threads, crashChannel), 20000,
      `the ${build.threads} inference threads did not start within 20 s (the page's Content-Security-Policy ` +
      'must allow worker-src blob:, and the page must be cross-origin isolated); ' +
      'Classifier.load(url, { threads: 1 }) runs without them');
  }
  return module;
}

/** `promise`, or an Error with `message` if it has not settled after `ms`: a worker that never
 *  reports back (blocked by a policy, failed to load) would otherwise leave the load hanging. */
function withDeadline(promise, ms, message) {
  let timer;
  const deadline = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

const handlers = {
  async load({ manifestUrl, build, crashChannel }, progress) {
    if (!webinfer) {
      const started = await timed(() => start(build, crashChannel).catch((e) => {
        const error = new Error(`could not start the ${build.name} wasm build: ${e instanceof Error ? e.message : e}`);
        error.buildFailed = build.name; // the page may retry with another build
        throw error;
      }));
      webinfer = started.value;
      compileMs = started.ms;
    }
    const { Session } = webinfer;
    const { value: loaded, ms: manifestMs } = await timed(() => fetchManifest(manifestUrl));
    const next = await Session.create(loaded.model.url, {
      sha256: loaded.model.sha256,
      onProgress: (bytes, total) => progress({ loaded: bytes, total: total ?? loaded.model.bytes ?? null }),
    });
    if (!next.inputNames.includes(loaded.input.name)) {
      throw new Error(`manifest input \`${loaded.input.name}\` is not an input of the model (it has ${next.inputNames.join(', ')})`);
    }
    session?.free();
    session = next;
    manifest = loaded;
    return {
      name: manifest.name,
      classes: manifest.labels.length,
      quantization: manifest.model.quantization ?? null,
      timings: { compileMs, manifestMs, ...session.loadInfo },
    };
  },

  classify({ image, topK: k = 5 }) {
    if (!session) throw new Error('no model loaded: call Classifier.load() first');
    const pixels = image instanceof ImageBitmap ? bitmapPixels(image) : image;
    const { preprocessImage, topK } = webinfer;
    const t0 = performance.now();
    const input = preprocessImage(pixels, manifest.preprocess);
    const t1 = performance.now();
    const outputs = session.run({ [manifest.input.name]: input });
    const t2 = performance.now();
    const scores = outputs[manifest.output];
    const top = topK(scores.data, k).map(({ index, probability }) => ({ index, label: manifest.labels[index] ?? `class ${index}`, probability }));
    return { top, timings: { preprocessMs: t1 - t0, runMs: t2 - t1 }, size: { width: pixels.width, height: pixels.height } };
  },
};

self.onmessage = async ({ data: { id, op, ...args } }) => {
  const progress = (p) => self.postMessage({ id, progress: p });
  try {
    const handler = handlers[op];
    if (!handler) throw new Error(`unknown worker request \`${op}\``);
    self.postMessage({ id, ok: true, result: await handler(args, progress) });
  } catch (e) {
    // A trap (a Rust panic under panic=abort, an out-of-memory abort) leaves the wasm instance
    // unusable: say so, and the page side replaces this worker with a fresh one.
    const fatal = e instanceof WebAssembly.RuntimeError;
    const error = fatal ? `${e.name}: ${e.message}` : e instanceof Error ? e.message : String(e);
    self.postMessage({ id, ok: false, error, fatal, buildFailed: e?.buildFailed ?? null });
  }
};

async function timed(f) {
  const t0 = performance.now();
  const value = await f();
  return { value, ms: performance.now() - t0 };
}

/** RGBA pixels of a bitmap, as decoded (no colour management, like Pillow). */
function bitmapPixels(bitmap) {
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return context.getImageData(0, 0, canvas.width, canvas.height);
}

/** The manifest, checked field by field: a web developer should learn which one is wrong. */
async function fetchManifest(url) {
  let response;
  try {
    response = await fetch(url, { cache: 'no-cache' });
  } catch (e) {
    throw new Error(`could not fetch the model manifest ${url}: ${e.message}`);
  }
  if (!response.ok) throw new Error(`could not fetch the model manifest ${url}: HTTP ${response.status}`);
  let m;
  try {
    m = await response.json();
  } catch {
    throw new Error(`the model manifest ${url} is not valid JSON`);
  }
  const where = `model manifest ${url}`;
  const need = (ok, field, what) => { if (!ok) throw new Error(`${where}: \`${field}\` ${what}`); };
  need(m && typeof m === 'object', '(root)', 'must be a JSON object');
  need(m.schema === 'webinfer.manifest/1', 'schema', `must be "webinfer.manifest/1" (got ${JSON.stringify(m.schema)})`);
  need(m.model && typeof m.model === 'object', 'model', 'is missing');
  need(typeof m.model.url === 'string' && m.model.url, 'model.url', 'must be the model file URL');
  need(typeof m.model.sha256 === 'string' && /^[0-9a-f]{64}$/i.test(m.model.sha256), 'model.sha256', 'must be 64 hex digits');
  need(Array.isArray(m.inputs) && m.inputs.length === 1 && typeof m.inputs[0]?.name === 'string', 'inputs', 'must list the one image input by name');
  need(Array.isArray(m.outputs) && m.outputs.length >= 1 && typeof m.outputs[0]?.name === 'string', 'outputs', 'must list the scores output by name');
  need(m.preprocess && typeof m.preprocess === 'object', 'preprocess', 'is missing (resize, crop, mean, std, layout, channels, interpolation)');
  need(Array.isArray(m.labels) && m.labels.every((l) => typeof l === 'string'), 'labels', 'must be an array of class names');
  return {
    ...m,
    model: { ...m.model, url: new URL(m.model.url, response.url || new URL(url, self.location.href)).href },
    input: m.inputs[0],
    output: m.outputs[0].name,
  };
}
