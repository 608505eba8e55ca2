// The classifier's build choice, without a browser: which wasm build a page gets and how many
// threads it starts. (The builds themselves are tested in real browsers: tests/e2e, tests/web.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultThreads, wasmBuild } from '../../www/classifier.js';

test('default threads: both of 2 CPUs, else half the logical CPUs, at most 4', () => {
  const got = Object.fromEntries([1, 2, 3, 4, 6, 8, 12, 16, 64].map((n) => [n, defaultThreads(n)]));
  assert.deepEqual(got, { 1: 1, 2: 2, 3: 2, 4: 2, 6: 3, 8: 4, 12: 4, 16: 4, 64: 4 });
  // navigator.hardwareConcurrency may be missing (or 0 where a browser hides it): one thread.
  for (const unknown of [undefined, null, 0, -2, 2.5, '8']) assert.equal(defaultThreads(unknown), 1, String(unknown));
});

test('the threads build only on a cross-origin isolated page and with more than one thread', () => {
  const isolated = globalThis.crossOriginIsolated;
  try {
    delete globalThis.crossOriginIsolated;
    assert.notEqual(wasmBuild({ threads: 4 }).name, 'threads');
    assert.throws(() => wasmBuild({ threads: 4, build: 'threads' }), /cannot run the wasm build "threads".*cross-origin isolated/);
    globalThis.crossOriginIsolated = true;
    const threads = wasmBuild({ threads: 4 });
    assert.equal(threads.name, 'threads');
    assert.equal(threads.threads, 4);
    assert.match(threads.wasm, /\/pkg-threads\/webinfer_bg\.wasm$/);
    assert.notEqual(wasmBuild({ threads: 1 }).name, 'threads');
    assert.equal(wasmBuild({ threads: 64 }).threads, 16, 'capped');
    const simd = wasmBuild({ threads: 4, build: 'simd128' });
    assert.deepEqual([simd.name, simd.threads], ['simd128', 1]);
    assert.match(simd.wasm, /\/pkg\/webinfer_bg\.wasm$/);
    assert.throws(() => wasmBuild({ build: 'webgpu' }), /unknown wasm build "webgpu"/);
  } finally {
    globalThis.crossOriginIsolated = isolated;
  }
});

test('no build for a browser without wasm exception handling: every build unwinds on a panic', () => {
  const validate = WebAssembly.validate;
  try {
    // Refuse only the exceptions probe: try (0x06) ... catch_all (0x19).
    WebAssembly.validate = (bytes) => !(bytes.length === 28 && bytes[23] === 6 && bytes[25] === 25) && validate(bytes);
    assert.equal(wasmBuild({ threads: 1 }), null);
  } finally {
    WebAssembly.validate = validate;
  }
  assert.ok(wasmBuild({ threads: 1 }), 'node has exception handling: a build is chosen');
});
