// The in-page half of the benchmark: both engines behind the same small API, so bench/run.mjs
// can drive them identically. Everything runs on this page's main thread, one engine call at a
// time; timings are performance.now() around what a page would await.
import { createOptions } from './options.js';

const state = { ort: {}, inputs: {} };
let ort = null;

const now = () => performance.now();

/** The same input for both engines: the coffee photo crop, seeded pseudo-random values in
 *  [-0.5, 0.5), or (`bytes`, int32) seeded token ids 0-256. */
async function makeInput(model) {
  if (state.inputs[model.name]) return state.inputs[model.name];
  const size = model.dims.reduce((a, b) => a * b, 1);
  const data = model.dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
  if (model.input === 'photo') {
    // 224x224 RGB bytes (HWC) -> NCHW, (x - 127) / 128, as the demo manifest says.
    const rgb = new Uint8Array(await (await fetch(model.photo)).arrayBuffer());
    const plane = rgb.length / 3;
    for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) data[c * plane + p] = (rgb[p * 3 + c] - 127) / 128;
  } else {
    let seed = 20261125;
    for (let i = 0; i < size; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      data[i] = model.input === 'bytes' ? seed % 257 : seed / 2 ** 32 - 0.5;
    }
  }
  return (state.inputs[model.name] = data);
}

/** A webinfer build on this page's main thread, a module instance of its own (each build has
 *  its own glue). */
function mainThreadWebinfer(key, moduleUrl) {
  let module = null;
  state[key] = {};
  return {
    async start() {
      window.__engine = key;
      const t0 = now();
      module = await import(moduleUrl);
      await module.default();
      return { startMs: now() - t0 };
    },
    async load(model) {
      window.__engine = key;
      const t0 = now();
      const session = await module.Session.create(model.url, createOptions(model));
      const info = session.loadInfo;
      state[key][model.name] = session;
      return { loadMs: now() - t0, source: info.source, fetchMs: info.fetchMs, verifyMs: info.verifyMs, parseMs: info.parseMs, planMs: info.planMs, planStagesMs: info.planStagesMs };
    },
    async run(model, input) {
      const outputs = state[key][model.name].run({ [model.inputName]: { data: input, dims: model.dims } });
      return outputs[model.outputName].data;
    },
    profile: (model, input, runs) => state[key][model.name].profile({ [model.inputName]: { data: input, dims: model.dims } }, runs),
    /** The model's write to the Cache API, which finishes after `create` returns, has landed. */
    settle: () => module.modelCacheSettled(),
  };
}

/** The threaded build in a Worker, as www/webinfer/worker.js runs it: rayon's callers block on
 *  Atomics.wait, which a page's main thread may not do. The input goes over once per model. */
function workerWebinfer() {
  let worker = null;
  let nextId = 1;
  const pending = new Map();
  const sent = new Set();
  const call = (op, args, transfer = []) => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, op, args }, transfer);
  });
  return {
    async start({ threads }) {
      const t0 = now();
      worker = new Worker('/page/threads-worker.js', { type: 'module' });
      worker.onmessage = ({ data: { id, result, error } }) => {
        const call = pending.get(id);
        pending.delete(id);
        error ? call.reject(new Error(error)) : call.resolve(result);
      };
      const started = await call('start', { threads });
      return { ...started, startMs: now() - t0 };
    },
    load: (model) => call('load', { model }),
    async run(model, input) {
      if (!sent.has(model.name)) {
        sent.add(model.name);
        return call('run', { model, input: input.slice() });
      }
      return call('run', { model });
    },
    // After a run: the worker profiles on the input it already has.
    profile: (model, input, runs) => call('profile', { model, runs }),
  };
}

