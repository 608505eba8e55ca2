// Inference off the main thread for any ONNX model, shaped like onnxruntime-web's
// InferenceSession:
//
//   import { InferenceSession, Tensor } from 'webinfer';
//   const session = await InferenceSession.create('/models/net.onnx', { sha256 });
//   const { logits } = await session.run({ input: new Tensor('float32', pixels, [1, 3, 224, 224]) });
//   session.release();
//
// Each session has its own worker and wasm instance: a crash (a trap, such as running out of
// memory) takes down that session's worker only, and the session replaces it, reloading the
// model from the Cache API. The synchronous `Session` of the wasm module ('webinfer/wasm') is
// what runs inside the worker; use it directly when you are in a worker already.

import { UNSUPPORTED, wasmBuild } from './builds.js';

const NO_START = 'it could not start (check that its script is served; on a cross-origin isolated page, every ' +
  'response needs the Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy headers, 304s included: WebKit ' +
  're-checks a revalidated worker script against them)';

const TYPES = new Map([
  [Float32Array, 'float32'], [Float64Array, 'float64'], [Int8Array, 'int8'], [Uint8Array, 'uint8'],
  [Int16Array, 'int16'], [Uint16Array, 'uint16'], [Int32Array, 'int32'], [Uint32Array, 'uint32'],
  [BigInt64Array, 'int64'], [BigUint64Array, 'uint64'],
]);

/** A tensor as onnxruntime-web spells it: `new Tensor('float32', data, dims)`, or
 *  `new Tensor(data, dims)` with the type read off the data. 'bool' is a Uint8Array,
 *  'float16' its bit patterns in a Uint16Array (or a Float16Array), 'string' a string[]. A plain
 *  array becomes the typed array of its type, as in onnxruntime-web (numbers without a type:
 *  float32; booleans: bool). */
export class Tensor {
  constructor(type, data, dims) {
    if (typeof type !== 'string') [type, data, dims] = [undefined, type, data];
    if (Array.isArray(data)) {
      type ??= typeof data[0] === 'string' ? 'string' : typeof data[0] === 'boolean' ? 'bool' : 'float32';
      if (type !== 'string') {
        const Typed = type === 'bool' ? Uint8Array : [...TYPES].find(([, name]) => name === type)?.[0];
        if (!Typed) throw new TypeError(`cannot make a ${type} tensor from a plain array: pass a typed array`);
        data = Typed.from(data, type === 'bool' ? Number : Typed === BigInt64Array || Typed === BigUint64Array ? BigInt : undefined);
      }
    }
    const typed = [...TYPES].find(([Typed]) => data instanceof Typed)?.[1];
    this.type = type ?? typed ?? (globalThis.Float16Array && data instanceof Float16Array ? 'float16' : undefined);
    if (!this.type) throw new TypeError('Tensor data must be a typed array or an array (or pass its type first)');
    this.data = data;
    this.dims = dims ? [...dims] : [data.length];
  }

  /** The number of elements. */
  get size() {
    return this.dims.reduce((n, d) => n * d, 1);
  }
}

/** A key only classifier.js uses: preprocessing + run + ranking in one worker round trip. */
export const classifyInWorker = Symbol('webinfer.classify');

export class InferenceSession {
  #worker = null;
  #pending = new Map();
  #nextId = 1;
  /** Where the threaded build announces a crash on one of its pool threads. */
  #crashes = null;
  /** Settles when the current worker has the model loaded (a restart replaces it). */
  #ready = null;
  #source;
  #options;
  #released = false;

  /** The wasm build in use: { name, threads, module, wasm }. */
  build;
  /** Why the threads build could not start when it was the automatic choice (null otherwise). */
  buildFallback = null;
  inputNames = [];
  outputNames = [];
  inputs = [];
  outputs = [];
  /** Where the model came from and what each step cost (ms), `compileMs` (the wasm) included. */
  loadInfo = null;

  /** Loads a model from a URL (streamed, checked against `options.sha256`, kept in the Cache API)
   *  or from its bytes (ArrayBuffer or Uint8Array) in a worker, and plans it there. Options: those
   *  of the wasm `Session.create` (sha256, cache, onProgress, inputShapes, timeoutMs, retries,
   *  memoryLimitMB), plus `threads` (how many inference threads to allow; 1 for one) and `build`
   *  (a wasm build by name instead of the fastest this browser supports; see builds.js). Rejects
   *  with an Error that says what failed. */
  static async create(source, { threads, build: name, ...options } = {}) {
    const build = wasmBuild({ threads, build: name });
    if (!build) throw new Error(UNSUPPORTED);
    source = normalizeSource(source);
    try {
      return await InferenceSession.#open(source, build, options);
    } catch (e) {
      // The threads build was the automatic choice and could not start (a CSP without
      // worker-src blob:, a shared memory the device cannot reserve): one thread still works.
      // Said in the console and in `buildFallback`, not hidden.
      if (name || e.buildFailed !== 'threads') throw e;
      console.warn(`webinfer: ${e.message}; using one thread instead`);
      const session = await InferenceSession.#open(source, wasmBuild({ threads: 1 }), options);
      session.buildFallback = e.message;
      return session;
    }
  }

