// Where a wasm build's download goes: its function bodies grouped by Rust crate, from the name
// section of the unstripped module cargo leaves in the target directory (the shipped file is
// stripped). A function counts for the crate its code was written in: the first crate its v0-
// mangled name mentions, which for a trait impl is the impl's, not the trait's
// (`<webinfer::DepthwiseConv as tract_core::EvalOp>::eval` is webinfer's). Generic code of the
// standard library counts for the first other crate named in its type arguments
// (`drop_glue::<tract_nnef::ast::Document>` is tract-nnef's): that is the code the crate brings.
// Other crates' generics stay with them (rayon's jobs running webinfer's closures are rayon's).
// The "brotli alone" figure compresses each crate's bodies by themselves: a rough share of the
// compressed file, and the figures do not add up to it.
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';

const STD = new Set(['std', 'core', 'alloc', 'panic_abort', 'compiler_builtins', 'dlmalloc', 'hashbrown', 'std_detect', 'rustc_demangle', 'addr2line', 'gimli', 'miniz_oxide', 'object', 'memchr']);

/** `{ bytes, bodies: [[offset, size]], names: Map(function index -> name), imports, data }` of a
 * wasm module: function indices count imported functions first, then the bodies. */
export function parseModule(b) {
  if (b.readUInt32LE(0) !== 0x6d736100) throw new Error('not a wasm module');
  let i = 8;
  const leb = () => { let r = 0, s = 0, x; do { x = b[i++]; r += (x & 0x7f) * 2 ** s; s += 7; } while (x & 0x80); return r; };
  const skipLimits = () => { const flags = b[i++]; leb(); if (flags & 1) leb(); };
  let imports = 0, data = null;
  const bodies = [], names = new Map();
  while (i < b.length) {
    const id = b[i++], size = leb(), end = i + size;
    if (id === 2) {
      for (let count = leb(), k = 0; k < count; k++) {
        for (let t = 0; t < 2; t++) { const n = leb(); i += n; } // module and field names (`i += leb()` would drop the length's bytes)
        const kind = b[i++];
        if (kind === 0) { leb(); imports++; } // function
        else if (kind === 1) { i++; skipLimits(); } // table
        else if (kind === 2) skipLimits(); // memory
        else if (kind === 3) i += 2; // global
        else if (kind === 4) { i++; leb(); } // tag
      }
    } else if (id === 10) {
      for (let count = leb(), k = 0; k < count; k++) { const n = leb(); bodies.push([i, n]); i += n; }
    } else if (id === 11) {
      data = b.subarray(i, end);
    } else if (id === 0) {
      const n = leb(), section = b.subarray(i, i + n).toString(); i += n;
      while (section === 'name' && i < end) {
        const sub = b[i++], len = leb(), subEnd = i + len;
        if (sub === 1) for (let count = leb(), k = 0; k < count; k++) { const index = leb(), l = leb(); names.set(index, b.subarray(i, i + l).toString()); i += l; }
        i = subEnd;
      }
    }
    i = end;
  }
  // A wrong count of imports would shift every name onto another function.
  const functions = imports + bodies.length;
  for (const index of names.keys()) if (index >= functions) throw new Error(`function name ${index} is past the module's ${functions} functions`);
  return { bytes: b, bodies, names, imports, data };
}

export const readModule = (file) => parseModule(readFileSync(file));

/** Whether two modules hold the same data section: how the unstripped module cargo wrote is
 * matched with the shipped file wasm-bindgen made from it (their code differs: glue). */
export function sameData(a, b) {
  return a.data != null && b.data != null && a.data.equals(b.data);
}

/** The crate a v0-mangled name is counted for (see the header). */
export function owner(name) {
  // A crate root is `C`, rustc's disambiguator `s<base62>_`, then the length-prefixed name; a
  // crate named again later is a back-reference, so each one's first mention is spelled out.
  const crates = [...name.matchAll(/Cs[0-9A-Za-z]*_(\d+)([A-Za-z_])/g)]
    .map((m) => { const at = m.index + m[0].length - 1; return name.substr(at, Number(m[1])); });
  if (crates.length === 0) return name.startsWith('__wbindgen') || name.startsWith('__wbg') ? 'wasm-bindgen glue' : '(unnamed)';
  return crates.find((c) => !STD.has(c)) ?? crates[0];
}

/** Code bytes by crate of a parsed module: `{ total, crates: [{ crate, raw, brotli, functions }]
 * }`, the largest compressed first (what the download pays for). */
export function codeByCrate({ bytes: b, bodies, names, imports }) {
  if (names.size === 0) throw new Error('the module has no name section');
  const groups = new Map();
  bodies.forEach(([offset, size], k) => {
    const crate = owner(names.get(imports + k) ?? '').replaceAll('_', '-');
    const g = groups.get(crate) ?? { crate, raw: 0, functions: 0, parts: [] };
    g.raw += size; g.functions += 1; g.parts.push(b.subarray(offset, offset + size));
    groups.set(crate, g);
  });
  const total = bodies.reduce((a, [, size]) => a + size, 0);
  const crates = [...groups.values()].map(({ parts, ...g }) => ({
    ...g,
    brotli: zlib.brotliCompressSync(Buffer.concat(parts), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_LGWIN]: 24 } }).length,
  })).sort((x, y) => y.brotli - x.brotli);
  return { total, crates };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const t0 = Date.now();
  const { total, crates } = codeByCrate(readModule(process.argv[2]));
  for (const c of crates.slice(0, 25)) console.log(c.crate.padEnd(24), String(c.raw).padStart(9), (100 * c.raw / total).toFixed(1).padStart(5) + '%', String(c.brotli).padStart(8), c.functions);
  console.log('total', total, 'brotli sum', crates.reduce((a, c) => a + c.brotli, 0), Date.now() - t0, 'ms');
}
