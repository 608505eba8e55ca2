// End to end, as a visitor meets it: the Heroku slug's server (booted like Heroku boots it: only
// PORT and the CDN variable set, no toolchain on PATH) serves the page; the model comes from a
// different origin, nginx configured as a CDN; Debian's Chromium runs the page headless, driven
// by Playwright (webkit.test.mjs runs the page in WebKit).
//
// Run by `./build.sh test` (which builds the slug, extracts it and computes the reference
// answers with onnxruntime); site.mjs reads where everything is.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  SLUG, EXPECTED, PHOTOS, OUT, COFFEE, MODEL_FILE, startSite, stopSite, checkAgainstReference, photoBytes, trapManifest, expectedPool,
  classifyWithEveryBuild, checkEveryBuild, classifyEverySource, checkEverySource, panicThenCrash, checkPanicThenCrash,
} from './site.mjs';

let cdn, server, browser, site;

before(async () => {
  site = await startSite('chromium');
  ({ cdn, server } = site);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // A synthetic camera, so the camera button can be exercised headless.
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
  });
});

after(async () => {
  await browser?.close();
  await stopSite(site ?? {}, 'chromium');
});

/** A page that records what the CDN was asked for and every progress text it showed. */
async function openPage(context) {
  const page = await context.newPage();
  page.cdnRequests = [];
  page.on('request', (r) => { if (r.url().startsWith(cdn.url)) page.cdnRequests.push(r.url()); });
  page.on('pageerror', (e) => console.error('[page error]', e.message));
  await page.addInitScript(() => {
    window.__progress = [];
    document.addEventListener('DOMContentLoaded', () => {
      const el = document.getElementById('download-text');
      new MutationObserver(() => window.__progress.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
    });
  });
  return page;
}

async function waitForState(page, states, timeout = 120000) {
  await page.waitForFunction((s) => s.includes(document.body.dataset.state), states, { timeout });
  return page.evaluate(() => document.body.dataset.state);
}

async function load(page) {
  await page.goto(`${server.origin}/`);
  const state = await waitForState(page, ['ready', 'error']);
  if (state === 'error') assert.fail(`the page failed to load the model: ${await page.textContent('#error-text')}`);
}

/** Opens the page in `context` expecting the model load to fail: the error must be visible. */
async function loadFailing(context) {
  const page = await openPage(context);
  await page.goto(`${server.origin}/`);
  assert.equal(await waitForState(page, ['ready', 'error']), 'error');
  assert.ok(await page.isVisible('#error-text'), 'the error is shown');
  return { page, message: await page.textContent('#error-text') };
}

/** Picks a photo with the file input, as a visitor would, and reads the top 5 off the page. */
async function classify(page, photo) {
  await page.evaluate(() => { document.body.dataset.state = 'waiting'; });
  await page.setInputFiles('#file', photo);
  const state = await waitForState(page, ['done', 'error'], 60000);
  if (state === 'error') assert.fail(`${path.basename(photo)}: ${await page.textContent('#error-text')}`);
  return page.$$eval('#top5 li', (items) => items.map((li) => ({
    label: li.querySelector('.label span').title,
    probability: parseFloat(li.querySelector('.label span:last-child').textContent) / 100,
  })));
}


test('the slug is at most 10 MB: the wasm builds are stored as brotli alone', () => {
  const bytes = statSync(SLUG).size;
  assert.ok(bytes <= 10e6, `slug.tgz is ${(bytes / 1e6).toFixed(2)} MB`);
  const wasm = execFileSync('tar', ['-tzf', SLUG], { encoding: 'utf8' }).split('\n').filter((f) => /\.wasm(\.\w+)?$/.test(f));
  assert.deepEqual(wasm.filter((f) => !f.endsWith('.wasm.br')), [], 'no raw or gzip copy of a wasm build');
  assert.equal(wasm.length, 3, wasm.join(', '));
  console.log(`slug: ${(bytes / 1e6).toFixed(2)} MB`);
});

let context; // the first visitor's browser profile, reused by the reload and offline tests

test('the page downloads the model cross-origin with progress, verifies it and classifies photos', async () => {
  context = await browser.newContext();
  const page = await openPage(context);
  const responses = [];
  page.on('response', (r) => responses.push(r));
  const before = cdn.modelRequests();
  await load(page);

  assert.match(await page.textContent('#status'), /downloaded and verified/);
  // The server makes the page cross-origin isolated, so Chromium on 2+ cores runs the threads build.
  assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'COOP + COEP make the page cross-origin isolated');
  // The default pool: both of 2 CPUs, else half the logical CPUs, at most 4 (README).
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const pool = expectedPool(cores);
  assert.match(await page.textContent('#build'), cores > 1 ? new RegExp(`wasm: threads, ${pool} threads$`) : /wasm: relaxed-simd, 1 thread$/);
  assert.deepEqual(page.cdnRequests, [cdn.url + MODEL_FILE], 'one model request, to the CDN origin');
  assert.equal(cdn.modelRequests() - before, 1, 'nginx served the model once');
  const progress = await page.evaluate(() => window.__progress);
  assert.ok(progress.filter((t) => /\d+%\)$/.test(t)).length >= 3, `progress shown while downloading: ${JSON.stringify(progress.slice(0, 5))}`);
  assert.ok(progress.some((t) => t.includes('(100%)')), 'progress reached 100%');

  // What the server sent: streaming-compilable wasm, compressed; the CSP names the CDN.
  const wasm = responses.find((r) => r.url().endsWith('.wasm'));
  assert.ok(wasm, 'the page fetched the wasm');
  const wasmHeaders = await wasm.allHeaders();
  assert.equal(wasmHeaders['content-type'], 'application/wasm');
  assert.match(wasmHeaders['cache-control'], /immutable/);
  const html = await (responses.find((r) => r.url() === `${server.origin}/`)).allHeaders();
  assert.match(html['content-security-policy'], new RegExp(`connect-src 'self' http://127\\.0\\.0\\.1:${cdn.port}`));
  assert.match(html['content-security-policy'], /'wasm-unsafe-eval'/);
  assert.doesNotMatch(html['content-security-policy'], /unsafe-inline|\*/);
  assert.equal(html['cross-origin-opener-policy'], 'same-origin');
  assert.equal(html['cross-origin-embedder-policy'], 'require-corp');
  // A visitor downloads one wasm build, not three.
  assert.equal(responses.filter((r) => r.url().endsWith('.wasm')).length, 1, 'one wasm build fetched');

  for (const photo of PHOTOS) {
    const top = await classify(page, photo);
    checkAgainstReference(photo, top);
    console.log(`${path.basename(photo)}: ${top[0].label} ${(100 * top[0].probability).toFixed(1)}%`);
    if (path.basename(photo).startsWith('coffee')) {
      await page.screenshot({ path: path.join(OUT, 'result.png'), fullPage: true });
    }
  }
  assert.ok(existsSync(path.join(OUT, 'result.png')), 'screenshot saved');
  await page.close();
});

