//! TypeScript declarations for the values the API takes and returns, so the generated `.d.ts`
//! says more than `any`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Element types, spelled as in onnxruntime-web. */
export type TensorType = 'float32' | 'float16' | 'float64' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32'
  | 'uint32' | 'int64' | 'uint64' | 'bool' | 'string';
/** float16 travels as its bit patterns in a Uint16Array (outputs too), as in onnxruntime-web;
 *  a Float16Array is accepted as a feed where the browser has one. Strings are a string[]. */
export type TensorData = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array | string[];

/** A feed: typed data plus dims (default: [data.length]). An onnxruntime-web `Tensor` fits too.
 *  `type` is needed only for 'bool' (data as Uint8Array), 'float16' (Uint16Array) and 'string';
 *  otherwise it is read off the array. */
export interface TensorLike { data: TensorData; dims?: readonly number[]; type?: TensorType; }
export interface OutputTensor { type: TensorType; dims: number[]; data: TensorData; }
export type Feeds = Record<string, TensorLike>;
export type Outputs = Record<string, OutputTensor>;

/** An input or output as the model declares it: dims are numbers, or names for dynamic dims
 *  ('batch'), or null when unknown; `dims` is null when even the rank is unknown. */
export interface ValueInfo { name: string; type: string | null; dims: (number | string | null)[] | null; }

export type ModelSource = string | URL | ArrayBuffer | Uint8Array;

export interface SessionOptions {
  /** Expected sha256 of the model (hex; 'sha256:' prefix allowed). Checked before parsing. */
  sha256?: string;
  /** Keep verified bytes in the Cache API, keyed by sha256 (default: true when sha256 is set). */
  cache?: boolean;
  /** Called as bytes arrive: loaded so far, and the total when the server sent Content-Length. */
  onProgress?: (loaded: number, total: number | undefined) => void;
  /** Concrete shapes for inputs with dynamic dims, fixed before planning. */
  inputShapes?: Record<string, number[]>;
  /** A download attempt fails after this long without data (waiting for the response or the
   *  next chunk). Default 30000. */
  timeoutMs?: number;
  /** Extra attempts after a transient failure (network error, stall, cut body, HTTP 408/429/5xx),
   *  after 250 ms, 500 ms, ... Default 2; 4xx errors and digest mismatches are never retried. */
  retries?: number;
  /** Refuse, with an Error, a model whose file, weights and intermediate tensors need more than
   *  this many MB, before allocating them (default 2048; wasm32 addresses at most 4096). */
  memoryLimitMB?: number;
}

/** Pixels: an `ImageData`, or any `{ data, width, height }` with RGBA or RGB bytes. */
export interface ImagePixels { data: Uint8ClampedArray | Uint8Array; width: number; height: number; }

/** A manifest's `preprocess` block. `mean`/`std` are per tensor channel, in the tensor's order. */
export interface PreprocessSpec {
  resize: number; crop: number; mean: [number, number, number]; std: [number, number, number];
  layout: 'NCHW' | 'NHWC'; channels: 'RGB' | 'BGR'; interpolation: 'bilinear';
}

export interface RankedClass { index: number; probability: number; }

/** Where the model came from and what each loading step cost, in milliseconds. */
export interface LoadInfo {
  source: 'network' | 'cache' | 'bytes';
  bytes: number;
  sha256: string;
  fetchMs: number;
  /** Taking the sha256 and checking it against `options.sha256`. */
  verifyMs: number;
  /** What took the digest: the browser's SubtleCrypto, or sha2 in wasm where the page has no
   *  `crypto.subtle` (not a secure context: https or localhost). */
  digestWith: 'SubtleCrypto' | 'wasm';
  parseMs: number;
  planMs: number;
  /** planMs split by stage: typed, declutter, optimize, schedule. */
  planStagesMs: { typed: number; declutter: number; optimize: number; schedule: number };
  /** 'ahead': planned once, here. 'per-shape': tract could not plan the dynamic dims as symbols,
   *  so each new set of input shapes is planned at its first run (a few plans are kept), as
   *  onnxruntime-web specialises per shape; pin `inputShapes` to plan ahead instead.
   *  'per-value': an input sets a shape, axes or scales, and is baked in per value. */
  planning: 'ahead' | 'per-shape' | 'per-value';
}

/** Time per run in one kind of operator, from `Session.profile`. */
export interface OpTime {
  op: string;
  nodes: number;
  ms: number;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "ModelSource")]
    pub type ModelSource;
    #[wasm_bindgen(typescript_type = "SessionOptions")]
    pub type SessionOptions;
    #[wasm_bindgen(typescript_type = "Feeds")]
    pub type Feeds;
    #[wasm_bindgen(typescript_type = "Outputs")]
    pub type Outputs;
    #[wasm_bindgen(typescript_type = "ValueInfo[]")]
    pub type ValueInfos;
    #[wasm_bindgen(typescript_type = "string[]")]
    pub type Names;
    #[wasm_bindgen(typescript_type = "LoadInfo")]
    pub type LoadInfo;

    #[wasm_bindgen(typescript_type = "OpTime[]")]
    pub type OpTimes;
    #[wasm_bindgen(typescript_type = "ImagePixels")]
    pub type ImagePixels;
    #[wasm_bindgen(typescript_type = "PreprocessSpec")]
    pub type PreprocessSpec;
    #[wasm_bindgen(typescript_type = "RankedClass[]")]
    pub type Ranked;
    #[wasm_bindgen(typescript_type = "OutputTensor")]
    pub type TensorLike;
}
