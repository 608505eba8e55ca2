// What both webinfer pages (bench.js on the main thread, threads-worker.js) pass to Session.create.

/** The digest, and for a model with dynamic dims the size it is benchmarked at, so that webinfer
 *  plans at create as onnxruntime-web does (without it, planning moves into the first run). */
export function createOptions(model) {
  return model.inputShapes ? { sha256: model.sha256, inputShapes: model.inputShapes } : { sha256: model.sha256 };
}
