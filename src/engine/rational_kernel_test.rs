//! In wasm, tract's `Sigmoid` and `Tanh` run on webinfer-kernels' kernels, chosen over tract's
//! own, and give the values of tract's portable kernel bit for bit in the simd128 build, within
//! the fit's error of the functions written out in f64 in both builds, NaN kept.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::{math, nn};
use tract_onnx::tract_core::tract_linalg::generic::{sigmoid::ssigmoid, tanh::stanh};
use tract_onnx::tract_core::tract_linalg::routines::Func;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// Values across both fits' ranges and past their clamps (+-7.5, +-14.5), with every edge.
fn values(len: usize) -> Vec<f32> {
    const EDGES: [f32; 13] =
        [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 0.0, 1e-38, -3e38, 7.5, -7.5, 14.5, -14.5, 14.6, -25.0];
    (0..len)
        .map(|i| match (i * 31) % 89 {
            e if e < EDGES.len() => EDGES[e],
            _ => ((i * 7919) % 4001) as f32 / 100.0 - 20.0,
        })
        .collect()
}

/// `op` of every value, through the model tract optimizes; and the ops it ran.
fn through_tract(op: impl Into<Box<dyn TypedOp>>, x: &[f32]) -> (Vec<f32>, Vec<String>) {
    let mut model = TypedModel::default();
    let input = model.add_source("x", f32::fact([x.len()])).unwrap();
    let y = model.wire_node("y", op, &[input]).unwrap();
    model.select_output_outlets(&y).unwrap();
    let model = model.into_optimized().unwrap();
    let ops = model.nodes().iter().map(|n| n.op().name().to_string()).collect();
    let out = model.into_runnable().unwrap().run(tvec!(Tensor::from_shape(&[x.len()], x).unwrap().into_tvalue())).unwrap();
    (out[0].try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec(), ops)
}

/// Checks one function: kernel name, tract's bits (simd128), f64 within `tolerance`, NaN kept.
fn check<O: Into<Box<dyn TypedOp>>>(func: Func, op: impl Fn() -> O, tracts: fn(f32) -> f32, exact: fn(f64) -> f64, tolerance: f64) {
    let relaxed = cfg!(target_feature = "relaxed-simd");
    let kernel = func.ew_f32().unwrap().name().to_string();
    assert_eq!(kernel, format!("webinfer_{func:?}_{}_f32", if relaxed { "relaxed" } else { "simd128" }).to_lowercase());
    // Lengths that leave every tail (tract pads it), one vector, and a long run.
    for len in [1, 3, 4, 5, 17, 89, 1031] {
        let x = values(len);
        let (got, ops) = through_tract(op(), &x);
        assert!(ops.len() <= 2, "{func:?} {len}: {ops:?}");
        for (i, (&x, &got)) in x.iter().zip(&got).enumerate() {
            let theirs = tracts(x);
            if !relaxed {
                assert_eq!(got.to_bits(), theirs.to_bits(), "{func:?} {len} [{i}] at {x}: {got} vs tract's {theirs}");
            }
            if x.is_nan() {
                assert!(got.is_nan(), "{func:?}(NaN) = {got}");
            } else {
                let want = exact(x as f64);
                assert!((got as f64 - want).abs() <= tolerance, "{func:?} {len} [{i}] at {x}: {got} vs {want}");
            }
        }
    }
}

#[wasm_bindgen_test::wasm_bindgen_test]
fn sigmoid_and_tanh_run_on_webinfers_kernels() {
    webinfer_kernels::keep();
    // tract's fits: the sigmoid good to ~1.5e-6 and saturating at 4.8e-7 from 0 and 1 (its
    // clamp), tanh to ~2e-6.
    check(Func::Sigmoid, nn::sigmoid, ssigmoid, |x| 1.0 / (1.0 + (-x).exp()), 2e-6);
    check(Func::Tanh, math::tanh, stanh, f64::tanh, 3e-6);
}
