//! webinfer: run ONNX models in the browser.
//!
//! [`engine`] is plain Rust over tract-onnx and runs anywhere (native tests and tools use it);
//! `web` (wasm32 only) wraps it for JavaScript: streaming download, sha256 check, Cache API, and
//! an onnxruntime-web-like `Session`.

// The threaded build (nightly only) reports allocation failures on pool threads (web/threads.rs).
#![cfg_attr(all(target_arch = "wasm32", feature = "threads"), feature(alloc_error_hook))]

pub mod engine;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use engine::{
    inspect, DType, Dim, Error, Inspection, Model, OpTime, Plan, Result, Stage, Tensor, TensorData, TensorInfo,
};
