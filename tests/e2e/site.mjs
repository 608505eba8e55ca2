// What every end-to-end suite shares: where the slug and the references are (set by
// `./build.sh test`), the nginx CDN stand-in, the slug's server booted as Heroku boots it, the
// check against onnxruntime's answers, and the in-page scripts the suites run in each browser
// (Playwright's `page.evaluate` for Chromium, WebDriver's for WebKit: plain functions of one
// JSON argument).
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../web/webdriver.mjs';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the end-to-end tests through ./build.sh test`);
  return value;
};
export const SLUG = env('WEBINFER_E2E_SLUG'); // the slug archive as Heroku would receive it
export const APP = env('WEBINFER_E2E_APP'); // the extracted slug's app/ directory
export const MODEL_DIR = env('WEBINFER_E2E_MODEL_DIR'); // target/demo-model: the model file and manifest
export const EXPECTED = JSON.parse(readFileSync(env('WEBINFER_E2E_EXPECTED'), 'utf8')); // onnxruntime's answers
export const PHOTOS = env('WEBINFER_E2E_PHOTOS').split(':');
export const OUT = env('WEBINFER_E2E_OUT'); // screenshots and logs land here
export const TRAP_DIR = env('WEBINFER_E2E_TRAP_DIR'); // tests/e2e/trap_model.py's model + manifest
const CDN_SH = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../tools/cdn/cdn.sh');

const manifest = JSON.parse(readFileSync(path.join(APP, 'model.manifest.json'), 'utf8'));
export const MODEL_FILE = manifest.model.url;
export const COFFEE = PHOTOS.find((p) => path.basename(p).startsWith('coffee'));
export const trapManifest = () => JSON.parse(readFileSync(path.join(TRAP_DIR, 'trap.manifest.json'), 'utf8'));
/** The README's default pool: both of 2 CPUs, else half the logical CPUs, at most 4. */
export const expectedPool = (cores) => (cores <= 2 ? cores : Math.min(4, Math.ceil(cores / 2)));
export const photoBytes = (p) => ({ name: path.basename(p), bytes: readFileSync(p).toString('base64'), type: p.endsWith('.png') ? 'image/png' : 'image/jpeg' });

/** The CDN stand-in: nginx serving a copy of the model, CORS for the page's origin only. */
export class Cdn {
  constructor(port, origin, name) {
    this.port = port;
    this.origin = origin;
    this.root = path.join(OUT, `cdn-root-${name}`);
    this.run = path.join(OUT, `cdn-run-${name}`);
    this.url = `http://127.0.0.1:${port}/models/`;
    rmSync(this.root, { recursive: true, force: true });
    mkdirSync(path.join(this.root, 'models'), { recursive: true });
    this.restore();
  }
  get modelPath() {
    return path.join(this.root, 'models', MODEL_FILE);
  }
  restore() {
    copyFileSync(path.join(MODEL_DIR, MODEL_FILE), this.modelPath);
    for (const f of readdirSync(TRAP_DIR)) copyFileSync(path.join(TRAP_DIR, f), path.join(this.root, 'models', f));
  }
  /** Flips one byte in the middle: same name and size, different digest. */
  tamper() {
    const bytes = readFileSync(this.modelPath);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(this.modelPath, bytes);
  }
  start() {
    execFileSync(CDN_SH, ['start', this.root, String(this.port), this.origin, this.run], { stdio: 'inherit' });
  }
  stop() {
    execFileSync(CDN_SH, ['stop', this.run], { stdio: 'inherit' });
  }
  /** Model requests nginx has served so far (its access log). */
  modelRequests() {
    const log = path.join(this.run, 'access.log');
    if (!existsSync(log)) return 0;
    return readFileSync(log, 'utf8').split('\n').filter((l) => l.includes(`GET /models/${MODEL_FILE}`)).length;
  }
}

/** The slug's web process, started as Heroku starts it. */
async function bootSlug(port, cdnUrl) {
  const proc = spawn(path.join(APP, 'bin/webinfer-server'), [], {
    cwd: APP,
    env: { PORT: String(port), WEBINFER_CDN_URL: cdnUrl }, // nothing else: no PATH, no cargo
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = [];
  proc.stderr.on('data', (d) => process.stderr.write(`[server] ${d}`));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start:\n${log.join('')}`)), 15000);
    proc.stdout.on('data', (d) => {
      log.push(String(d));
      if (log.join('').includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.on('exit', (code) => reject(new Error(`the server exited (${code}):\n${log.join('')}`)));
  });
  proc.log = log;
  return proc;
}

/** The CDN stand-in and the slug's server on free ports: { cdn, server } (server.origin). `name`
 *  keeps each suite's CDN files and logs apart. */
export async function startSite(name) {
  mkdirSync(OUT, { recursive: true });
  const [pagePort, cdnPort] = [await freePort(), await freePort()];
  const origin = `http://127.0.0.1:${pagePort}`;
  const cdn = new Cdn(cdnPort, origin, name);
  cdn.start();
  const server = await bootSlug(pagePort, cdn.url);
  server.origin = origin;
  return { cdn, server };
}

/** Stops both; the server must exit cleanly on SIGTERM. Its log goes to `${OUT}/server-${name}.log`. */
export async function stopSite({ cdn, server }, name) {
  cdn?.stop();
  if (server) {
    const exited = new Promise((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })));
    server.kill('SIGTERM');
    const { code } = await exited;
    assert.equal(code, 0, 'the server exits cleanly on SIGTERM');
    writeFileSync(path.join(OUT, `server-${name}.log`), server.log.join(''));
  }
}

