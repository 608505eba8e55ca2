// The demo page and the embedding module in WebKit, Safari's engine: WebKitGTK's MiniBrowser
// driven through WebKitWebDriver (Debian's webkit2gtk-driver) on a virtual display, against the
// same slug server and nginx CDN stand-in as demo.test.mjs. Safari on iOS and macOS cannot run
// here; WebKitGTK shares their JavaScriptCore and WebAssembly engine, not their network stack.
//
// What WebKit lacks, and the page must notice by itself: relaxed SIMD (the one-thread build is
// simd128, never relaxed-simd), and, in WebKitGTK, SharedArrayBuffer even on a cross-origin
// isolated page (it makes the threads build's shared memory but cannot post it to a worker).
// Safari exposes SharedArrayBuffer on isolated pages; JSC_useSharedArrayBuffer=1 does the same
// in WebKitGTK, and the last test runs the threads build in JavaScriptCore that way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { launch } from '../web/webdriver.mjs';
import {
  PHOTOS, COFFEE, MODEL_FILE, startSite, stopSite, checkAgainstReference, photoBytes, trapManifest, expectedPool,
  classifyWithEveryBuild, checkEveryBuild, classifyEverySource, checkEverySource, panicThenCrash, checkPanicThenCrash,
} from './site.mjs';

const NO_SAB = 'this browser cannot share memory with workers (no SharedArrayBuffer)';
const NO_RELAXED = 'this browser has no relaxed SIMD';

let site, browser;

before(async () => {
  site = await startSite('webkit');
  browser = await launch('webkit');
  console.log(`${browser.capabilities.browserName} ${browser.capabilities.browserVersion}`);
});

after(async () => {
  await browser?.close();
  await stopSite(site ?? {}, 'webkit');
});

/** Waits until the page's state is one of `states` and returns it (the page sets it as it goes). */
async function waitForState(states, session = browser) {
  return session.run(async (states) => {
    while (!states.includes(document.body.dataset.state)) await new Promise((r) => setTimeout(r, 50));
    return document.body.dataset.state;
  }, states);
}

const text = (selector) => browser.run(async (s) => document.querySelector(s).textContent, selector);

async function load() {
  await browser.open(`${site.server.origin}/`);
  const state = await waitForState(['ready', 'error']);
  if (state === 'error') assert.fail(`the page failed to load the model: ${await text('#error-text')}`);
}

/** Picks a photo with the file input, as a visitor would, and reads the top 5 off the page. */
async function classify(photo) {
  await browser.run(async () => { document.body.dataset.state = 'waiting'; });
  await browser.type('#file', photo);
  const state = await waitForState(['done', 'error']);
  if (state === 'error') assert.fail(`${path.basename(photo)}: ${await text('#error-text')}`);
  return browser.run(async () => [...document.querySelectorAll('#top5 li')].map((li) => ({
    label: li.querySelector('.label span').title,
    probability: parseFloat(li.querySelector('.label span:last-child').textContent) / 100,
  })));
}

test('WebKit: the page downloads the model from the CDN, picks simd128 and says why, and classifies photos', async () => {
  const before = site.cdn.modelRequests();
  await load();
  const page = await browser.run(async () => ({
    isolated: crossOriginIsolated,
    status: document.getElementById('status').textContent,
    build: document.getElementById('build').textContent,
    why: document.getElementById('build').title,
  }));
  assert.match(page.status, /downloaded and verified/);
  assert.equal(site.cdn.modelRequests() - before, 1, 'nginx served the model once');
  assert.equal(page.isolated, true, 'COOP + COEP make the page cross-origin isolated in WebKit too');
  // Chosen up front from the probes, not by a failed start of the threads build.
  assert.equal(page.build, 'wasm: simd128, 1 thread');
  assert.equal(page.why, `not threads: ${NO_SAB}; not relaxed-simd: ${NO_RELAXED}`);
  for (const photo of PHOTOS) {
    const top = await classify(photo);
    checkAgainstReference(photo, top);
    console.log(`webkit ${path.basename(photo)}: ${top[0].label} ${(100 * top[0].probability).toFixed(1)}%`);
  }
});

test('WebKit: simd128 gives onnxruntime\'s answers on every photo; threads and relaxed-simd are refused, saying why', async () => {
  await load();
  const results = await browser.run(classifyWithEveryBuild, { photos: PHOTOS.map(photoBytes), builds: ['simd128'], refuse: { build: 'relaxed-simd' } });
  checkEveryBuild(results, ['simd128']);
  assert.equal(results.refused, `this page cannot run the wasm build "relaxed-simd": ${NO_RELAXED}`);
  const threads = await browser.run(classifyWithEveryBuild, { photos: [], builds: [], refuse: { build: 'threads' } });
  assert.equal(threads.refused, `this page cannot run the wasm build "threads": ${NO_SAB}`);
});

test('WebKit: the embedding module classifies <img>, <canvas>, ImageBitmap, ImageData and Blob alike', async () => {
  await load();
  checkEverySource(await browser.run(classifyEverySource, photoBytes(COFFEE)));
});

test('WebKit: a panic is an Error; a crash replaces the worker, which reloads the model from the Cache API', async () => {
  await load();
  const trap = trapManifest();
  const out = await browser.run(panicThenCrash, { manifestUrl: `${site.cdn.url}trap.manifest.json`, build: 'simd128', sha256: trap.model.sha256 });
  checkPanicThenCrash(out, 'simd128');
});

test('WebKit: a reload classifies with no model request (Cache API)', async () => {
  const before = site.cdn.modelRequests();
  await load();
  assert.match(await text('#status'), /from this browser's cache: no download/);
  assert.equal(site.cdn.modelRequests(), before, `nginx saw no request for ${MODEL_FILE}`);
  checkAgainstReference(PHOTOS[0], await classify(PHOTOS[0]));
});

test('WebKit with SharedArrayBuffer on isolated pages (as Safari): the threads build runs, matches onnxruntime, survives a crash', async () => {
  const safariLike = await launch('webkit', { env: { JSC_useSharedArrayBuffer: '1' } });
  try {
    await safariLike.open(`${site.server.origin}/`);
    const state = await waitForState(['ready', 'error'], safariLike);
    const page = await safariLike.run(async () => ({
      cores: navigator.hardwareConcurrency, build: document.getElementById('build').textContent, why: document.getElementById('build').title,
    }));
    assert.equal(state, 'ready', page.why);
    assert.equal(page.build, `wasm: threads, ${expectedPool(page.cores)} threads`);
    assert.equal(page.why, '', 'the fastest build runs: nothing passed over');
    const results = await safariLike.run(classifyWithEveryBuild, { photos: PHOTOS.map(photoBytes), builds: ['threads'], refuse: { build: 'relaxed-simd' } });
    checkEveryBuild(results, ['threads']);
    const trap = trapManifest();
    checkPanicThenCrash(await safariLike.run(panicThenCrash, { manifestUrl: `${site.cdn.url}trap.manifest.json`, build: 'threads', sha256: trap.model.sha256 }), 'threads');
  } finally {
    await safariLike.close();
  }
});
