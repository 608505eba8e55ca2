//! Compute kernels webinfer gives tract in wasm, in a crate of their own so that they are built
//! at opt-level 3 like tract-linalg's (the root Cargo.toml), while the rest of webinfer is built
//! for size: at opt-level "s" the same f32 kernel was slower than tract's (bench/PERFORMANCE.md,
//! section 11). Nothing here is generic over tract's graph types, so the crate adds little code.
//!
//! - `f32_8x8`: the f32 matrix-product tile;
//! - `binary`: broadcast `Add`/`Mul`/`Sub`, by scalar and same-length;
//! - `gated`: self-gated activations (hard-swish), for webinfer's own op;
//! - `silu`: tract's `Silu`, clamped in one instruction (and with fused multiply-adds in the
//!   relaxed-simd build);
//! - `rational`: `Sigmoid` and `Tanh` the same way, on the rational fit `silu` shares.
//!
//! On other targets the crate holds `gated` alone, as plain loops: tract's native kernels are
//! used there.

// Each registration is a constructor nothing calls by name: `#[used(linker)]` tells wasm-ld to
// keep it. Plain `#[used]` did not: a stripped LTO build dropped rational.rs's after an unrelated
// change elsewhere (build.sh's check_kernels_linked now looks). Nightly, which every wasm build
// uses already (build-std).
#![cfg_attr(all(target_arch = "wasm32", target_feature = "simd128"), feature(used_with_arg))]

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod binary;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod f32_8x8;
pub mod gated;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod rational;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod silu;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub use f32_8x8::NAME;

/// Keeps every kernel module in the link: wasm-ld drops an object file nothing references, and
/// the registrations in it with it. webinfer calls this before planning.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub fn keep() {
    binary::keep();
    f32_8x8::keep();
    rational::keep();
    silu::keep();
}