test('every wasm build (simd128, relaxed-simd, threads) gives onnxruntime\'s answers on every photo', async () => {
  const page = await openPage(context);
  await load(page);
  const builds = ['simd128', 'relaxed-simd', 'threads'];
  const results = await page.evaluate(classifyWithEveryBuild, { photos: PHOTOS.map(photoBytes), builds, refuse: { build: 'threads', threads: 1 } });
  checkEveryBuild(results, builds);
  assert.match(results.refused ?? '', /cannot run the wasm build "threads"/);
  await page.close();
});


test('when the threads build cannot start, the page runs on one thread and says why', async () => {
  // The wasm of the threads build is made unreachable (its own service worker blocked, so the
  // route sees every request): loading it fails, and the automatic choice falls back.
  const isolated = await browser.newContext({ serviceWorkers: 'block' });
  await isolated.route('**/pkg-threads/webinfer_bg.wasm', (route) => route.fulfill({ status: 404, body: 'gone' }));
  const page = await openPage(isolated);
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  await load(page);
  if (cores > 1) {
    assert.match(await page.textContent('#build'), /^wasm: (relaxed-simd|simd128), 1 thread \(threads unavailable\)$/);
    assert.match(await page.getAttribute('#build', 'title'), /^could not start the threads wasm build: /);
  }
  checkAgainstReference(COFFEE, await classify(page, COFFEE));
  await isolated.close();
});

test('the embedding module classifies <img>, <canvas>, ImageBitmap, ImageData and Blob alike', async () => {
  const page = await openPage(context);
  await load(page);
  checkEverySource(await page.evaluate(classifyEverySource, photoBytes(COFFEE)));
  await page.close();
});


