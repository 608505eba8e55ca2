// The threaded webinfer build for the benchmark page (bench.js `workerWebinfer`): the same
// start-up as www/webinfer/worker.js, then sessions that run the last input sent for their model.
import { createOptions } from './options.js';

let webinfer = null;
const sessions = {};
const inputs = {};

const ops = {
  async start({ threads }) {
    webinfer = await import('/pkg-threads/webinfer.js');
    await webinfer.default();
    // The pool's size as rayon reports it, not the number asked for.
    const pool = await webinfer.startThreads(threads);
    return { threads: pool, crossOriginIsolated: self.crossOriginIsolated };
  },
  async load({ model }) {
    const t0 = performance.now();
    const session = await webinfer.Session.create(model.url, createOptions(model));
    sessions[model.name] = session;
    const info = session.loadInfo;
    return { loadMs: performance.now() - t0, source: info.source, parseMs: info.parseMs, planMs: info.planMs };
  },
  run({ model, input }) {
    if (input) inputs[model.name] = input;
    const outputs = sessions[model.name].run({ [model.inputName]: { data: inputs[model.name], dims: model.dims } });
    return outputs[model.outputName].data;
  },
  profile({ model, runs }) {
    return sessions[model.name].profile({ [model.inputName]: { data: inputs[model.name], dims: model.dims } }, runs);
  },
};

self.onmessage = async ({ data: { id, op, args } }) => {
  try {
    self.postMessage({ id, result: await ops[op](args) });
  } catch (e) {
    self.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
};
