// webinfer's image classifier for web pages: a few lines to embed, inference off the main thread.
//
//   import { Classifier } from 'webinfer';
//   const classifier = await Classifier.load('/api/model', { onProgress: (loaded, total) => ... });
//   const [best] = await classifier.classify(document.querySelector('img'));
//   console.log(best.label, best.probability);
//
// The model manifest says where the model is (any CORS-enabled CDN), its sha256, how to
// preprocess images and the class labels. The model is streamed, verified, and kept in the
// Cache API: the next visit loads it with no request at all. Resizing, cropping and normalizing
// happen in Rust/wasm, exactly as the model was validated.
//
// A thin layer over InferenceSession (session.js): the manifest, the labels and the image
// handling are the classifier's; the worker, the build choice, the threads fallback and crash
// recovery are the session's.

import { InferenceSession, classifyInWorker } from './session.js';

export { defaultThreads, wasmBuild } from './builds.js';

export class Classifier {
  #session;
  #manifest;
  #manifestMs;

  /** Loads the manifest at `manifestUrl` and its model. `options.onProgress(loaded, total)`
   *  reports download bytes (total may be null); `options.threads` and `options.build` choose
   *  the wasm build (see `wasmBuild`). Rejects with an Error that says what failed. The build in
   *  use is `classifier.build`. */
  static async load(manifestUrl, { onProgress, threads, build } = {}) {
    const t0 = performance.now();
    const manifest = await fetchManifest(new URL(manifestUrl, document.baseURI).href);
    const manifestMs = performance.now() - t0;
    const session = await InferenceSession.create(manifest.model.url, {
      sha256: manifest.model.sha256,
      threads,
      build,
      onProgress: onProgress && ((loaded, total) => onProgress(loaded, total ?? manifest.model.bytes ?? null)),
    });
    if (!session.inputNames.includes(manifest.input.name)) {
      session.release();
      throw new Error(`manifest input \`${manifest.input.name}\` is not an input of the model (it has ${session.inputNames.join(', ')})`);
    }
    const classifier = new Classifier();
    classifier.#session = session;
    classifier.#manifest = manifest;
    classifier.#manifestMs = manifestMs;
    return classifier;
  }

  /** The wasm build in use: { name, threads, module, wasm }. */
  get build() {
    return this.#session.build;
  }

  /** The model's name, class count and quantization, and what loading it cost (after a crash,
   *  the restarted worker's load). */
  get info() {
    const m = this.#manifest;
    return {
      name: m.name,
      classes: m.labels.length,
      quantization: m.model.quantization ?? null,
      build: this.build,
      buildFallback: this.#session.buildFallback ?? undefined,
      timings: { manifestMs: this.#manifestMs, ...this.#session.loadInfo },
    };
  }

  /** The `topK` (default 5) most probable classes for an image: `<img>`, `<canvas>`,
   *  `<video>`, `ImageBitmap`, `ImageData`, `Blob`/`File`. Returns [{ label, index, probability }],
   *  best first; timings are on `lastTimings`. */
  async classify(image, { topK = 5 } = {}) {
    const pixels = await toTransferable(image);
    const m = this.#manifest;
    const bitmap = pixels instanceof ImageBitmap;
    let result;
    try {
      result = await this.#session[classifyInWorker](
        { image: pixels, preprocess: m.preprocess, input: m.input.name, output: m.output, topK },
        bitmap ? [pixels] : [],
      );
    } finally {
      if (bitmap) pixels.close(); // a no-op once transferred; frees it if the call never got there
    }
    this.lastTimings = result.timings;
    return result.top.map(({ index, probability }) => ({ index, label: m.labels[index] ?? `class ${index}`, probability }));
  }

  /** Stops the worker; pending calls reject. */
  dispose() {
    this.#session.release();
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
    model: { ...m.model, url: new URL(m.model.url, response.url || url).href },
    input: m.inputs[0],
    output: m.outputs[0].name,
  };
}
