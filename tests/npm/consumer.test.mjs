// The npm package as a web developer gets it: a small Vite app (tests/npm/app) installs the
// packed tarball (`./build.sh pkg`'s, not a path into this tree), Vite bundles it for
// production, and `vite preview` serves it with COOP/COEP (threads build) and without (a
// one-thread build). Headless Chromium and Firefox, and WebKit, each through its own WebDriver, run a model
// with four inputs of four element types, a model with dynamic shapes at several sizes, and the
// classifier, and the answers are compared with onnxruntime's (committed fixture outputs; the
// classifier's computed by tests/e2e/reference.py).
//
// Run by `./build.sh test`, which sets the variables below.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, launch } from '../web/webdriver.mjs';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through ./build.sh test`);
  return value;
};
const HERE = path.dirname(new URL(import.meta.url).pathname);
const ROOT = path.resolve(HERE, '../..');
const TARBALL = env('WEBINFER_NPM_TARBALL');
const WORK = env('WEBINFER_NPM_WORK');
const MANIFEST = env('WEBINFER_NPM_MANIFEST'); // the demo classifier's manifest (its model beside it)
const PHOTO = env('WEBINFER_NPM_PHOTO');
const EXPECTED_TOP = JSON.parse(readFileSync(env('WEBINFER_NPM_EXPECTED'), 'utf8'))[path.basename(PHOTO)].top5;

const fixture = (name) => JSON.parse(readFileSync(path.join(ROOT, 'tests/fixtures/expected', name), 'utf8'));
const CASES = [
  ...fixture('dtypes.json').cases.map((c) => ({ model: 'dtypes', ...c })),
  ...fixture('dynamic.json').cases.filter((c) => c.model === 'unet_dynamic'),
];

const APP = path.join(WORK, 'app');
const servers = [];
let urls;

/** `vite preview` on a free port; resolves to its URL once it answers. */
async function serve(isolated) {
  const port = await freePort();
  // Vite's own script, not `npx vite`: killing npx would leave its child serving.
  const server = spawn(process.execPath, [path.join(APP, 'node_modules/vite/bin/vite.js'), 'preview', '--strictPort', '--port', String(port)], {
    cwd: APP, env: { ...process.env, WEBINFER_ISOLATED: isolated ? '1' : '0' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  servers.push(server);
  let log = '';
  server.stderr.on('data', (d) => { log += d; });
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 300; i++) {
    if (server.exitCode !== null) throw new Error(`vite preview exited with ${server.exitCode}: ${log}`);
    if (await fetch(url).then((r) => r.ok, () => false)) return url;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`vite preview did not answer on ${url} within 30 s`);
}

before(async () => {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  cpSync(path.join(HERE, 'app'), APP, { recursive: true, filter: (f) => !/node_modules|dist/.test(path.relative(HERE, f)) });
  const npm = (...args) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd: APP, stdio: 'inherit' });
  npm('ci');
  npm('install', '--no-save', TARBALL);
  const models = path.join(APP, 'public/models');
  mkdirSync(models, { recursive: true });
  for (const m of ['dtypes', 'unet_dynamic']) cpSync(path.join(ROOT, 'tests/fixtures/models', `${m}.onnx`), path.join(models, `${m}.onnx`));
  const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8'));
  cpSync(path.join(path.dirname(MANIFEST), manifest.model.url), path.join(models, manifest.model.url));
  writeFileSync(path.join(models, 'classifier.manifest.json'), JSON.stringify(manifest));
  cpSync(PHOTO, path.join(APP, 'public', path.basename(PHOTO)));
  execFileSync('npx', ['vite', 'build'], { cwd: APP, stdio: 'inherit' });
  urls = { isolated: await serve(true), plain: await serve(false) };
});

after(() => {
  for (const s of servers) s.kill();
});

test('the tarball installs as a package and Vite emits its worker and three wasm builds as assets', () => {
  const installed = path.join(APP, 'node_modules/webinfer');
  assert.ok(!lstatSync(installed).isSymbolicLink(), 'installed from the tarball, not linked to the source tree');
  const pkg = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'webinfer');
  const assets = readdirSync(path.join(APP, 'dist/assets'));
  const wasm = assets.filter((f) => f.endsWith('.wasm'));
  assert.equal(wasm.length, 3, `three wasm builds in dist/assets: ${assets.join(', ')}`);
  for (const stem of ['webinfer_bg', 'webinfer_relaxed_bg']) assert.ok(wasm.some((f) => f.startsWith(stem)), `${stem} in ${wasm}`);
  assert.ok(assets.some((f) => /^worker-.*\.js$/.test(f)), `the worker bundled: ${assets.join(', ')}`);
});

