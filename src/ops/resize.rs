//! `Resize` with linear or nearest interpolation (every coordinate mode tract-core keeps: half
//! pixel, align corners, asymmetric, PyTorch's and TensorFlow's variants; every rounding of
//! nearest), swapped in for tract-core's op once the sizes are known.
//!
//! Why: tract's op resamples one axis at a time through a generic loop that, for every output
//! element, zeroes it and walks a window of taps over an `inner` run; on the last axis that run
//! is one element, so the loop overhead is paid per value, and it resizes the first axis first,
//! so that costly last-axis pass runs on the largest tensor. A TensorFlow segmenter converted
//! with tf2onnx spent 89 of 135 ms in Chromium in its three bilinear `Resize`s.
//!
//! Here the coordinates and weights are tract's own (`Resize::plan_axis`, which ONNX's
//! conformance cases check), computed once when planning. The axes are resampled last first: a
//! gather along the last axis on the smallest tensor, then whole rows blended along the others,
//! a loop the compiler vectorises. Each output is tract's sum (`0 + w0 * a + w1 * b`, a zero
//! weight's tap skipped), in a different axis order, so values differ from tract's and
//! onnxruntime's by rounding.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::nn::resize::{Interpolator, Resize};

use super::{axis_passes, Compute, Kernel};

/// One axis's resampling: output `x` is `w0 * in[i0] + w1 * in[i1]` along `axis`.
#[derive(Debug, Clone, PartialEq)]
struct AxisPass {
    axis: usize,
    taps: Vec<[usize; 2]>,
    weights: Vec<[f32; 2]>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SeparableResize {
    input_shape: TVec<usize>,
    output_shape: TVec<usize>,
    /// In the order they run: the last axis first.
    passes: Vec<AxisPass>,
}

impl Eq for SeparableResize {}

impl Compute for SeparableResize {
    fn name(&self) -> StaticName {
        "SeparableResize".into()
    }

    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(&*self.output_shape)))
    }

    fn eval(&self, _symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = inputs[0].try_as_plain_ram()?;
        ensure!(
            input.shape() == &*self.input_shape,
            "Resize: input shape {:?}, planned for {:?}",
            input.shape(),
            self.input_shape
        );
        let axes = self.passes.iter().map(|p| (p.axis, p.taps.len()));
        let out = axis_passes::run(input.as_slice::<f32>()?, &self.input_shape, axes, 0.0, |pass, src, inner, out| {
            self.passes[pass].resample_block(src, inner, out)
        })?;
        Ok(tvec!(out.into_tvalue()))
    }
}

impl AxisPass {
    /// One block: `len_in` runs of `inner` values in, `taps.len()` runs out.
    fn resample_block(&self, src: &[f32], inner: usize, out: &mut [f32]) {
        if inner == 1 {
            for ((v, &[i0, i1]), &[w0, w1]) in out.iter_mut().zip(&self.taps).zip(&self.weights) {
                *v = blend(src[i0], src[i1], w0, w1);
            }
            return;
        }
        for ((row, &[i0, i1]), &[w0, w1]) in out.chunks_exact_mut(inner).zip(&self.taps).zip(&self.weights) {
            let (a, b) = (&src[i0 * inner..][..inner], &src[i1 * inner..][..inner]);
            // One loop per case, so that each is a plain loop the compiler vectorises.
            match (w0 != 0.0, w1 != 0.0) {
                (true, true) => row.iter_mut().zip(a.iter().zip(b)).for_each(|(r, (&a, &b))| *r = 0.0 + w0 * a + w1 * b),
                (true, false) => row.iter_mut().zip(a).for_each(|(r, &a)| *r = 0.0 + w0 * a),
                (false, true) => row.iter_mut().zip(b).for_each(|(r, &b)| *r = 0.0 + w1 * b),
                (false, false) => row.fill(0.0),
            }
        }
    }
}

/// tract's sum for one output: from zero, each tap with a non-zero weight (so that a nearest
/// tap's neighbour, weighted 0, cannot turn an infinity into NaN).
#[inline(always)]
fn blend(a: f32, b: f32, w0: f32, w1: f32) -> f32 {
    let mut sum = 0.0;
    if w0 != 0.0 {
        sum += w0 * a;
    }
    if w1 != 0.0 {
        sum += w1 * b;
    }
    sum
}

/// The plan for one of tract-core's `Resize` nodes, when it has one: f32, linear or nearest,
/// shapes and scales or sizes known.
fn separable_form(model: &TypedModel, node: &TypedNode, op: &Resize) -> TractResult<Option<SeparableResize>> {
    if op.interpolator == Interpolator::Cubic {
        return Ok(None);
    }
    let input = model.outlet_fact(node.inputs[0])?;
    let output = model.outlet_fact(node.id.into())?;
    if input.datum_type != f32::datum_type() || output.datum_type != f32::datum_type() {
        return Ok(None);
    }
    let (Some(input_shape), Some(output_shape)) = (input.shape.as_concrete(), output.shape.as_concrete()) else {
        return Ok(None);
    };
    let rank = input_shape.len();
    // The per-axis scale as tract's eval takes it: `scales` when given for every axis, else the
    // ratio of lengths.
    let scales = match op.optional_scales_input.map(|ix| model.outlet_fact(node.inputs[ix])) {
        Some(fact) => match &fact?.konst {
            Some(k) if k.len() == rank => Some(k.cast_to::<f32>()?.try_as_plain_ram()?.as_slice::<f32>()?.to_vec()),
            Some(_) => None,
            None => return Ok(None),
        },
        None => None,
    };
    let mut passes = vec![];
    for axis in (0..rank).rev() {
        let (len_in, len_out) = (input_shape[axis], output_shape[axis]);
        let scale = scales.as_ref().map(|s| s[axis]).unwrap_or(len_out as f32 / len_in as f32);
        if len_in == len_out && scale == 1.0 {
            continue;
        }
        if len_in == 0 || len_out == 0 {
            return Ok(None);
        }
        // With align_corners and a scale whose product with the length is fractional (5 x 2.5),
        // tract and ONNX's reference step by (len_in - 1) / (scale * len_in - 1), onnxruntime by
        // (len_in - 1) / (len_out - 1); this keeps the reference's (ONNX conformance case
        // test_resize_downsample_scales_linear_align_corners).
        let plan = op.plan_axis(scale, len_in, len_out);
        if plan.window != 2 || plan.extrapolated.contains(&true) {
            return Ok(None);
        }
        let taps = plan.indices.chunks_exact(2).map(|t| [t[0], t[1]]).collect();
        let weights = plan.weights.chunks_exact(2).map(|w| [w[0], w[1]]).collect();
        passes.push(AxisPass { axis, taps, weights });
    }
    if passes.is_empty() {
        return Ok(None);
    }
    Ok(Some(SeparableResize { input_shape: input_shape.into(), output_shape: output_shape.into(), passes }))
}

/// Swaps tract-core's `Resize` nodes for [`SeparableResize`] where it applies.
pub(crate) fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    super::rewrite::each_node(model, |model, node| {
        let Some(resize) = node.op_as::<Resize>() else { return Ok(None) };
        let Some(op) = separable_form(model, node, resize)? else { return Ok(None) };
        Ok(Some(TypedModelPatch::replace_single_op(model, node, &node.inputs[..1], Kernel(op))?))
    })
}
