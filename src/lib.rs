//! webinfer: run ONNX models in the browser.
//!
//! [`engine`] is plain Rust over tract-onnx and runs anywhere (native tests and tools use it);
//! `ops` holds the ONNX operators webinfer adds to tract-onnx's (one file each);
//! `web` (wasm32 only) wraps it for JavaScript: streaming download, sha256 check, Cache API, and
//! an onnxruntime-web-like `Session`.

// Every wasm build is nightly (build.sh: std rebuilt to unwind); an allocation failure, which
// aborts rather than unwinds, is reported before the trap (web/mod.rs).
#![cfg_attr(target_arch = "wasm32", feature(alloc_error_hook))]

pub mod engine;
mod ops;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use engine::{
    inspect, DType, Dim, Error, Inspection, Model, OpTime, PanicStage, Plan, Result, Stage, Tensor, TensorData,
    TensorInfo,
};
