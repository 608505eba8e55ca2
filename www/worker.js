// The inference worker: owns the wasm instance, the model session and the labels, so the page's
// main thread never blocks on a download, a compile or an inference. Spoken to only by
// classifier.js, one request at a time: { id, op, ... } -> { id, ok, result | error, fatal }.
import init, { Session, preprocessImage, topK } from './pkg/webinfer.js';

let session = null;
let manifest = null;
let compileMs = null;

const handlers = {
  async load({ manifestUrl }, progress) {
    compileMs ??= (await timed(() => init())).ms;
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
    self.postMessage({ id, ok: false, error, fatal });
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
