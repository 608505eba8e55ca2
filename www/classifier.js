// webinfer's image classifier for web pages: a few lines to embed, inference off the main thread.
//
//   import { Classifier } from './classifier.js';
//   const classifier = await Classifier.load('/api/model', { onProgress: (loaded, total) => ... });
//   const [best] = await classifier.classify(document.querySelector('img'));
//   console.log(best.label, best.probability);
//
// The model manifest says where the model is (any CORS-enabled CDN), its sha256, how to
// preprocess images and the class labels. The model is streamed, verified, and kept in the
// Cache API: the next visit loads it with no request at all. Resizing, cropping and normalizing
// happen in Rust/wasm, exactly as the model was validated.

// Feature probes: the smallest modules using one instruction each; they validate only where
// the browser has that feature (the same modules as GoogleChromeLabs/wasm-feature-detect).
const PROBES = {
  // i8x16.popcnt
  simd: [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11],
  // i8x16.relaxed_swizzle
  relaxedSimd: [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15, 253, 128, 2, 11],
  // try ... catch_all (exception handling as first shipped: every build unwinds on a panic)
  exceptions: [0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 8, 1, 6, 0, 6, 64, 25, 11, 11],
  // a shared memory and i32.atomic.load
  threads: [0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0, 26, 11],
};
const supports = (feature) => WebAssembly.validate(new Uint8Array(PROBES[feature]));

/** The wasm builds, fastest first; paths are relative to this file (build.sh lays them out). */
const BUILDS = {
  // Workers sharing the module's memory: needs SharedArrayBuffer, i.e. a cross-origin isolated
  // page (COOP + COEP headers, which webinfer's server sends).
  threads: { module: './pkg-threads/webinfer.js', wasm: './pkg-threads/webinfer_bg.wasm' },
  // Fused multiply-add and dot products where the CPU has them (Chrome 114+).
  'relaxed-simd': { module: './pkg/webinfer_relaxed.js', wasm: './pkg/webinfer_relaxed_bg.wasm' },
  simd128: { module: './pkg/webinfer.js', wasm: './pkg/webinfer_bg.wasm' },
};

/** How many inference threads to start by default, given `navigator.hardwareConcurrency`
 *  (logical CPUs). The threads spin while an inference runs, so one per logical CPU would take
 *  the whole machine: SMT siblings share a core's SIMD units (little gain for matrix kernels), and
 *  the page's own main thread and other tabs need a core too. Half of them, at most 4, as
 *  onnxruntime-web does; but both of 2 (half would mean no threads at all, and 2 threads gave
 *  1.1-1.7x over one on the 2-CPU bench machine, bench/PERFORMANCE.md). Not measured on more CPUs. */
export function defaultThreads(logicalCpus) {
  const n = Number.isInteger(logicalCpus) && logicalCpus > 0 ? logicalCpus : 1;
  return n <= 2 ? n : Math.min(4, Math.ceil(n / 2));
}

/** The wasm build this browser runs, or null when it lacks WebAssembly SIMD or exception
 *  handling (every build needs both): { name, threads,
 *  module, wasm } (absolute URLs). Options: `threads`, how many inference threads to allow
 *  (default: `defaultThreads(navigator.hardwareConcurrency)`; 1 keeps to one thread); `build`, a
 *  build name to use instead of the fastest supported one (e.g. 'simd128', whose results do not
 *  depend on the CPU). */
export function wasmBuild({ threads = defaultThreads(globalThis.navigator?.hardwareConcurrency), build } = {}) {
  if (!supports('simd') || !supports('exceptions')) return null;
  const available = {
    threads: threads > 1 && globalThis.crossOriginIsolated === true && supports('threads'),
    'relaxed-simd': supports('relaxedSimd'),
    simd128: true,
  };
  const name = build ?? Object.keys(BUILDS).find((b) => available[b]);
  if (!(name in BUILDS)) throw new Error(`unknown wasm build "${name}" (builds: ${Object.keys(BUILDS).join(', ')})`);
  if (!available[name]) throw new Error(`this page cannot run the wasm build "${name}"${name === 'threads' ? ' (it needs a cross-origin isolated page and threads > 1)' : ''}`);
  const at = (path) => new URL(path, import.meta.url).href;
  return { name, threads: name === 'threads' ? Math.min(threads, 16) : 1, module: at(BUILDS[name].module), wasm: at(BUILDS[name].wasm) };
}

export class Classifier {
  #worker = null;
  #pending = new Map();
  #nextId = 1;
  #manifestUrl = null;
  /** Where the threaded build announces a crash on one of its pool threads. */
  #crashes = null;
  /** Settles when the current worker has the model loaded (a restart replaces it). */
  #ready = null;

