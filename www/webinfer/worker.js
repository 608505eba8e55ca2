// The inference worker behind one InferenceSession (session.js): it owns the wasm instance and
// the model's synchronous Session, so the page's main thread never blocks on a download, a
// compile or an inference. Requests: { id, op, ... } -> { id, ok, result | error, fatal,
// buildFailed } (and { id, progress } while a model downloads). Which wasm build runs is the
// page's choice (builds.js): its module is imported on `start`.
//
// Self-contained on purpose (no imports): bundlers emit it as its own worker entry.

let webinfer = null;
let session = null;

const handlers = {
  /** Imports and instantiates `build`'s module, starting its threads if it has any. A panic on
   *  a pool thread is posted on `crashChannel`: this worker itself is then stuck waiting for that
   *  thread, so the page has to hear of it another way. Resolves to the time it took. */
  async start({ build, crashChannel }) {
    if (webinfer) return { compileMs: 0 };
    const t0 = performance.now();
    try {
      const module = await import(/* @vite-ignore */ /* webpackIgnore: true */ build.module);
      await module.default({ module_or_path: build.wasm });
      if (build.threads > 1) {
        await withDeadline(module.startThreads(build.threads, crashChannel), 20000,
          `the ${build.threads} inference threads did not start within 20 s (the page's Content-Security-Policy ` +
          'must allow worker-src blob:, and the page must be cross-origin isolated); ' +
          'pass { threads: 1 } to run without them');
      }
      webinfer = module;
    } catch (e) {
      const error = new Error(`could not start the ${build.name} wasm build: ${e instanceof Error ? e.message : e}`);
      error.buildFailed = build.name; // the page may retry with another build
      throw error;
    }
    return { compileMs: performance.now() - t0 };
  },

  /** Loads, verifies and plans a model: `source` is a URL or the model's bytes. */
  async create({ source, options, progress: wantsProgress }, progress) {
    const next = await webinfer.Session.create(source, {
      ...options,
      ...(wantsProgress ? { onProgress: (loaded, total) => progress({ loaded, total: total ?? null }) } : {}),
    });
    session?.free();
    session = next;
    return describe(session);
  },

  run({ feeds }) {
    const outputs = loaded().run(feeds);
    return { result: outputs, transfer: buffersOf(outputs) };
  },

  profile({ feeds, runs }) {
    return loaded().profile(feeds, runs);
  },

  /** Preprocessing, inference and ranking for the Classifier, in one round trip. */
  classify({ image, preprocess, input, output, topK: k = 5 }) {
    const pixels = image instanceof ImageBitmap ? bitmapPixels(image) : image;
    const t0 = performance.now();
    const tensor = webinfer.preprocessImage(pixels, preprocess);
    const t1 = performance.now();
    const outputs = loaded().run({ [input]: tensor });
    const t2 = performance.now();
    const scores = outputs[output];
    if (!scores) throw new Error(`the model has no output \`${output}\` (it has ${Object.keys(outputs).join(', ')})`);
    return {
      top: webinfer.topK(scores.data, k),
      timings: { preprocessMs: t1 - t0, runMs: t2 - t1 },
      size: { width: pixels.width, height: pixels.height },
    };
  },

  release() {
    session?.free();
    session = null;
  },
};

function loaded() {
  if (!session) throw new Error('this session has been released');
  return session;
}

function describe(s) {
  return { inputNames: s.inputNames, outputNames: s.outputNames, inputs: s.inputs, outputs: s.outputs, loadInfo: s.loadInfo };
}

/** The outputs' buffers, handed to the page rather than copied (the worker keeps no reference). */
function buffersOf(outputs) {
  return Object.values(outputs).flatMap(({ data }) => (ArrayBuffer.isView(data) ? [data.buffer] : []));
}

self.onmessage = async ({ data }) => {
  // Only requests from session.js: anything else posted to this worker is not ours.
  if (typeof data?.op !== 'string') return;
  const { id, op, ...args } = data;
  const progress = (p) => self.postMessage({ id, progress: p });
  try {
    const handler = handlers[op];
    if (!handler) throw new Error(`unknown worker request \`${op}\``);
    const value = await handler(args, progress);
    const { result, transfer } = value && 'transfer' in value ? value : { result: value, transfer: [] };
    self.postMessage({ id, ok: true, result }, transfer);
  } catch (e) {
    // A trap (an out-of-memory abort; a panic in a build that aborts) leaves the wasm instance
    // unusable: say so, and the page side replaces this worker with a fresh one.
    const fatal = e instanceof WebAssembly.RuntimeError;
    const error = fatal ? `${e.name}: ${e.message}` : e instanceof Error ? e.message : String(e);
    self.postMessage({ id, ok: false, error, fatal, buildFailed: e?.buildFailed ?? null });
  }
};

/** `promise`, or an Error with `message` if it has not settled after `ms`: a worker that never
 *  reports back (blocked by a policy, failed to load) would otherwise leave the load hanging. */
function withDeadline(promise, ms, message) {
  let timer;
  const deadline = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** RGBA pixels of a bitmap, as decoded (no colour management, like Pillow). */
function bitmapPixels(bitmap) {
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return context.getImageData(0, 0, canvas.width, canvas.height);
}
