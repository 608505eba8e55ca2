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

/** The wasm build this browser runs, or null when it lacks WebAssembly SIMD. */
export function wasmBuild() {
  // The smallest module using a v128 instruction: validates only where SIMD is supported.
  const simd = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
  return WebAssembly.validate(simd) ? { name: 'simd128', threads: 1 } : null;
}

export class Classifier {
  #worker = null;
  #pending = new Map();
  #nextId = 1;
  #manifestUrl = null;
  /** Settles when the current worker has the model loaded (a restart replaces it). */
  #ready = null;

  /** Loads the manifest at `manifestUrl` and its model. `options.onProgress(loaded, total)`
   *  reports download bytes (total may be null). Rejects with an Error that says what failed. */
  static async load(manifestUrl, { onProgress } = {}) {
    if (!wasmBuild()) {
      throw new Error('this browser lacks WebAssembly SIMD, which webinfer needs (Chrome 91+, Firefox 89+, Safari 16.4+)');
    }
    const classifier = new Classifier();
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
    this.#failAll(new Error('the classifier was disposed'));
  }

  /** A fresh worker with the model loaded (the second time from the Cache API: no download). */
  #start(onProgress) {
    this.#worker?.terminate();
    this.#worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.#worker.onmessage = ({ data }) => this.#receive(data);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#failAll(new Error(`the inference worker failed: ${event.message || 'it could not start'}`));
    };
    this.#ready = this.#call('load', { manifestUrl: this.#manifestUrl }, [], onProgress).then((info) => {
      this.info = { ...info, build: wasmBuild() };
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

  #receive({ id, ok, result, error, fatal, progress }) {
    const call = this.#pending.get(id);
    if (!call) return;
    if (progress) return call.onProgress?.(progress.loaded, progress.total);
    this.#pending.delete(id);
    if (ok) return call.resolve(result);
    if (fatal) {
      // The wasm instance trapped and cannot be trusted again: replace the worker. Calls made
      // meanwhile wait for the new one; this call fails, saying what happened.
      this.#failAll(new Error('the inference engine was restarted after a crash'));
      this.#start().catch(() => {});
      return call.reject(new Error(`the inference engine crashed (${error}); it has been restarted, so the next call runs on a fresh instance`));
    }
    call.reject(new Error(error));
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