test('a panic in the engine is an Error; a crash (out of memory): the worker is replaced, the call fails clearly, the next works', async () => {
  const page = await openPage(context);
  await load(page);
  const trap = trapManifest();
  // threads: the crash is on a pool thread and reaches the page over the crash channel (the
  // worker itself is stuck waiting for it); simd128: the worker's own call traps.
  for (const build of ['threads', 'simd128']) {
    const out = await page.evaluate(panicThenCrash, { manifestUrl: `${cdn.url}trap.manifest.json`, build, sha256: trap.model.sha256 });
    checkPanicThenCrash(out, build);
  }
  await page.close();
});


test('the module used directly on the page: a panic is an Error and the session works on; after a crash every call fails', async () => {
  const page = await openPage(context);
  await load(page);
  const trap = trapManifest();
  const out = await page.evaluate(async ({ url, sha256 }) => {
    // No worker, no Classifier: the wasm module imported as a web developer would.
    const src = document.querySelector('script[type=module]').src.replace('app.js', 'pkg/webinfer.js');
    const { default: init, Session } = await import(src);
    await init();
    const session = await Session.create(url, { sha256 });
    const feeds = (v) => ({ image: { data: new Float32Array(3 * 8 * 8).fill(v), dims: [1, 3, 8, 8] } });
    const attempt = async (f) => { try { await f(); return 'no error'; } catch (e) { return `${e.constructor.name}: ${e.message}`; } };
    return {
      before: session.run(feeds(1)).scores.data[0],
      panic: await attempt(() => session.run(feeds(0.3))), // int32(0.3 + 0.5) = 0: a division by zero
      afterPanic: session.run(feeds(1)).scores.data[0],
      crash: await attempt(() => session.run(feeds(0.8))), // a 2.1 GB output copied out: out of memory
      run: await attempt(() => session.run(feeds(1))),
      create: await attempt(() => Session.create(url, { sha256 })),
      names: await attempt(() => session.inputNames),
    };
  }, { url: `${cdn.url}${trap.model.url}`, sha256: trap.model.sha256 });
  assert.equal(out.before, 1, 'the model runs before the crash');
  assert.match(out.panic, /^Error: inference failed in node `divide_by_brightness` \(Div\): the engine \(tract\) panicked: attempt to divide by zero/);
  assert.equal(out.afterPanic, 1, 'the same session runs after a caught panic');
  assert.match(out.crash, /^RuntimeError: unreachable/);
  // wasm-bindgen's glue marks the instance terminated after a trap and refuses every later call
  // before it reaches the engine.
  const dead = /^Error: Module terminated/;
  assert.match(out.run, dead);
  assert.match(out.create, dead);
  assert.match(out.names, dead);
  await page.close();
});

test('a malformed or missing manifest is an error naming the field, and a good one loads after it', async () => {
  const trap = trapManifest();
  const write = (name, text) => writeFileSync(path.join(cdn.root, 'models', name), text);
  const variants = {
    'not-json': ['{ "schema": ', /is not valid JSON/],
    'no-schema': [{ ...trap, schema: undefined }, /`schema` must be "webinfer.manifest\/1" \(got undefined\)/],
    'no-sha': [{ ...trap, model: { ...trap.model, sha256: undefined } }, /`model.sha256` must be 64 hex digits/],
    'no-url': [{ ...trap, model: { ...trap.model, url: '' } }, /`model.url` must be the model file URL/],
    'no-inputs': [{ ...trap, inputs: [] }, /`inputs` must list the one image input by name/],
    'labels': [{ ...trap, labels: 'cat' }, /`labels` must be an array of class names/],
    'no-preprocess': [{ ...trap, preprocess: null }, /`preprocess` is missing/],
    'wrong-input': [{ ...trap, inputs: [{ ...trap.inputs[0], name: 'pixels' }] }, /manifest input `pixels` is not an input of the model \(it has image\)/],
  };
  for (const [name, [body]] of Object.entries(variants)) write(`${name}.manifest.json`, typeof body === 'string' ? body : JSON.stringify(body));
  const page = await openPage(context);
  await load(page);
  const out = await page.evaluate(async (names) => {
    const src = document.querySelector('script[type=module]').src.replace('app.js', 'classifier.js');
    const { Classifier } = await import(src);
    const base = names.pop();
    const errors = {};
    for (const name of [...names, 'absent']) {
      try {
        (await Classifier.load(`${base}${name}.manifest.json`)).dispose();
        errors[name] = 'loaded';
      } catch (e) {
        errors[name] = e.message;
      }
    }
    const classifier = await Classifier.load(`${base}trap.manifest.json`);
    const after = (await classifier.classify(new ImageData(new Uint8ClampedArray(8 * 8 * 4).fill(255), 8, 8)))[0].probability;
    classifier.dispose();
    return { errors, after };
  }, [...Object.keys(variants), cdn.url]);
  for (const [name, [, expected]] of Object.entries(variants)) assert.match(out.errors[name], expected, `${name}: ${out.errors[name]}`);
  assert.match(out.errors.absent, /could not fetch the model manifest .*absent.manifest.json: HTTP 404/);
  assert.ok(Math.abs(out.after - 0.001) < 1e-6, `a good manifest loads and classifies afterwards: ${out.after}`);
  await page.close();
});

