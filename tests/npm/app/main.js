// What a web developer writes: a model from a URL, feeds in, outputs out; and the classifier.
// The test calls `window.check()` and compares what comes back with onnxruntime's answers.
import { Classifier, InferenceSession, Tensor } from 'webinfer';

const typed = {
  float32: Float32Array, int8: Int8Array, uint8: Uint8Array, int32: Int32Array,
  int64: BigInt64Array, bool: Uint8Array,
};
const tensorOf = ({ type, dims, data }) =>
  new Tensor(type, typed[type].from(data, type === 'int64' ? BigInt : type === 'bool' ? Number : undefined), dims);
const plain = (outputs) => Object.fromEntries(Object.entries(outputs).map(([name, t]) =>
  [name, { type: t.type, dims: t.dims, data: Array.from(t.data, (v) => (typeof v === 'bigint' ? Number(v) : v)) }]));

async function attempt(f) {
  try {
    await f();
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : `not an Error: ${e}`;
  }
}

/** Every `cases` entry: { model, inputs } -> outputs, per session. `threads` chooses the build. */
window.check = async ({ cases, threads, photo }) => {
  const out = { isolated: globalThis.crossOriginIsolated === true, runs: [] };
  const sessions = new Map();
  for (const { model, inputs } of cases) {
    if (!sessions.has(model)) {
      let progress = 0;
      const session = await InferenceSession.create(`/models/${model}.onnx`, { threads, onProgress: () => progress++ });
      sessions.set(model, session);
      out.build = { name: session.build.name, threads: session.build.threads, wasm: session.build.wasm, fallback: session.buildFallback, why: session.build.why };
      out.progressEvents = progress;
    }
    const feeds = Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, tensorOf(t)]));
    const transferred = Object.values(feeds)[0].data;
    const outputs = await sessions.get(model).run(feeds, { transfer: true });
    out.runs.push({ model, outputs: plain(outputs), detached: transferred.byteLength === 0 });
  }
  // A bad feed is an Error, and the session works on.
  const [model, session] = [...sessions][0];
  out.badFeed = await attempt(() => session.run({}));
  out.afterBadFeed = plain(await session.run(Object.fromEntries(
    Object.entries(cases.find((c) => c.model === model).inputs).map(([name, t]) => [name, tensorOf(t)]))));
  for (const s of sessions.values()) s.release();
  out.afterRelease = await attempt(() => session.run({}));

  const classifier = await Classifier.load('/models/classifier.manifest.json', { threads });
  const image = await (await fetch(photo)).blob();
  out.top = await classifier.classify(image);
  out.classifierBuild = classifier.build.name;
  classifier.dispose();
  return out;
};

document.getElementById('status').textContent = 'ready';