  static async #open(source, build, options) {
    const session = new InferenceSession();
    session.build = build;
    session.#source = source;
    session.#options = options;
    try {
      await session.#start(options.onProgress);
    } catch (e) {
      session.release();
      throw e;
    }
    return session;
  }

  /** Runs the model: `feeds` maps every input name to a Tensor (or any `{ data, dims, type? }`,
   *  an onnxruntime-web Tensor included). Resolves to `{ name: Tensor }` for every output.
   *  `{ transfer: true }` hands the feeds' buffers to the worker instead of copying them (they
   *  are detached afterwards: the caller must not reuse them). A bad feed rejects with an Error
   *  and the session stays usable. */
  async run(feeds, { transfer = false } = {}) {
    const plain = plainFeeds(feeds);
    const outputs = await this.#request('run', { feeds: plain }, transfer ? transferable(plain) : []);
    return Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, new Tensor(t.type, t.data, t.dims)]));
  }

  /** Runs the model `runs` times; resolves to `[{ op, nodes, ms }]`, ms per run per kind of
   *  operator, slowest first. */
  async profile(feeds, runs = 10) {
    return this.#request('profile', { feeds: plainFeeds(feeds), runs });
  }

  /** Frees the model and stops the worker; calls still pending reject. */
  release() {
    this.#released = true;
    this.#worker?.terminate();
    this.#worker = null;
    this.#crashes?.close();
    this.#failAll(new Error('the session was released'));
  }

  [classifyInWorker](args, transfer) {
    return this.#request('classify', args, transfer);
  }

  async #request(op, args, transfer) {
    if (this.#released) throw new Error('the session was released');
    await this.#ready;
    return this.#call(op, args, transfer);
  }

  /** A fresh worker with the wasm started and the model loaded (after a crash, from the Cache
   *  API: no download when the model has a sha256). */
  #start(onProgress) {
    this.#worker?.terminate();
    this.#crashes?.close();
    const crashChannel = `webinfer-crash-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const crashes = (this.#crashes = new BroadcastChannel(crashChannel));
    // Only this worker's channel: a second report from the same crash, delivered after the
    // restart, must not take down the new worker.
    crashes.onmessage = ({ data }) => { if (crashes === this.#crashes) this.#crashed(`RuntimeError: ${data}`); };
    const worker = (this.#worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' }));
    worker.onmessage = ({ data }) => this.#receive(data);
    worker.onerror = (event) => {
      event.preventDefault();
      // Only this worker's: an error a replaced worker queued must not fail the new one's calls.
      // No message: the browser refused the script itself, with no reason given to the page.
      if (worker === this.#worker) this.#failAll(new Error(`the inference worker failed: ${event.message || NO_START}`));
    };
    const { onProgress: _, ...options } = this.#options;
    this.#ready = (async () => {
      const { compileMs } = await this.#call('start', { build: this.build, crashChannel });
      const info = await this.#call('create', { source: this.#source, options, progress: !!onProgress }, [], onProgress);
      Object.assign(this, info, { loadInfo: { ...info.loadInfo, compileMs } });
    })();
    return this.#ready;
  }

  #call(op, args, transfer = [], onProgress) {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      if (!this.#worker) return reject(new Error('the session was released'));
      this.#pending.set(id, { resolve, reject, onProgress });
      try {
        this.#worker.postMessage({ id, op, ...args }, transfer);
      } catch (e) {
        // Not cloneable (a function among the options, a view of a WebAssembly.Memory): nothing
        // was sent.
        this.#pending.delete(id);
        reject(new Error(`cannot send this ${op} request to the worker: ${e.message}`));
      }
    });
  }

  #receive({ id, ok, result, error, fatal, buildFailed, progress }) {
    const call = this.#pending.get(id);
    if (!call) return;
    if (progress) return call.onProgress?.(progress.loaded, progress.total ?? undefined);
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

/** A URL made absolute (the worker resolves against its own location, not the page's), or a
 *  private copy of the bytes: kept to reload the model if the worker has to be replaced. */
function normalizeSource(source) {
  if (typeof source === 'string' || source instanceof URL) {
    return new URL(source, globalThis.document?.baseURI ?? globalThis.location?.href).href;
  }
  if (source instanceof ArrayBuffer) return new Uint8Array(source.slice(0));
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength));
  throw new TypeError('InferenceSession.create takes a URL (string or URL) or the model bytes (ArrayBuffer or Uint8Array)');
}

/** Feeds as plain objects: a class instance (an onnxruntime-web Tensor keeps `data` behind a
 *  getter) would lose its fields on the way to the worker. */
function plainFeeds(feeds) {
  if (!feeds || typeof feeds !== 'object') throw new TypeError('run takes an object mapping input names to tensors');
  return Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, t && typeof t === 'object' ? { data: t.data, dims: t.dims, type: t.type } : t]));
}

/** The feeds' buffers that can be moved to the worker (not shared memory, each buffer once). */
function transferable(feeds) {
  const buffers = new Set();
  for (const t of Object.values(feeds)) {
    const buffer = ArrayBuffer.isView(t?.data) ? t.data.buffer : null;
    if (buffer instanceof ArrayBuffer && buffer.byteLength > 0) buffers.add(buffer);
  }
  return [...buffers];
}
