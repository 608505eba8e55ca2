//! In wasm, tract's `Silu` (what it makes of `x * Sigmoid(x)`) runs on webinfer-kernels' SiLU
//! kernel, chosen over tract's own, and gives tract's kernel's values bit for bit in the simd128
//! build, within the approximation's error of SiLU written out in f64 in both builds.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::{math, nn};
use tract_onnx::tract_core::tract_linalg::element_wise::ElementWiseKer;
use tract_onnx::tract_core::tract_linalg::routines::Func;
use tract_onnx::tract_core::tract_linalg::wasm::WasmSilu4;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// Values across the approximation's range and past its clamps (+-18.6), with every edge:
/// NaN, infinities, signed zeros, tiny and huge.
fn values(len: usize) -> Vec<f32> {
    const EDGES: [f32; 11] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 0.0, 1e-38, -3e38, 18.6, -18.6, 18.7, -25.0];
    (0..len)
        .map(|i| match (i * 31) % 89 {
            e if e < EDGES.len() => EDGES[e],
            _ => ((i * 7919) % 4001) as f32 / 100.0 - 20.0,
        })
        .collect()
}

/// SiLU of every value, through the model tract builds from `x * Sigmoid(x)`.
fn through_tract(x: &[f32]) -> (Vec<f32>, Vec<String>) {
    let mut model = TypedModel::default();
    let input = model.add_source("x", f32::fact([x.len()])).unwrap();
    let sigmoid = model.wire_node("sigmoid", nn::sigmoid(), &[input]).unwrap();
    let y = model.wire_node("mul", math::mul(), &[input, sigmoid[0]]).unwrap();
    model.select_output_outlets(&y).unwrap();
    let model = model.into_optimized().unwrap();
    let ops = model.nodes().iter().map(|n| n.op().name().to_string()).collect();
    let out = model.into_runnable().unwrap().run(tvec!(Tensor::from_shape(&[x.len()], x).unwrap().into_tvalue())).unwrap();
    (out[0].try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec(), ops)
}

#[wasm_bindgen_test::wasm_bindgen_test]
fn silu_runs_on_webinfers_kernel_and_matches_tracts() {
    webinfer_kernels::keep();
    // The suites run the simd128 build; the relaxed-simd one (fused steps, so not tract's bits)
    // passes the same test but for the bit comparison.
    let relaxed = cfg!(target_feature = "relaxed-simd");
    let name = if relaxed { "webinfer_silu_relaxed_f32" } else { "webinfer_silu_simd128_f32" };
    assert_eq!(Func::Silu.ew_f32().unwrap().name(), name);
    // Lengths that leave every tail (tract pads it), one vector, and a long run.
    for len in [1, 3, 4, 5, 17, 89, 1031] {
        let x = values(len);
        let (got, ops) = through_tract(&x);
        assert!(ops.iter().any(|op| op == "Silu"), "{len}: {ops:?}");
        let mut theirs = x.clone();
        WasmSilu4::ew().run(&mut theirs).unwrap();
        for (i, ((&x, &got), &theirs)) in x.iter().zip(&got).zip(&theirs).enumerate() {
            if !relaxed {
                assert_eq!(got.to_bits(), theirs.to_bits(), "{len} [{i}] silu({x}): {got} vs tract's {theirs}");
            }
            if x.is_nan() {
                assert!(got.is_nan(), "silu(NaN) = {got}");
            } else if x.is_finite() && x.abs() < 1e30 {
                // The rational sigmoid is good to about 1.5e-6 absolute (tract's approximation):
                // times x in SiLU.
                let want = x as f64 / (1.0 + (-(x as f64)).exp());
                assert!((got as f64 - want).abs() <= 2e-6 * (1.0 + x.abs() as f64), "{len} [{i}] silu({x}): {got} vs {want}");
            }
        }
    }
}
