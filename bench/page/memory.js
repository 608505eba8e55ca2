// Wasm memory per engine: every WebAssembly.Memory created (onnxruntime-web's threaded build
// makes its shared memory this way) or exported by an instance (webinfer's, and ORT's unthreaded
// build) is recorded under the engine being set up at that moment (window.__engine).
(() => {
  const memories = (window.__memories = []);
  const record = (memory) => {
    if (!memories.some((m) => m.memory === memory)) memories.push({ engine: window.__engine ?? 'unknown', memory });
  };
  const fromInstance = (result) => {
    const instance = result.instance ?? result;
    for (const value of Object.values(instance.exports ?? {})) if (value instanceof WebAssembly.Memory) record(value);
    return result;
  };
  const OriginalMemory = WebAssembly.Memory;
  WebAssembly.Memory = function Memory(descriptor) {
    const memory = new OriginalMemory(descriptor);
    record(memory);
    return memory;
  };
  WebAssembly.Memory.prototype = OriginalMemory.prototype;
  for (const name of ['instantiate', 'instantiateStreaming']) {
    const original = WebAssembly[name];
    WebAssembly[name] = (...args) => original.apply(WebAssembly, args).then(fromInstance);
  }
  const OriginalInstance = WebAssembly.Instance;
  WebAssembly.Instance = function Instance(module, imports) {
    return fromInstance(new OriginalInstance(module, imports));
  };
  WebAssembly.Instance.prototype = OriginalInstance.prototype;
  window.__wasmMemoryBytes = (engine) =>
    memories.filter((m) => m.engine === engine).reduce((sum, m) => sum + m.memory.buffer.byteLength, 0);
})();
