//! In wasm, tract's `Silu` (what it makes of `x * Sigmoid(x)`), `Sigmoid` and `Tanh` run on
//! webinfer-kernels' kernels, chosen over tract's own. In the simd128 build they give tract's
//! values bit for bit (its `WasmSilu4`; its portable sigmoid and tanh); in both builds they are
//! within the fits' error of the functions written out in f64, NaN kept.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::{math, nn};
use tract_onnx::tract_core::tract_linalg::element_wise::ElementWiseKer;
use tract_onnx::tract_core::tract_linalg::generic::{sigmoid::ssigmoid, tanh::stanh};
use tract_onnx::tract_core::tract_linalg::routines::Func;
use tract_onnx::tract_core::tract_linalg::wasm::WasmSilu4;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// The suites run the simd128 build; the relaxed-simd one (fused steps, so not tract's bits)
/// passes the same tests but for the bit comparisons.
const RELAXED: bool = cfg!(target_feature = "relaxed-simd");

/// Lengths that leave every tail (tract pads it), one vector, and a long run.
const LENGTHS: [usize; 7] = [1, 3, 4, 5, 17, 89, 1031];

/// Values across (-20, 20), with `edges` spread among them.
fn values(len: usize, edges: &[f32]) -> Vec<f32> {
    (0..len)
        .map(|i| match (i * 31) % 89 {
            e if e < edges.len() => edges[e],
            _ => ((i * 7919) % 4001) as f32 / 100.0 - 20.0,
        })
        .collect()
}

/// What tract's optimized model of `wire(x)` makes of `x`; and the ops it ran.
fn through_tract(x: &[f32], wire: impl FnOnce(&mut TypedModel, OutletId) -> TVec<OutletId>) -> (Vec<f32>, Vec<String>) {
    let mut model = TypedModel::default();
    let input = model.add_source("x", f32::fact([x.len()])).unwrap();
    let y = wire(&mut model, input);
    model.select_output_outlets(&y).unwrap();
    let model = model.into_optimized().unwrap();
    let ops = model.nodes().iter().map(|n| n.op().name().to_string()).collect();
    let out = model.into_runnable().unwrap().run(tvec!(Tensor::from_shape(&[x.len()], x).unwrap().into_tvalue())).unwrap();
    (out[0].try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec(), ops)
}

/// The kernel tract picks for `func` is webinfer's.
fn assert_kernel(func: Func) {
    let kernel = func.ew_f32().unwrap().name().to_string();
    assert_eq!(kernel, format!("webinfer_{func:?}_{}_f32", if RELAXED { "relaxed" } else { "simd128" }).to_lowercase());
}

#[wasm_bindgen_test::wasm_bindgen_test]
fn silu_runs_on_webinfers_kernel_and_matches_tracts() {
    webinfer_kernels::keep();
    assert_kernel(Func::Silu);
    // Past the clamps (+-18.6), with every edge: NaN, infinities, signed zeros, tiny and huge.
    const EDGES: [f32; 11] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 0.0, 1e-38, -3e38, 18.6, -18.6, 18.7, -25.0];
    for len in LENGTHS {
        let x = values(len, &EDGES);
        let (got, ops) = through_tract(&x, |model, input| {
            let sigmoid = model.wire_node("sigmoid", nn::sigmoid(), &[input]).unwrap();
            model.wire_node("mul", math::mul(), &[input, sigmoid[0]]).unwrap()
        });
        assert!(ops.iter().any(|op| op == "Silu"), "{len}: {ops:?}");
        let mut theirs = x.clone();
        WasmSilu4::ew().run(&mut theirs).unwrap();
        for (i, ((&x, &got), &theirs)) in x.iter().zip(&got).zip(&theirs).enumerate() {
            if !RELAXED {
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

/// One of `Sigmoid` and `Tanh`: kernel name, tract's portable values bit for bit (simd128), f64
/// within `tolerance`, NaN kept.
fn check<O: Into<Box<dyn TypedOp>>>(func: Func, op: impl Fn() -> O, tracts: fn(f32) -> f32, exact: fn(f64) -> f64, tolerance: f64) {
    assert_kernel(func);
    // Past both fits' clamps (+-7.5, +-14.5), with every edge.
    const EDGES: [f32; 13] =
        [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 0.0, 1e-38, -3e38, 7.5, -7.5, 14.5, -14.5, 14.6, -25.0];
    for len in LENGTHS {
        let x = values(len, &EDGES);
        let (got, ops) = through_tract(&x, |model, input| model.wire_node("y", op(), &[input]).unwrap());
        assert!(ops.len() <= 2, "{func:?} {len}: {ops:?}");
        for (i, (&x, &got)) in x.iter().zip(&got).enumerate() {
            let theirs = tracts(x);
            if !RELAXED {
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
