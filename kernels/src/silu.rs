//! SiLU (`x * sigmoid(x)`, YOLO's and EfficientNet's activation), registered with tract-linalg's
//! routine registry above tract's own wasm kernel, in both SIMD builds.
//!
//! Why: tract fuses `x * Sigmoid(x)` into its `Silu` op, whose wasm kernel evaluates a rational
//! approximation of the sigmoid (Horner's rule on a degree-13 and a degree-6 polynomial) and
//! clamps twice with `f32x4.min`/`f32x4.max`. On x86-64, V8 emulates those IEEE min and max with
//! about six instructions each, and the kernel ends up costing three times its arithmetic
//! (YOLOv8 at 320x320 in Chromium: 3.3 of 17 ms in 65 nodes). This kernel clamps with the
//! pseudo-min and -max, one instruction each, and in the relaxed-simd build fuses each Horner
//! step into one multiply-add. Same coefficients, clamps and order as tract's kernel: in the
//! simd128 build the values are tract's bit for bit; in the relaxed-simd one each fused step
//! rounds once instead of twice.

use core::arch::wasm32::*;

use crate::rational::{each_vector, register, Fit, Splat, SIGMOID};

/// tract's wasm SiLU fit: its sigmoid's, clamped wider (outside +-18.6 the sigmoid is 0 or 1
/// in f32).
const SIGMOID_WIDE: Fit = Fit { low: -18.6, high: 18.6, ..SIGMOID };

/// SiLU of every value, in place. The constants are made once per call: left as `v128.const`
/// inside the loop, YOLOv8's 65 `Silu` nodes took 0.95-1.02 ms per run in Chromium, 0.89 ms
/// with them hoisted.
fn silu(values: &mut [f32]) {
    let fit = Splat::new(&SIGMOID_WIDE);
    let [half, one, zero] = std::hint::black_box([0.5f32, 1.0, 0.0]).map(|v| f32x4_splat(v));
    each_vector(values, |v| {
        // Pseudo-min and -max (`b < a ? b : a`) are one instruction each on x86-64, where the
        // IEEE min and max V8 must emulate are about six (with relaxed SIMD, LLVM makes them
        // `relaxed_min`/`max`, one instruction too). They differ only for NaN, which the final
        // product with `v` carries through anyway, and they order zeros like tract's kernel.
        let x = f32x4_pmin(fit.high, f32x4_pmax(fit.low, v));
        // The quotient overshoots past -0.5 on the far negative tail, which would flip the
        // product's sign: the sigmoid is clamped to [0, 1], as tract's kernel does.
        let sigmoid = f32x4_add(fit.odd(x), half);
        let sigmoid = f32x4_pmin(one, f32x4_pmax(zero, sigmoid));
        f32x4_mul(v, sigmoid)
    })
}

register!(WebinferSilu, Silu, "webinfer_silu_simd128_f32", "webinfer_silu_relaxed_f32", silu);

/// Keeps this module in the link (see `f32_8x8::keep`).
pub fn keep() {
    std::hint::black_box(WebinferSilu::make as fn() -> _);
}
