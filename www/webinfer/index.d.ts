// Types of webinfer's page-side API (index.js). The element types, feeds, outputs and options
// are the wasm module's own (pkg/webinfer.d.ts, generated from the Rust side).
import type { Feeds, LoadInfo, OpTime, SessionOptions, TensorData, TensorType, ValueInfo } from './pkg/webinfer.js';

export type { Feeds, LoadInfo, OpTime, Outputs, PreprocessSpec, SessionOptions, TensorData, TensorLike, TensorType, ValueInfo } from './pkg/webinfer.js';

/** A wasm build: 'threads' (cross-origin isolated pages), 'relaxed-simd' or 'simd128'. */
export type BuildName = 'threads' | 'relaxed-simd' | 'simd128';
export interface WasmBuild {
    name: BuildName; threads: number; module: string; wasm: string;
    /** The faster builds passed over and why ("not relaxed-simd: this browser has no relaxed SIMD"); empty when the fastest runs. */
    why: string;
}
export interface BuildOptions {
    /** How many inference threads to allow (default `defaultThreads(navigator.hardwareConcurrency)`; 1 for one). */
    threads?: number;
    /** A build by name instead of the fastest this browser supports (no fallback then). */
    build?: BuildName;
}

/** The build this browser runs, or null when it lacks WebAssembly SIMD or exception handling. */
export function wasmBuild(options?: BuildOptions): WasmBuild | null;
/** Inference threads started by default for a number of logical CPUs. */
export function defaultThreads(logicalCpus?: number): number;

/** A tensor as onnxruntime-web spells it. */
export class Tensor {
    constructor(type: TensorType, data: TensorData, dims?: readonly number[]);
    constructor(data: TensorData, dims?: readonly number[]);
    readonly type: TensorType;
    readonly data: TensorData;
    readonly dims: number[];
    /** The number of elements. */
    readonly size: number;
}

export interface InferenceSessionOptions extends SessionOptions, BuildOptions {}
/** Where the model came from and what each step cost, plus the wasm's start-up. */
export interface SessionLoadInfo extends LoadInfo { compileMs: number; }

/** Any ONNX model, run in a worker of its own. */
export class InferenceSession {
    private constructor();
    /** Loads (URL: streamed, verified against `sha256`, cached by digest; or the bytes) and plans
     *  a model in a new worker. Rejects with an Error saying what failed. */
    static create(source: string | URL | ArrayBuffer | Uint8Array, options?: InferenceSessionOptions): Promise<InferenceSession>;
    /** Runs the model. `transfer: true` moves the feeds' buffers to the worker (they are detached). */
    run(feeds: Feeds | Record<string, Tensor>, options?: { transfer?: boolean }): Promise<Record<string, Tensor>>;
    /** Runs `runs` times; ms per run per kind of operator, slowest first. */
    profile(feeds: Feeds | Record<string, Tensor>, runs?: number): Promise<OpTime[]>;
    /** Frees the model and stops the worker; pending calls reject. */
    release(): void;
    readonly build: WasmBuild;
    /** Why the threads build, the automatic choice, could not start (null when it did or was not chosen). */
    readonly buildFallback: string | null;
    readonly inputNames: string[];
    readonly outputNames: string[];
    readonly inputs: ValueInfo[];
    readonly outputs: ValueInfo[];
    readonly loadInfo: SessionLoadInfo;
}

export interface ClassifierOptions extends BuildOptions {
    /** Download progress: bytes so far and the total (from the manifest when the server sends none). */
    onProgress?: (loaded: number, total: number | null) => void;
}
export interface RankedLabel { index: number; label: string; probability: number; }
export type ClassifierImage = HTMLImageElement | HTMLCanvasElement | HTMLVideoElement | ImageBitmap | ImageData | Blob | OffscreenCanvas;

/** An image classifier described by a webinfer model manifest (tools/models/publish.py). */
export class Classifier {
    private constructor();
    static load(manifestUrl: string | URL, options?: ClassifierOptions): Promise<Classifier>;
    /** The `topK` (default 5) most probable classes, best first. */
    classify(image: ClassifierImage, options?: { topK?: number }): Promise<RankedLabel[]>;
    /** Stops the worker; pending calls reject. */
    dispose(): void;
    readonly build: WasmBuild;
    readonly info: {
        name: string; classes: number; quantization: string | null; build: WasmBuild; buildFallback?: string;
        timings: SessionLoadInfo & { manifestMs: number };
    };
    /** The last `classify`'s preprocessing and inference time (ms). */
    readonly lastTimings?: { preprocessMs: number; runMs: number };
}