  /** Loads the manifest at `manifestUrl` and its model. `options.onProgress(loaded, total)`
   *  reports download bytes (total may be null); `options.threads` and `options.build` choose
   *  the wasm build (see `wasmBuild`). Rejects with an Error that says what failed. The build in
   *  use is `classifier.build`. */
  static async load(manifestUrl, { onProgress, threads, build: name } = {}) {
    const build = wasmBuild({ threads, build: name });
    if (!build) {
      throw new Error('this browser lacks WebAssembly SIMD or exception handling, which webinfer needs (Chrome 95+, Firefox 100+, Safari 16.4+)');
    }
    try {
      return await Classifier.#load(manifestUrl, build, onProgress);
    } catch (e) {
      // The threads build was this page's automatic choice and could not start (a CSP without
      // worker-src blob:, a shared memory the device cannot reserve): one thread still works.
      // Said in the console and in `info.buildFallback`, not hidden.
      if (name || e.buildFailed !== 'threads') throw e;
      console.warn(`webinfer: ${e.message}; using one thread instead`);
      const classifier = await Classifier.#load(manifestUrl, wasmBuild({ threads: 1 }), onProgress);
      classifier.info.buildFallback = e.message;
      return classifier;
    }
  }

  static async #load(manifestUrl, build, onProgress) {
    const classifier = new Classifier();
    classifier.build = build;
    classifier.#manifestUrl = new URL(manifestUrl, document.baseURI).href;
    try {
      await classifier.#start(onProgress);
    } catch (e) {
      classifier.dispose();
      throw e;
    }
    return classifier;
  }

  /** The `topK` (default 5) most probable classes for an image: `<img>`, `<canvas>`,
   *  `<video>`, `ImageBitmap`, `ImageData`, `Blob`/`File`. Returns [{ label, index, probability }],
   *  best first; timings are on `lastTimings`. */
  async classify(image, { topK = 5 } = {}) {
    const pixels = await toTransferable(image);
    await this.#ready;
    const result = await this.#call('classify', { image: pixels, topK }, pixels instanceof ImageBitmap ? [pixels] : []);
    this.lastTimings = result.timings;
    return result.top;
  }

  /** Stops the worker; pending calls reject. */
  dispose() {
    this.#worker?.terminate();
    this.#crashes?.close();
    this.#failAll(new Error('the classifier was disposed'));
  }

  /** A fresh worker with the model loaded (the second time from the Cache API: no download). */
  #start(onProgress) {
    this.#worker?.terminate();
    this.#crashes?.close();
    const crashChannel = `webinfer-crash-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const crashes = (this.#crashes = new BroadcastChannel(crashChannel));
    // Only this worker's channel: a second report from the same crash, delivered after the
    // restart, must not take down the new worker.
    crashes.onmessage = ({ data }) => { if (crashes === this.#crashes) this.#crashed(`RuntimeError: ${data}`); };
    this.#worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.#worker.onmessage = ({ data }) => this.#receive(data);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#failAll(new Error(`the inference worker failed: ${event.message || 'it could not start'}`));
    };
    this.#ready = this.#call('load', { manifestUrl: this.#manifestUrl, build: this.build, crashChannel }, [], onProgress).then((info) => {
      this.info = { ...info, build: this.build };
    });
    return this.#ready;
  }

  #call(op, args, transfer, onProgress) {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, onProgress });
      this.#worker.postMessage({ id, op, ...args }, transfer);
    });
  }

  #receive({ id, ok, result, error, fatal, buildFailed, progress }) {
    const call = this.#pending.get(id);
    if (!call) return;
    if (progress) return call.onProgress?.(progress.loaded, progress.total);
    this.#pending.delete(id);
    if (ok) return call.resolve(result);
    if (fatal) {
      this.#pending.set(id, call);
      return this.#crashed(error);
    }
    call.reject(Object.assign(new Error(error), buildFailed ? { buildFailed } : {}));
  }

  /** The wasm instance trapped and cannot be trusted again: replace the worker. The calls in
   *  flight fail, saying what happened; calls made meanwhile wait for the new worker. */
  #crashed(error) {
    const inFlight = [...this.#pending.values()];
    this.#pending.clear();
    this.#start().catch(() => {});
    for (const call of inFlight) {
      call.reject(new Error(`the inference engine crashed (${error}); it has been restarted, so the next call runs on a fresh instance`));
    }
  }

  #failAll(error) {
    for (const call of this.#pending.values()) call.reject(error);
    this.#pending.clear();
  }
}

/** Pixels the worker can take: ImageData and ImageBitmap as they are (a bitmap is transferred,
 *  so the caller's copy is detached), everything else decoded into an ImageBitmap without colour
 *  conversion (the model pipeline's Pillow ignores colour profiles too). */
async function toTransferable(image) {
  if (typeof ImageData !== 'undefined' && image instanceof ImageData) return image;
  if (image instanceof ImageBitmap) return image; // already decoded: transferred, not copied
  if (typeof HTMLImageElement !== 'undefined' && image instanceof HTMLImageElement) await image.decode();
  try {
    return await createImageBitmap(image, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (e) {
    throw new Error(`cannot read pixels from this image (${e.message}); pass an <img>, <canvas>, <video>, ImageBitmap, ImageData or an image Blob`);
  }
}
