// Which wasm build a browser runs: feature probes, the builds' URLs, the default thread count.

// Feature probes: the smallest modules using one instruction each; they validate only where
// the browser has that feature (the same modules as GoogleChromeLabs/wasm-feature-detect).
const PROBES = {
  // i8x16.popcnt
  simd: [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11],
  // i8x16.relaxed_swizzle
  relaxedSimd: [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15, 253, 128, 2, 11],
  // try ... catch_all (exception handling as first shipped: every build unwinds on a panic)
  exceptions: [0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 8, 1, 6, 0, 6, 64, 25, 11, 11],
  // a shared memory and i32.atomic.load
  threads: [0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0, 26, 11],
};
const supports = (feature) => WebAssembly.validate(new Uint8Array(PROBES[feature]));

/** The wasm builds, fastest first. Each URL is written out as `new URL('./literal',
 *  import.meta.url)`: bundlers (Vite, webpack, Parcel) recognise that form and emit the file as
 *  an asset, so an app that installs the package needs no copying step. The glue modules are
 *  self-contained (build.sh inlines the threads build's helper), as an asset must be. */
const BUILDS = {
  // Workers sharing the module's memory: needs SharedArrayBuffer, i.e. a cross-origin isolated
  // page (COOP + COEP headers, which webinfer's server sends).
  threads: () => ({ module: new URL('./pkg-threads/webinfer.js', import.meta.url), wasm: new URL('./pkg-threads/webinfer_bg.wasm', import.meta.url) }),
  // Fused multiply-add and dot products where the CPU has them (Chrome 114+).
  'relaxed-simd': () => ({ module: new URL('./pkg/webinfer_relaxed.js', import.meta.url), wasm: new URL('./pkg/webinfer_relaxed_bg.wasm', import.meta.url) }),
  simd128: () => ({ module: new URL('./pkg/webinfer.js', import.meta.url), wasm: new URL('./pkg/webinfer_bg.wasm', import.meta.url) }),
};

/** How many inference threads to start by default, given `navigator.hardwareConcurrency`
 *  (logical CPUs). The threads spin while an inference runs, so one per logical CPU would take
 *  the whole machine: SMT siblings share a core's SIMD units (little gain for matrix kernels), and
 *  the page's own main thread and other tabs need a core too. Half of them, at most 4, as
 *  onnxruntime-web does; but both of 2 (half would mean no threads at all, and 2 threads gave
 *  1.1-1.7x over one on the 2-CPU bench machine, bench/PERFORMANCE.md). Not measured on more CPUs. */
export function defaultThreads(logicalCpus) {
  const n = Number.isInteger(logicalCpus) && logicalCpus > 0 ? logicalCpus : 1;
  return n <= 2 ? n : Math.min(4, Math.ceil(n / 2));
}

/** Why this page cannot run each build, or null where it can. WebKit, for one, has no relaxed
 *  SIMD; every browser runs threads only on a cross-origin isolated page. */
function unavailable(threads) {
  return {
    threads: threads <= 1 ? 'one thread was asked for'
      : globalThis.crossOriginIsolated !== true ? 'the page is not cross-origin isolated (COOP and COEP headers)'
        // WebKitGTK makes an isolated page's shared wasm memory but cannot post it to a worker.
        : typeof SharedArrayBuffer !== 'function' ? 'this browser cannot share memory with workers (no SharedArrayBuffer)'
          : !supports('threads') ? 'this browser has no WebAssembly threads' : null,
    'relaxed-simd': supports('relaxedSimd') ? null : 'this browser has no relaxed SIMD',
    simd128: null,
  };
}

/** The wasm build this browser runs, or null when it lacks WebAssembly SIMD or exception
 *  handling (every build needs both): { name, threads, module, wasm, why }, the URLs absolute,
 *  `why` naming each faster build passed over and the reason (empty when the fastest runs).
 *  Options: `threads`, how many inference threads to allow (default:
 *  `defaultThreads(navigator.hardwareConcurrency)`; 1 keeps to one thread); `build`, a build name
 *  to use instead of the fastest supported one (e.g. 'simd128', whose results do not depend on
 *  the CPU). */
export function wasmBuild({ threads = defaultThreads(globalThis.navigator?.hardwareConcurrency), build } = {}) {
  if (!supports('simd') || !supports('exceptions')) return null;
  const missing = unavailable(threads);
  const name = build ?? Object.keys(BUILDS).find((b) => !missing[b]);
  if (!(name in BUILDS)) throw new Error(`unknown wasm build "${name}" (builds: ${Object.keys(BUILDS).join(', ')})`);
  if (missing[name]) throw new Error(`this page cannot run the wasm build "${name}": ${missing[name]}`);
  const order = Object.keys(BUILDS);
  const why = build ? 'asked for by name'
    : order.slice(0, order.indexOf(name)).map((b) => `not ${b}: ${missing[b]}`).join('; ');
  const { module, wasm } = BUILDS[name]();
  return { name, threads: name === 'threads' ? Math.min(threads, 16) : 1, module: module.href, wasm: wasm.href, why };
}

/** The error for a browser no build runs in. */
export const UNSUPPORTED = 'this browser lacks WebAssembly SIMD or exception handling, which webinfer needs (Chrome 95+, Firefox 100+, Safari 16.4+)';
