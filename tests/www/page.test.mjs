// The page-side choices, without a browser: which wasm build a page gets, how many
// threads it starts, and the Tensor spellings. (The builds themselves are tested in real browsers:
// tests/e2e, tests/web, tests/npm.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultThreads, wasmBuild } from '../../www/webinfer/builds.js';
import { Tensor } from '../../www/webinfer/session.js';

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

test('the build says which faster builds it passed over and why (WebKit: no relaxed SIMD)', () => {
  const validate = WebAssembly.validate;
  const isolated = globalThis.crossOriginIsolated;
  // Refuse only the relaxed-SIMD probe: i8x16.relaxed_swizzle (0xfd 0x80 0x02).
  const relaxed = (b) => b.length === 36 && b[31] === 253 && b[32] === 128 && b[33] === 2;
  try {
    WebAssembly.validate = (bytes) => !relaxed(bytes) && validate(bytes);
    delete globalThis.crossOriginIsolated;
    const plain = wasmBuild({ threads: 2 });
    assert.equal(plain.name, 'simd128');
    assert.equal(plain.why, 'not threads: the page is not cross-origin isolated (COOP and COEP headers); not relaxed-simd: this browser has no relaxed SIMD');
    assert.equal(wasmBuild({ threads: 1 }).why, 'not threads: one thread was asked for; not relaxed-simd: this browser has no relaxed SIMD');
    assert.throws(() => wasmBuild({ build: 'relaxed-simd' }), /cannot run the wasm build "relaxed-simd": this browser has no relaxed SIMD/);
    globalThis.crossOriginIsolated = true;
    assert.deepEqual([wasmBuild({ threads: 2 }).name, wasmBuild({ threads: 2 }).why], ['threads', '']);
    assert.equal(wasmBuild({ threads: 2, build: 'simd128' }).why, 'asked for by name');
    // Isolated, but no SharedArrayBuffer to post to the pool's workers (WebKitGTK).
    const sab = globalThis.SharedArrayBuffer;
    try {
      delete globalThis.SharedArrayBuffer;
      assert.equal(wasmBuild({ threads: 2 }).why, 'not threads: this browser cannot share memory with workers (no SharedArrayBuffer); not relaxed-simd: this browser has no relaxed SIMD');
    } finally {
      globalThis.SharedArrayBuffer = sab;
    }
  } finally {
    WebAssembly.validate = validate;
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

test('Tensor: onnxruntime-web\'s two spellings; the type read off the data; plain arrays converted', () => {
  const t = new Tensor('float32', new Float32Array(6), [2, 3]);
  assert.deepEqual([t.type, t.dims, t.size], ['float32', [2, 3], 6]);
  assert.equal(new Tensor(new BigInt64Array(4), [4]).type, 'int64');
  assert.equal(new Tensor(new Uint8Array(3)).type, 'uint8');
  assert.deepEqual(new Tensor(new Uint8Array(3)).dims, [3], 'dims default to the data length');
  assert.equal(new Tensor('bool', new Uint8Array(2), [2]).type, 'bool', 'an explicit type wins');
  assert.equal(new Tensor(['a', 'b'], [2]).type, 'string');
  assert.throws(() => new Tensor({ length: 2 }, [2]), /typed array or an array/);
  // Plain arrays, as onnxruntime-web takes them: converted to the type's typed array.
  const numbers = new Tensor([1, 2, 3], [3]);
  assert.deepEqual([numbers.type, numbers.data], ['float32', new Float32Array([1, 2, 3])]);
  assert.deepEqual(new Tensor('int64', [1, 2], [2]).data, new BigInt64Array([1n, 2n]));
  assert.deepEqual(new Tensor('uint8', [255, 7]).data, new Uint8Array([255, 7]));
  const flags = new Tensor([true, false]);
  assert.deepEqual([flags.type, flags.data], ['bool', new Uint8Array([1, 0])]);
  assert.deepEqual(new Tensor(['x', 'y']).data, ['x', 'y']);
  assert.throws(() => new Tensor('float16', [1]), /float16 tensor from a plain array/);
});
