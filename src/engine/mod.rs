//! The platform-independent engine: the same code runs natively (tests, CLI) and in wasm.
//!
//! Data flows through explicit stages, as in tract itself:
//! bytes --[`digest`]--> verified bytes --[`Model::load`]--> [`Model`] --[`Model::plan`]--> [`Plan`]
//! --[`Plan::run`]--> outputs. [`image`] turns pictures into inputs as a manifest describes.

#[cfg(all(test, target_arch = "wasm32"))]
mod activation_kernel_test;
#[cfg(all(test, target_arch = "wasm32"))]
mod binary_kernel_test;
pub mod digest;
mod error;
mod float16;
mod fold;
mod guard;
pub mod image;
mod inspect;
#[cfg(all(test, target_arch = "wasm32"))]
mod matmul_kernel_test;
mod model;
pub(crate) mod optimizer;
mod plan;
mod specialize;
pub(crate) mod symbols;
mod tensor;

pub use error::{Error, PanicStage, Result};
pub use inspect::{inspect, Inspection, UnsupportedNode};
pub use model::{Dim, Model, Stage, TensorInfo, DEFAULT_MEMORY_LIMIT};
pub use plan::{OpTime, Plan};
pub use tensor::{DType, Tensor, TensorData};