test('drop, paste and the camera classify too', async () => {
  const ref = EXPECTED[path.basename(COFFEE)].top5[0];
  const page = await openPage(context);
  await load(page);
  const bytes = readFileSync(COFFEE).toString('base64');
  for (const how of ['drop', 'paste']) {
    await page.evaluate(({ bytes, how }) => {
      document.body.dataset.state = 'waiting';
      const file = new File([Uint8Array.from(atob(bytes), (c) => c.charCodeAt(0))], 'photo', { type: 'image/png' });
      const data = new DataTransfer();
      data.items.add(file);
      const event = how === 'drop'
        ? new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true })
        : new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true });
      (how === 'drop' ? document.getElementById('drop') : document).dispatchEvent(event);
    }, { bytes, how });
    assert.equal(await waitForState(page, ['done', 'error']), 'done', how);
    assert.equal(await page.$eval('#top5 li .label span', (s) => s.title), ref.label, how);
  }
  // Chromium's fake camera: a moving test pattern. No particular class; five are shown.
  await page.click('#camera');
  await page.waitForFunction(() => document.getElementById('video').readyState >= 2);
  await page.evaluate(() => { document.body.dataset.state = 'waiting'; });
  await page.click('#snap');
  assert.equal(await waitForState(page, ['done', 'error']), 'done', await page.textContent('#error-text'));
  assert.equal(await page.$$eval('#top5 li', (l) => l.length), 5);
  await page.close();
});

test('a reload classifies with no model request (Cache API), also offline', async () => {
  const page = await openPage(context);
  const before = cdn.modelRequests();
  await load(page);
  assert.match(await page.textContent('#status'), /from this browser's cache: no download/);
  assert.deepEqual(page.cdnRequests, [], 'no request to the CDN');
  assert.equal(cdn.modelRequests(), before, 'nginx saw no model request');
  checkAgainstReference(PHOTOS[0], await classify(page, PHOTOS[0]));

  // Offline: the service worker has the page, the wasm and the manifest; the model is cached.
  await page.evaluate(() => navigator.serviceWorker.ready);
  await context.setOffline(true);
  try {
    await page.reload();
    const state = await waitForState(page, ['ready', 'error']);
    assert.equal(state, 'ready', `offline reload: ${await page.textContent('#error-text')}`);
    checkAgainstReference(PHOTOS[0], await classify(page, PHOTOS[0]));
  } finally {
    await context.setOffline(false);
  }
  await context.close();
});

test('a tampered model on the CDN is a visible error and nothing is cached', async () => {
  cdn.tamper();
  const ctx = await browser.newContext();
  try {
    const { page, message } = await loadFailing(ctx);
    assert.match(message, /sha256 mismatch|digest/i, message);
    const cached = await page.evaluate(async () => (await (await caches.open('webinfer-models-v1')).keys()).length);
    assert.equal(cached, 0, 'the tampered model was not cached');
  } finally {
    cdn.restore();
    await ctx.close();
  }
});

test('a CDN that is down is a visible error, and the page recovers when it returns', async () => {
  cdn.stop();
  const ctx = await browser.newContext();
  try {
    const { page, message } = await loadFailing(ctx);
    assert.match(message, /download|fetch|network/i, message);
    assert.ok(await page.isVisible('#retry'), 'a retry button is offered');

    cdn.start();
    await page.evaluate(() => { document.body.dataset.state = 'waiting'; });
    await page.click('#retry');
    assert.equal(await waitForState(page, ['ready', 'error']), 'ready');
    assert.ok(await page.isHidden('#error'), 'the error is gone');
    checkAgainstReference(PHOTOS[0], await classify(page, PHOTOS[0]));
  } finally {
    await ctx.close();
  }
});
