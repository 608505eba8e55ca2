// Type-checked against the installed package's declarations (`tsc --noEmit`, tests/npm): what
// a TypeScript app writes must compile with strict settings, and misuse must not.
import { Classifier, InferenceSession, Tensor, wasmBuild, type InferenceSessionOptions, type WasmBuild } from 'webinfer';
import init, { Session, type Outputs } from 'webinfer/wasm';

export async function anyModel(pixels: Float32Array): Promise<number[]> {
  const options: InferenceSessionOptions = { sha256: 'ab'.repeat(32), threads: 1, build: 'simd128', onProgress: (loaded, total) => console.log(loaded, total) };
  const session = await InferenceSession.create(new URL('/models/net.onnx', location.href), options);
  const feeds = { input: new Tensor('float32', pixels, [1, 3, 224, 224]), ids: new Tensor(new BigInt64Array([1n]), [1]) };
  const outputs: Record<string, Tensor> = await session.run(feeds, { transfer: true });
  const build: WasmBuild = session.build;
  console.log(build.name, session.loadInfo.compileMs, session.loadInfo.planning, session.inputs[0]?.dims, session.buildFallback);
  const profile = await session.profile(feeds, 5);
  session.release();
  // @ts-expect-error: a wasm build that does not exist
  await InferenceSession.create(new Uint8Array(8), { build: 'webgpu' });
  return [outputs.logits.size, profile[0].ms, wasmBuild()?.threads ?? 0];
}

export async function classifier(image: HTMLImageElement): Promise<string> {
  const c = await Classifier.load('/api/model', { onProgress: (loaded, total) => console.log(loaded, total ?? 0) });
  const [best] = await c.classify(image, { topK: 3 });
  console.log(c.info.timings.manifestMs, c.info.quantization, c.lastTimings?.runMs);
  c.dispose();
  return `${best.label} ${best.probability} ${best.index}`;
}

export async function inWorker(): Promise<Outputs> {
  await init();
  const session = await Session.create(new Uint8Array(8), { inputShapes: { x: [1, 8] } });
  return session.run({ x: { data: new Float32Array(8), dims: [1, 8] } });
}
