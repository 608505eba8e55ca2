// webinfer for web pages: ONNX models in the browser, inference off the main thread.
//
//   InferenceSession  any model, in a worker (session.js)
//   Tensor            a feed, as onnxruntime-web spells it
//   Classifier        an image classifier from a model manifest (classifier.js)
//   wasmBuild         which wasm build this browser runs (builds.js)
//
// The synchronous Session, for code that is already in a worker, is 'webinfer/wasm'.
export { InferenceSession, Tensor } from './session.js';
export { Classifier } from './classifier.js';
export { defaultThreads, wasmBuild } from './builds.js';