test('TypeScript: a strict app type-checks against the package\'s declarations (tsc)', () => {
  // types.ts uses InferenceSession, Tensor, Classifier and 'webinfer/wasm', and expects an error
  // where it misuses them (`@ts-expect-error`), so declarations that were `any` would fail too.
  execFileSync('npx', ['tsc', '-p', '.'], { cwd: APP, stdio: 'inherit' });
});

function closeEnough(got, want, where) {
  assert.equal(got.type, want.type, `${where}: type`);
  assert.deepEqual(got.dims, want.dims, `${where}: dims`);
  assert.equal(got.data.length, want.data.length, `${where}: length`);
  for (let i = 0; i < want.data.length; i++) {
    const [g, w] = [Number(got.data[i]), Number(want.data[i])];
    const ok = want.type === 'float32' ? Math.abs(g - w) <= 1e-4 + 1e-3 * Math.abs(w) : g === w;
    assert.ok(ok, `${where}[${i}]: ${g} vs onnxruntime ${w}`);
  }
}

// WebKit (WebKitGTK) has neither relaxed SIMD nor, even on an isolated page, SharedArrayBuffer:
// simd128 on both pages, and the session says why.
const WEBKIT_WHY = {
  isolated: 'not threads: this browser cannot share memory with workers (no SharedArrayBuffer); not relaxed-simd: this browser has no relaxed SIMD',
  plain: 'not threads: the page is not cross-origin isolated (COOP and COEP headers); not relaxed-simd: this browser has no relaxed SIMD',
};

for (const browserName of ['chrome', 'firefox', 'webkit']) {
  for (const page of ['isolated', 'plain']) {
    const want = browserName === 'webkit' ? 'simd128' : page === 'isolated' ? 'the threads build' : 'a one-thread build';
    test(`${browserName}, ${page} page: ${want} runs any model and the classifier, as onnxruntime does`, async () => {
      const browser = await launch(browserName);
      try {
        await browser.open(urls[page]);
        const out = await browser.run(async (arg) => {
          while (!window.check) await new Promise((r) => setTimeout(r, 50));
          return window.check(arg);
        }, { cases: CASES.map(({ model, inputs }) => ({ model, inputs })), photo: `/${path.basename(PHOTO)}` });

        assert.equal(out.isolated, page === 'isolated');
        if (browserName === 'webkit') {
          assert.deepEqual([out.build.name, out.build.threads, out.build.why], ['simd128', 1, WEBKIT_WHY[page]]);
        } else if (page === 'isolated') {
          assert.equal(out.build.name, 'threads', JSON.stringify(out.build));
          assert.ok(out.build.threads >= 2, JSON.stringify(out.build));
        } else {
          assert.ok(['relaxed-simd', 'simd128'].includes(out.build.name), JSON.stringify(out.build));
          assert.equal(out.build.threads, 1);
        }
        assert.equal(out.build.fallback, null, 'no fallback: the chosen build started');
        assert.match(out.build.wasm, new RegExp(`^${urls[page]}assets/webinfer(_relaxed)?_bg-[\\w-]+\\.wasm$`), 'the wasm URL is the bundle\'s asset');
        assert.ok(out.progressEvents > 0, 'download progress reported');
        CASES.forEach((c, i) => {
          const run = out.runs[i];
          assert.equal(run.model, c.model);
          assert.ok(run.detached, `${c.model}: the transferred feed's buffer moved to the worker`);
          for (const [name, expected] of Object.entries(c.outputs)) closeEnough(run.outputs[name], expected, `${c.model} #${i} ${name}`);
        });
        assert.match(out.badFeed ?? '', /input/, 'a missing feed is an Error naming the input');
        assert.deepEqual(out.afterBadFeed, out.runs[0].outputs, 'the session works after a bad feed');
        assert.match(out.afterRelease ?? '', /released/);

        const close = EXPECTED_TOP[0].probability - EXPECTED_TOP[1].probability < 0.05;
        const accepted = close ? [EXPECTED_TOP[0].label, EXPECTED_TOP[1].label] : [EXPECTED_TOP[0].label];
        assert.ok(accepted.includes(out.top[0].label), `classifier says "${out.top[0].label}", onnxruntime "${EXPECTED_TOP[0].label}"`);
        const ref = EXPECTED_TOP.find((r) => r.label === out.top[0].label).probability;
        assert.ok(Math.abs(out.top[0].probability - ref) < 0.05, `probability ${out.top[0].probability} vs onnxruntime ${ref}`);
        assert.equal(out.classifierBuild, out.build.name);
        console.log(`${browserName} ${page}: ${out.build.name} x${out.build.threads}, ${out.runs.length} runs match onnxruntime, classifier: ${out.top[0].label} ${(100 * out.top[0].probability).toFixed(1)}%`);
      } finally {
        await browser.close();
      }
    });
  }
}
