//! In wasm, tract's f32 matrix products run on webinfer-kernels' 8x8 kernel (registered with
//! tract-linalg's registry, chosen over tract's own) and give the right numbers.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::einsum::EinSum;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// An f32 matrix product through tract (plan, optimize, run) lands on this kernel and gives
/// the product written out in f64, with the bias and ReLU6 tract fuses into the kernel's
/// program, on shapes that leave partial tiles on every side and an odd depth.
#[wasm_bindgen_test::wasm_bindgen_test]
fn products_run_on_webinfers_kernel_and_match() {
    webinfer_kernels::keep();
    for (m, k, n) in [(8, 8, 8), (13, 37, 21), (40, 3, 9), (1, 16, 33), (96, 144, 64)] {
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 1999) as f32 / 999.5 - 1.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 104_729) % 997) as f32 / 498.5 - 1.0).collect();
        let bias: Vec<f32> = (0..m).map(|i| (i % 5) as f32 - 2.0).collect();
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact([k, n])).unwrap();
        let w = model.add_const("w", Tensor::from_shape(&[m, k], &a).unwrap()).unwrap();
        let product =
            model.wire_node("mm", EinSum::new("mk,kn->mn".parse().unwrap(), f32::datum_type()), &[w, x]).unwrap();
        let bias_c = model.add_const("b", Tensor::from_shape(&[m, 1], &bias).unwrap()).unwrap();
        let biased = model.wire_node("bias", tract_onnx::tract_core::ops::math::add(), &[product[0], bias_c]).unwrap();
        let (lo, hi) =
            (model.add_const("lo", tensor2(&[[0f32]])).unwrap(), model.add_const("hi", tensor2(&[[6f32]])).unwrap());
        let y = model.wire_node("max", tract_onnx::tract_core::ops::math::max(), &[biased[0], lo]).unwrap();
        let y = model.wire_node("min", tract_onnx::tract_core::ops::math::min(), &[y[0], hi]).unwrap();
        model.select_output_outlets(&y).unwrap();
        let model = model.into_optimized().unwrap();
        let ops: Vec<String> = model.nodes().iter().flat_map(|n| n.op().info().unwrap_or_default()).collect();
        // A product with one row or column is a matrix-vector one (tract may transpose it).
        if m > 1 && n > 1 {
            assert!(ops.iter().any(|i| i.contains(webinfer_kernels::NAME)), "{m}x{k}x{n}: {ops:?}");
        }
        let got =
            model.into_runnable().unwrap().run(tvec!(Tensor::from_shape(&[k, n], &b).unwrap().into_tvalue())).unwrap();
        let got = got[0].try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec();
        for (row, col) in (0..m).flat_map(|r| (0..n).map(move |c| (r, c))) {
            let sum: f64 =
                (0..k).map(|i| a[row * k + i] as f64 * b[i * n + col] as f64).sum::<f64>() + bias[row] as f64;
            let want = sum.clamp(0.0, 6.0);
            let got = got[row * n + col] as f64;
            assert!((got - want).abs() <= 1e-4 * (1.0 + want.abs()), "{m}x{k}x{n} [{row}][{col}]: {got} vs {want}");
        }
    }
}

/// The kernel's other fused steps, as tract fuses them after a product: an added tensor (not a
/// constant: a unicast add), a per-row scale, a per-column offset and leaky ReLU, then a clamp
/// and a subtraction from a per-row value, against the same formula in f64.
#[wasm_bindgen_test::wasm_bindgen_test]
fn fused_steps_match() {
    use tract_onnx::tract_core::ops::{math, nn};
    webinfer_kernels::keep();
    let (m, k, n) = (19, 23, 26);
    let values = |len: usize, seed: usize| -> Vec<f32> {
        (0..len).map(|i| ((i * 7919 + seed * 104_729) % 1999) as f32 / 999.5 - 1.0).collect()
    };
    let (a, b, u) = (values(m * k, 1), values(k * n, 2), values(m * n, 3));
    let (row_scale, col_offset, row_base) = (values(m, 4), values(n, 5), values(m, 6));
    let mut model = TypedModel::default();
    let x = model.add_source("x", f32::fact([k, n])).unwrap();
    let added = model.add_source("u", f32::fact([m, n])).unwrap();
    let w = model.add_const("w", Tensor::from_shape(&[m, k], &a).unwrap()).unwrap();
    let konst = |model: &mut TypedModel, name: &str, shape: &[usize], v: &[f32]| {
        model.add_const(name, Tensor::from_shape(shape, v).unwrap()).unwrap()
    };
    let rs = konst(&mut model, "rs", &[m, 1], &row_scale);
    let co = konst(&mut model, "co", &[1, n], &col_offset);
    let rb = konst(&mut model, "rb", &[m, 1], &row_base);
    let cap = konst(&mut model, "cap", &[1, 1], &[0.75]);
    let mut wire =
        |name: &str, op: Box<dyn TypedOp>, inputs: &[OutletId]| model.wire_node(name, op, inputs).unwrap()[0];
    let y = wire("mm", Box::new(EinSum::new("mk,kn->mn".parse().unwrap(), f32::datum_type())), &[w, x]);
    let y = wire("added", Box::new(math::add()), &[y, added]);
    let y = wire("scale", Box::new(math::mul()), &[y, rs]);
    let y = wire("offset", Box::new(math::sub()), &[y, co]);
    let y = wire("leaky", Box::new(nn::leaky_relu(0.125)), &[y]);
    let y = wire("clamp", Box::new(math::min()), &[y, cap]);
    let y = wire("flipped", Box::new(math::sub()), &[rb, y]);
    model.select_output_outlets(&[y]).unwrap();
    let model = model.into_optimized().unwrap();
    let info: Vec<String> = model.nodes().iter().flat_map(|n| n.op().info().unwrap_or_default()).collect();
    // tract transposes this product and fuses the unicast add, the per-row scale (now per
    // column), the per-column offset (per row, flipped) and leaky ReLU into the kernel's
    // program; the clamp and the last subtraction run as ops of their own.
    let steps = [webinfer_kernels::NAME, "add_to_matrix", "colMul", "rowSubF", "leaky_relu"];
    assert!(steps.iter().all(|s| info.iter().any(|i| i.contains(s))), "{info:?}");
    let inputs = tvec!(
        Tensor::from_shape(&[k, n], &b).unwrap().into_tvalue(),
        Tensor::from_shape(&[m, n], &u).unwrap().into_tvalue()
    );
    let got = model.into_runnable().unwrap().run(inputs).unwrap();
    let got = got[0].try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec();
    for (row, col) in (0..m).flat_map(|r| (0..n).map(move |c| (r, c))) {
        let product: f64 = (0..k).map(|i| a[row * k + i] as f64 * b[i * n + col] as f64).sum();
        let y = (product + u[row * n + col] as f64) * row_scale[row] as f64 - col_offset[col] as f64;
        let want = row_base[row] as f64 - (if y > 0.0 { y } else { 0.125 * y }).min(0.75);
        let got = got[row * n + col] as f64;
        assert!((got - want).abs() <= 1e-4 * (1.0 + want.abs()), "[{row}][{col}]: {got} vs {want}; {info:?}");
    }
}