/** The page's top-1 must be onnxruntime's; when onnxruntime's first two are within 0.05 of
 *  each other, either is accepted (int8 engines may round such a near-tie either way). */
export function checkAgainstReference(photo, top) {
  const name = path.basename(photo);
  const ref = EXPECTED[name]?.top5;
  assert.ok(ref, `no reference answer for ${name}`);
  const close = ref[0].probability - ref[1].probability < 0.05;
  const accepted = close ? [ref[0].label, ref[1].label] : [ref[0].label];
  assert.ok(accepted.includes(top[0].label), `${name}: page says "${top[0].label}", onnxruntime says "${ref[0].label}" (${ref[0].probability.toFixed(3)})`);
  const refP = ref.find((r) => r.label === top[0].label).probability;
  assert.ok(Math.abs(top[0].probability - refP) < 0.1, `${name}: probability ${top[0].probability} vs onnxruntime ${refP.toFixed(3)}`);
  assert.equal(top.length, 5, `${name}: five classes shown`);
}

// In-page scripts. Each runs in the demo page (its module URL gives the package's), takes one
// JSON argument and resolves to JSON; the suites assert on what they return.

/** Loads the classifier in each of `builds` and classifies every photo; then asks for `refuse`
 *  ({ build, threads }), a build the page cannot run, and returns the error. */
export async function classifyWithEveryBuild({ photos, builds, refuse }) {
  const src = document.querySelector('script[type=module]').src.replace('app.js', 'classifier.js');
  const { Classifier } = await import(src);
  const out = {};
  for (const build of builds) {
    const classifier = await Classifier.load('/api/model', { build });
    out[build] = { build: classifier.build.name, threads: classifier.build.threads, wasm: classifier.build.wasm, photos: {} };
    for (const { name, bytes, type } of photos) {
      const blob = new Blob([Uint8Array.from(atob(bytes), (c) => c.charCodeAt(0))], { type });
      out[build].photos[name] = await classifier.classify(blob);
    }
    classifier.dispose();
  }
  // Asking for what the page cannot run is an error, not a quiet substitute.
  try {
    await Classifier.load('/api/model', refuse);
    out.refused = null;
  } catch (e) {
    out.refused = e.message;
  }
  return out;
}

/** The wasm file each build name must load. */
export const BUILD_WASM = { threads: 'pkg-threads/webinfer_bg.wasm', 'relaxed-simd': 'pkg/webinfer_relaxed_bg.wasm', simd128: 'pkg/webinfer_bg.wasm' };

/** Asserts `classifyWithEveryBuild`'s answers against onnxruntime's. */
export function checkEveryBuild(results, builds) {
  for (const build of builds) {
    const r = results[build];
    assert.equal(r.build, build);
    assert.ok(r.wasm.endsWith(BUILD_WASM[build]), r.wasm);
    if (build === 'threads') assert.ok(r.threads >= 2, `threads build with ${r.threads} threads`);
    for (const photo of PHOTOS) checkAgainstReference(photo, r.photos[path.basename(photo)].map((t) => ({ ...t })));
    console.log(`${build}: ${Object.entries(r.photos).map(([n, top]) => `${n} ${top[0].label} ${(100 * top[0].probability).toFixed(1)}%`).join(', ')}`);
  }
}

/** What a web developer writes: import the module, load from the manifest URL, classify an
 *  <img>, a <canvas>, an ImageBitmap, ImageData and a Blob of one photo; then a bad call. */
