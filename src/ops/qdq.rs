//! QDQ models quantize every activation and dequantize it again right away
//! (`QuantizeLinear -> DequantizeLinear`), so the next float op sees the rounding the int8
//! model was validated with. tract 0.23 runs each half as its own pass over the tensor, with a
//! software round-to-even and a u8 tensor in between: on EfficientNet-Lite0 int8 that is about a
//! third of every run (`webinfer profile`). This pass fuses each pair into one float op that
//! computes the same numbers in place, four lanes at a time in wasm.

use tract_onnx::prelude::*;

use super::int8gemm::Requantize;
use super::parallel;
use tract_onnx::tract_core::ops::element_wise::{ElementWiseMiniOp, ElementWiseOp};
use tract_onnx::tract_core::ops::quant::{DequantizeLinearF32, QuantizeLinearI8, QuantizeLinearU8};

/// `dequantize(quantize(x))`: `(clamp(round_even(x * multiplier) + zero_point, lo, hi) -
/// zero_point) * scale`, in f32 throughout (every intermediate is a small integer, so exact).
/// Identical to tract's two ops except where `x * multiplier` is beyond ±2^31 (or infinite):
/// tract's i32 arithmetic wraps there, this saturates, as ONNX and onnxruntime do.
#[derive(Debug, Clone, PartialEq)]
/// Its parameters and formula are the ones the int8 matrix product's epilogue applies too.
pub struct QuantDequant(pub(crate) Requantize);

impl Eq for QuantDequant {}

impl QuantDequant {
    fn apply(&self, values: &mut [f32]) {
        // Four lanes at a time with wasm SIMD intrinsics, so the speed does not depend on the
        // optimizer vectorizing the loop (the shipped build optimizes most crates for size).
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        let values = {
            use core::arch::wasm32::*;
            let split = values.len() / 4 * 4;
            let (body, tail) = values.split_at_mut(split);
            for chunk in body.chunks_exact_mut(4) {
                // SAFETY: `chunk` is 4 f32 = 16 bytes; v128 loads and stores need no alignment.
                unsafe {
                    let y = self.0.apply4(v128_load(chunk.as_ptr() as *const v128));
                    v128_store(chunk.as_mut_ptr() as *mut v128, y);
                }
            }
            tail
        };
        for v in values {
            *v = self.0.apply(*v);
        }
    }
}

impl ElementWiseMiniOp for QuantDequant {
    fn name(&self) -> String {
        "QuantDequant".into()
    }

    fn eval_in_place(&self, t: &mut Tensor, _out_dt: Option<DatumType>) -> TractResult<()> {
        let mut plain = t.try_as_plain_ram_mut()?;
        let values = plain.as_slice_mut::<f32>()?;
        // Split across the threaded build's pool (inline elsewhere), in chunks big enough to be
        // worth a hand-over. Element-wise, so any split gives the same numbers.
        parallel::split_chunks_mut(values, 4096, |_, chunk| self.apply(chunk));
        Ok(())
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "quantize 1/{} + {} in [{}, {}], dequantize * {}",
            self.0.multiplier.recip(),
            self.0.zero_point,
            self.0.lo,
            self.0.hi,
            self.0.scale
        )])
    }
}

/// The fused op for a quantize node followed only by a dequantize with the same zero point.
fn fused(model: &TypedModel, quant: &TypedNode) -> TractResult<Option<QuantDequant>> {
    let Some(q) = quant.op_as::<ElementWiseOp>() else { return Ok(None) };
    let (multiplier, zero_point, lo, hi) = if let Some(q) = q.0.downcast_ref::<QuantizeLinearU8>() {
        (q.scale, q.zero_point as i32, 0.0, 255.0)
    } else if let Some(q) = q.0.downcast_ref::<QuantizeLinearI8>() {
        (q.scale, q.zero_point as i32, -128.0, 127.0)
    } else {
        return Ok(None);
    };
    if model.outlet_fact(quant.inputs[0])?.datum_type != f32::datum_type()
        || model.outputs.contains(&OutletId::new(quant.id, 0))
    {
        return Ok(None);
    }
    let Some(next) = model.single_succ(quant.id)? else { return Ok(None) };
    let Some(dq) = next.op_as::<DequantizeLinearF32>() else { return Ok(None) };
    if dq.zero_point != zero_point {
        return Ok(None);
    }
    Ok(Some(QuantDequant(Requantize { multiplier, zero_point: zero_point as f32, lo, hi, scale: dq.scale })))
}

/// Fuses every quantize -> dequantize pair of a typed model (before declutter). Returns how many.
pub(crate) fn fuse_pairs(model: &mut TypedModel) -> TractResult<usize> {
    super::rewrite::each_node(model, |model, node| {
        let Some(op) = fused(model, node)? else { return Ok(None) };
        TypedModelPatch::fuse_with_next(model, node, ElementWiseOp(Box::new(op), None)).map(Some)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::quant::quantize_linear_f32_u8;

    // In wasm (`wasm-pack test`) this checks the SIMD path, natively the scalar one.
    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    /// The fused op against tract's quantize and dequantize formulas, on values around every
    /// rounding edge, saturation on both sides and NaN. (Beyond ±2^31 / multiplier tract's i32
    /// arithmetic overflows; the fused op saturates there.)
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn matches_quantize_then_dequantize() {
        let (multiplier, zero_point, scale) = (1.0 / 0.0235, 113u8, 0.0235);
        let values: Vec<f32> =
            (-40000..40000).map(|i| i as f32 * 0.000_117_5).chain([f32::NAN, 1e6, -1e6, 0.5, -0.5]).collect();
        let expected: Vec<f32> = values
            .iter()
            .map(|&x| (quantize_linear_f32_u8(x, multiplier, zero_point as i32) as i32 - zero_point as i32) as f32 * scale)
            .collect();
        let mut got = values.clone();
        QuantDequant(Requantize { multiplier, zero_point: zero_point as f32, lo: 0.0, hi: 255.0, scale }).apply(&mut got);
        assert_eq!(expected, got);
    }

    /// The int8 product's fused epilogue computes the same numbers (natively its scalar form;
    /// the SIMD form is checked against that in `int8gemm`).
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn requantize_matches() {
        let op = QuantDequant(Requantize { multiplier: 1.0 / 0.0235, zero_point: 113.0, lo: 0.0, hi: 255.0, scale: 0.0235 });
        let values: Vec<f32> =
            (-40000..40000).map(|i| i as f32 * 0.000_117_5).chain([f32::NAN, 1e6, -1e6, f32::INFINITY, 0.5]).collect();
        let mut fused = values.clone();
        op.apply(&mut fused);
        let epilogue: Vec<f32> = values.iter().map(|&v| op.0.apply(v)).collect();
        assert_eq!(fused, epilogue);
    }
}
