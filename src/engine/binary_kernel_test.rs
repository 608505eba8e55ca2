//! In wasm, tract's broadcast `Add`/`Mul`/`Sub` become its by-scalar and unicast ops on
//! webinfer-kernels' `binary` kernels (before them, tract's generic broadcast), and give what
//! one IEEE operation per element gives, bit for bit.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::math;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// Values with every edge the arithmetic has: NaN, infinities, signed zeros, tiny and huge.
fn values(len: usize, seed: usize) -> Vec<f32> {
    const EDGES: [f32; 7] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 0.0, 1e-38, 3e38];
    (0..len)
        .map(|i| match (i * 31 + seed) % 97 {
            e if e < EDGES.len() => EDGES[e],
            _ => ((i * 7919 + seed * 104_729) % 1999) as f32 / 999.5 - 1.0,
        })
        .collect()
}

/// `a op b` with numpy broadcasting, one f32 operation per element: the reference.
fn reference(a: &[f32], a_shape: &[usize], b: &[f32], b_shape: &[usize], op: fn(f32, f32) -> f32) -> Vec<f32> {
    let out: Vec<usize> = a_shape.iter().zip(b_shape).map(|(&x, &y)| x.max(y)).collect();
    let index = |shape: &[usize], at: &[usize]| {
        shape.iter().zip(at).fold(0, |acc, (&dim, &i)| acc * dim + if dim == 1 { 0 } else { i })
    };
    let mut at = vec![0; out.len()];
    (0..out.iter().product())
        .map(|flat: usize| {
            let mut rest = flat;
            for (slot, &dim) in at.iter_mut().zip(&out).rev() {
                *slot = rest % dim;
                rest /= dim;
            }
            op(a[index(a_shape, &at)], b[index(b_shape, &at)])
        })
        .collect()
}

#[wasm_bindgen_test::wasm_bindgen_test]
fn broadcast_arithmetic_runs_on_webinfers_kernels_and_matches() {
    webinfer_kernels::keep();
    type Op = (&'static str, fn() -> Box<dyn TypedOp>, fn(f32, f32) -> f32);
    let ops: [Op; 3] = [
        ("Add", || Box::new(math::add()), |x, y| x + y),
        ("Mul", || Box::new(math::mul()), |x, y| x * y),
        ("Sub", || Box::new(math::sub()), |x, y| x - y),
    ];
    // (a, b, what tract should make of it): per-channel NCHW with a period that is no multiple
    // of 4 or 16, the same with the broadcast operand first (Sub flips), a scalar, per-channel
    // NHWC (unicast over the channels), two tensors of one shape, and a large block.
    let cases: [(&[usize], &[usize], &str); 7] = [
        (&[1, 5, 7, 9], &[1, 5, 1, 1], "ByScalar"),
        (&[1, 5, 1, 1], &[1, 5, 7, 9], "ByScalar"),
        (&[2, 3, 11], &[1, 1, 1], "ByScalar"),
        (&[1, 5, 7, 48], &[1, 1, 1, 48], "Unicast"),
        (&[1, 1, 1, 48], &[1, 3, 5, 48], "Unicast"),
        (&[3, 41], &[3, 41], "Unicast"),
        (&[1, 16, 32, 33], &[1, 16, 1, 1], "ByScalar"),
    ];
    for (name, op, f) in ops {
        for (seed, &(a_shape, b_shape, kind)) in cases.iter().enumerate() {
            let (a, b) = (values(a_shape.iter().product(), seed), values(b_shape.iter().product(), seed + 50));
            let mut model = TypedModel::default();
            let x = model.add_source("a", f32::fact(a_shape)).unwrap();
            let y = model.add_source("b", f32::fact(b_shape)).unwrap();
            let z = model.wire_node("op", op(), &[x, y]).unwrap();
            model.select_output_outlets(&z).unwrap();
            let model = model.into_optimized().unwrap();
            let names: Vec<String> = model.nodes().iter().map(|n| n.op().name().to_string()).collect();
            let case = format!("{name} {a_shape:?} {b_shape:?}");
            assert!(names.iter().any(|n| n.starts_with("Opt") && n.ends_with(kind)), "{case}: {names:?}");
            let inputs = tvec!(
                Tensor::from_shape(a_shape, &a).unwrap().into_tvalue(),
                Tensor::from_shape(b_shape, &b).unwrap().into_tvalue()
            );
            let got = model.into_runnable().unwrap().run(inputs).unwrap();
            let got = got[0].try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec();
            let want = reference(&a, a_shape, &b, b_shape, f);
            assert_eq!(got.len(), want.len(), "{case}");
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()), "{case} [{i}]: {g} vs {w}");
            }
        }
    }
}