export async function classifyEverySource({ bytes, type }) {
  const src = document.querySelector('script[type=module]').src.replace('app.js', 'classifier.js');
  const { Classifier } = await import(src);
  const classifier = await Classifier.load('/api/model');
  const blob = new Blob([Uint8Array.from(atob(bytes), (c) => c.charCodeAt(0))], { type });
  const img = new Image();
  img.src = URL.createObjectURL(blob);
  await img.decode();
  const canvas = document.createElement('canvas');
  [canvas.width, canvas.height] = [img.naturalWidth, img.naturalHeight];
  canvas.getContext('2d').drawImage(img, 0, 0);
  const imageData = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  const out = {};
  for (const [kind, source] of Object.entries({ img, canvas, imageBitmap: await createImageBitmap(blob), imageData, blob })) {
    const top = await classifier.classify(source, { topK: 3 });
    out[kind] = { label: top[0].label, probability: top[0].probability, count: top.length };
  }
  try {
    await classifier.classify('not an image');
  } catch (e) {
    out.error = e.message;
  }
  out.after = (await classifier.classify(imageData))[0].label;
  classifier.dispose();
  return out;
}

export function checkEverySource(results) {
  const ref = EXPECTED[path.basename(COFFEE)].top5[0];
  for (const kind of ['img', 'canvas', 'imageBitmap', 'imageData', 'blob']) {
    assert.equal(results[kind].label, ref.label, `${kind}: ${JSON.stringify(results[kind])}`);
    assert.ok(Math.abs(results[kind].probability - ref.probability) < 0.1, `${kind}: ${JSON.stringify(results[kind])}`);
    assert.equal(results[kind].count, 3);
  }
  assert.match(results.error, /cannot read pixels from this image/);
  assert.equal(results.after, ref.label, 'the classifier still works after a bad call');
}

/** The trap model (tests/e2e/trap_model.py) in a worker: a panic, then a crash out of memory. */
export async function panicThenCrash({ manifestUrl, build, sha256 }) {
  const src = document.querySelector('script[type=module]').src.replace('app.js', 'classifier.js');
  const { Classifier } = await import(src);
  const classifier = await Classifier.load(manifestUrl, { build });
  const image = (v) => new ImageData(new Uint8ClampedArray(16 * 16 * 4).fill(v), 16, 16);
  const attempt = async (f) => { try { await f(); return 'no error'; } catch (e) { return e.message; } };
  const result = {};
  result.before = (await classifier.classify(image(255)))[0].probability;
  result.firstSource = classifier.info.timings.source;
  result.firstDigest = classifier.info.timings.digestWith;
  // A dark picture divides an integer by zero inside tract: caught, an Error, same worker.
  result.panic = await attempt(() => classifier.classify(image(40)));
  result.afterPanic = (await classifier.classify(image(255)))[0].probability;
  result.sourceAfterPanic = classifier.info.timings.source;
  // The model reaches the Cache API after the load returns (a write in the background); a
  // worker that dies before it lands takes the write with it, and its replacement downloads
  // again. Crash only once the model is stored, so the restart below must find it there.
  for (const start = performance.now(); ;) {
    const keys = await (await caches.open('webinfer-models-v1')).keys();
    if (keys.some((k) => k.url.endsWith(sha256))) break;
    if (performance.now() - start > 10000) throw new Error('the model never reached the Cache API');
    await new Promise((r) => setTimeout(r, 20));
  }
  // A light grey one needs more memory than wasm32 can address: an abort, not a panic.
  result.error = await attempt(() => classifier.classify(image(230)));
  result.after = (await classifier.classify(image(255)))[0].probability;
  result.source = classifier.info.timings.source; // the restarted worker's load
  result.digest = classifier.info.timings.digestWith;
  classifier.dispose();
  return result;
}

export function checkPanicThenCrash(out, build) {
  assert.ok(Math.abs(out.before - 0.001) < 1e-6, `${build}: uniform scores before the crash: ${out.before}`);
  assert.match(out.panic, /^inference failed in node `divide_by_brightness` \(Div\): the engine \(tract\) panicked: attempt to divide by zero\. .*the session is still usable$/, build);
  assert.ok(Math.abs(out.afterPanic - 0.001) < 1e-6, `${build}: the call after the panic works: ${out.afterPanic}`);
  assert.equal(out.sourceAfterPanic, out.firstSource, `${build}: no restart after a caught panic`);
  assert.match(out.error, /the inference engine crashed \(RuntimeError: .*\); it has been restarted/, build);
  // The crash channel carries the reason.
  if (build === 'threads') assert.match(out.error, /out of memory: could not allocate \d+ bytes/);
  assert.ok(Math.abs(out.after - 0.001) < 1e-6, `${build}: the next call works: ${out.after}`);
  assert.equal(out.source, 'cache', `${build}: the restarted worker loaded the model from the cache, not the network`);
  // A secure context (the test sites are on 127.0.0.1): the browser takes the digest, even of
  // bytes in the threads build's shared memory, which SubtleCrypto refuses as they are.
  assert.deepEqual([out.firstDigest, out.digest], ['SubtleCrypto', 'SubtleCrypto'], `${build}: what took the sha256 (load, then the load from the cache)`);
}
