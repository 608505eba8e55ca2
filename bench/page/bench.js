// The in-page half of the benchmark: both engines behind the same small API, so bench/run.mjs
// can drive them identically. Everything runs on this page's main thread, one engine call at a
// time; timings are performance.now() around what a page would await.
const state = { webinfer: {}, ort: {}, inputs: {} };
let webinferModule = null;
let ort = null;

const now = () => performance.now();

/** The same input for both engines: the coffee photo crop, or seeded pseudo-random values. */
async function makeInput(model) {
  if (state.inputs[model.name]) return state.inputs[model.name];
  const size = model.dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  if (model.input === 'photo') {
    // 224x224 RGB bytes (HWC) -> NCHW, (x - 127) / 128, as the demo manifest says.
    const rgb = new Uint8Array(await (await fetch(model.photo)).arrayBuffer());
    const plane = rgb.length / 3;
    for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) data[c * plane + p] = (rgb[p * 3 + c] - 127) / 128;
  } else {
    let seed = 20261125;
    for (let i = 0; i < size; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      data[i] = seed / 2 ** 32 - 0.5;
    }
  }
  return (state.inputs[model.name] = data);
}

const engines = {
  webinfer: {
    async start() {
      window.__engine = 'webinfer';
      const t0 = now();
      webinferModule = await import('/pkg/webinfer.js');
      await webinferModule.default();
      return { startMs: now() - t0 };
    },
    async load(model) {
      window.__engine = 'webinfer';
      const t0 = now();
      const session = await webinferModule.Session.create(model.url, { sha256: model.sha256 });
      const info = session.loadInfo;
      state.webinfer[model.name] = session;
      return { loadMs: now() - t0, source: info.source, fetchMs: info.fetchMs, verifyMs: info.verifyMs, parseMs: info.parseMs, planMs: info.planMs, planStagesMs: info.planStagesMs };
    },
    async run(model, input) {
      const session = state.webinfer[model.name];
      const outputs = session.run({ [model.inputName]: { data: input, dims: model.dims } });
      return outputs[model.outputName].data;
    },
  },
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
      const outputs = await session.run({ [model.inputName]: new ort.Tensor('float32', input, model.dims) });
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

  /** Both engines on the same input: max abs difference and each one's top-1. */
  async agreement(model) {
    const input = await makeInput(model);
    const [a, b] = [await engines.webinfer.run(model, input), await engines.ort.run(model, input)];
    let maxAbsDiff = 0;
    for (let i = 0; i < a.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i] - b[i]));
    const argmax = (v) => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);
    return { maxAbsDiff, top1: { webinfer: argmax(a), ort: argmax(b) }, outputs: a.length };
  },

  /** webinfer's time per run by kind of operator (Session.profile), slowest first. */
  async profile(model, runs) {
    const input = await makeInput(model);
    return state.webinfer[model.name].profile({ [model.inputName]: { data: input, dims: model.dims } }, runs);
  },

  memory(engine) {
    return window.__wasmMemoryBytes(engine);
  },
};
window.benchReady = true;
