// Two or more builds of webinfer's wasm package, side by side in one headless Chromium page: size
// (raw, brotli) and per-inference latency on the Lite0 models, the builds interleaved run by run
// so drift on a shared machine touches all alike. For choosing build settings by measurement
// (opt-level, wasm-opt passes, features); `./build.sh bench` is the comparison with onnxruntime-web.
//
//   node bench/variants.mjs baseline=pkg small=/tmp/pkg-s [--runs 30] [--warmup 5]
//
// Needs the models `./build.sh bench` prepares in target/bench-models/.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { brotliCompressSync, constants } from 'node:zlib';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from './server.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const ROOT = path.resolve(HERE, '..');
const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv.splice(i, 2)[1]) : fallback;
};
const RUNS = option('runs', 30);
const WARMUP = option('warmup', 5);
const builds = argv.map((a) => {
  const [name, dir] = a.split('=');
  if (!name || !dir) throw new Error(`expected NAME=PKG_DIR, got ${a}`);
  return { name, dir: path.resolve(dir) };
});
if (builds.length < 2) throw new Error('usage: node bench/variants.mjs NAME=PKG_DIR NAME=PKG_DIR ... [--runs N] [--warmup N]');

const MODELS = ['efficientnet-lite0-fp32', 'efficientnet-lite0-int8'];
const page = path.join(ROOT, 'target/variants');
mkdirSync(page, { recursive: true });
writeFileSync(path.join(page, 'index.html'), `<!doctype html><meta charset="utf-8"><script type="module">
const now = () => performance.now();
window.measure = async (builds, models, warmup, runs) => {
  const rgb = new Uint8Array(await (await fetch('/photos/coffee.rgb')).arrayBuffer());
  const data = new Float32Array(3 * 224 * 224);
  for (let p = 0; p < 224 * 224; p++) for (let c = 0; c < 3; c++) data[c * 224 * 224 + p] = (rgb[p * 3 + c] - 127) / 128;
  const feeds = { input: { data, dims: [1, 3, 224, 224] } };
  const out = {};
  for (const model of models) {
    const sessions = [];
    for (const b of builds) {
      const m = await import('/' + b + '/webinfer.js');
      await m.default();
      const t0 = now();
      sessions.push(await m.Session.create('/models/' + model + '.onnx'));
      out[model + '/' + b + '/plan'] = now() - t0;
    }
    for (let i = 0; i < warmup; i++) for (const s of sessions) s.run(feeds);
    const times = sessions.map(() => []);
    for (let i = 0; i < runs; i++) {
      const order = i % 2 ? [...sessions.keys()].reverse() : [...sessions.keys()];
      for (const k of order) { const t0 = now(); sessions[k].run(feeds); times[k].push(now() - t0); }
    }
    builds.forEach((b, k) => { out[model + '/' + b] = times[k]; });
    sessions.forEach((s) => s.free());
  }
  return out;
};
window.ready = true;
</script>`);

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const mounts = { '/page/': page, '/models/': path.join(ROOT, 'target/bench-models'), '/photos/': path.join(ROOT, 'tests/fixtures/photos') };
for (const b of builds) mounts[`/${b.name}/`] = b.dir;
const { server, url } = await serve(mounts);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const tab = await browser.newPage();
  tab.on('pageerror', (e) => console.error('[page error]', e.message));
  await tab.goto(`${url}/page/index.html`);
  await tab.waitForFunction(() => window.ready === true);
  const out = await tab.evaluate(([b, m, w, r]) => window.measure(b, m, w, r), [builds.map((b) => b.name), MODELS, WARMUP, RUNS]);
  console.log(`${RUNS} runs per build after ${WARMUP} warm-up, interleaved; ms, median; ratio to ${builds[0].name}`);
  console.log('| build | wasm raw MB | wasm brotli MB | ' + MODELS.map((m) => `${m} plan | ${m} run | ratio`).join(' | ') + ' |');
  const base = Object.fromEntries(MODELS.map((m) => [m, median(out[`${m}/${builds[0].name}`])]));
  for (const b of builds) {
    const wasm = readFileSync(path.join(b.dir, 'webinfer_bg.wasm'));
    const br = brotliCompressSync(wasm, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: wasm.length } }).length;
    const cells = MODELS.map((m) => {
      const t = median(out[`${m}/${b.name}`]);
      return `${out[`${m}/${b.name}/plan`].toFixed(0)} | ${t.toFixed(2)} | ${(t / base[m]).toFixed(2)}`;
    });
    console.log(`| ${b.name} | ${(wasm.length / 1e6).toFixed(2)} | ${(br / 1e6).toFixed(2)} | ${cells.join(' | ')} |`);
  }
} finally {
  await browser.close();
  server.close();
}