const engines = {
  webinfer: mainThreadWebinfer('webinfer', '/pkg/webinfer.js'),
  'webinfer-relaxed': mainThreadWebinfer('webinfer-relaxed', '/pkg/webinfer_relaxed.js'),
  'webinfer-threads': workerWebinfer(),
  ort: {
    async start({ threads }) {
      window.__engine = 'ort';
      const t0 = now();
      ort = await import('/ort/ort.wasm.min.mjs');
      ort.env.wasm.numThreads = threads;
      ort.env.wasm.proxy = false;
      return { startMs: now() - t0, threads, crossOriginIsolated };
    },
    async load(model) {
      window.__engine = 'ort';
      const t0 = now();
      // onnxruntime-web has no model cache of its own: the browser's HTTP cache is what a page gets.
      const bytes = new Uint8Array(await (await fetch(model.url)).arrayBuffer());
      const t1 = now();
      const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      state.ort[model.name] = session;
      return { loadMs: now() - t0, fetchMs: t1 - t0, createMs: now() - t1 };
    },
    async run(model, input) {
      const session = state.ort[model.name];
      const outputs = await session.run({ [model.inputName]: new ort.Tensor(model.dtype ?? 'float32', input, model.dims) });
      return outputs[model.outputName].data;
    },
  },
};

window.bench = {
  async start(engine, options = {}) {
    return engines[engine].start(options);
  },

  async load(engine, model) {
    return engines[engine].load(model);
  },

  /** Waits for what the engine still writes in the background (webinfer: the model's cache
   *  entry), so that a reload finds it. */
  async settle(engine) {
    await engines[engine].settle?.();
  },

  /** The first run after loading, timed alone (it may allocate, or finish lazy compilation). */
  async firstRun(engine, model) {
    const input = await makeInput(model);
    const t0 = now();
    await engines[engine].run(model, input);
    return { firstRunMs: now() - t0, sinceNavigationMs: now() };
  },

  /** Warm-up, then `runs` rounds in which every engine runs once, in alternating order, so
   *  drift on a shared machine touches all of them alike. */
  async latency(engineNames, model, { warmup, runs }) {
    const input = await makeInput(model);
    for (let i = 0; i < warmup; i++) for (const e of engineNames) await engines[e].run(model, input);
    const times = Object.fromEntries(engineNames.map((e) => [e, []]));
    for (let i = 0; i < runs; i++) {
      const order = i % 2 ? [...engineNames].reverse() : engineNames;
      for (const e of order) {
        const t0 = now();
        await engines[e].run(model, input);
        times[e].push(now() - t0);
      }
    }
    return times;
  },

  /** An engine and onnxruntime-web on the same input: max abs difference and each one's top-1. */
  async agreement(model, engine = 'webinfer') {
    const input = await makeInput(model);
    const [a, b] = [await engines[engine].run(model, input), await engines.ort.run(model, input)];
    let maxAbsDiff = 0;
    let largest = 0;
    let worstRelative = 0;
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i] - b[i]);
      maxAbsDiff = Math.max(maxAbsDiff, d);
      largest = Math.max(largest, Math.abs(b[i]));
      // Element by element: |a - b| against 1e-3 |b| + 1e-4 (a ratio of 1 is the edge), so
      // small values in an output with large ones (a detector's scores beside its boxes) count.
      worstRelative = Math.max(worstRelative, d / (1e-3 * Math.abs(b[i]) + 1e-4));
    }
    const argmax = (v) => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);
    // Relative to the output's scale: max |a - b| / max |b|.
    return { maxAbsDiff, maxRelDiff: largest ? maxAbsDiff / largest : maxAbsDiff, worstRelative, top1: { webinfer: argmax(a), ort: argmax(b) }, outputs: a.length };
  },

  /** A webinfer build's time per run by kind of operator (Session.profile), slowest first. */
  async profile(model, runs, engine = 'webinfer') {
    return engines[engine].profile(model, await makeInput(model), runs);
  },

  memory(engine) {
    return window.__wasmMemoryBytes(engine);
  },
};
window.benchReady = true;
