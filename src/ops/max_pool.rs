//! `MaxPool` over any number of spatial axes, in any layout, as one pass per axis.
//!
//! Why: tract 0.23 has two fast paths (2x2 windows on channels-first planes, and 2D row spans)
//! and a generic walk; a 2x2 window with stride 2, the most common, takes the first one's
//! scalar border loop for every pixel, since only stride 1 has an interior kernel there. PP-OCR's
//! direction classifier spent 0.29 ms of 3.4 in one such pool of 38,400 values (Chromium, run
//! 18).
//!
//! A maximum over a box is a maximum over each axis in turn, so a `kh x kw` window costs
//! `kh + kw` comparisons instead of `kh * kw`. The last axis goes first (a gather over its taps),
//! then the others as whole rows compared lane by lane. The window geometry is tract's own (its
//! planned `Patch`: padding, strides, dilations, ceil mode). Each output folds its taps from
//! `f32::MIN` with `if acc < v { v } else { acc }`, tract's fold, so NaN taps are skipped and the
//! values are tract's exactly, in any order.

use std::ops::Range;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::OptMaxPool;

use super::{parallel, Compute, Kernel};

/// One axis's pooling: output `o` is the maximum of input indices `taps[o]`, stepping `dilation`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AxisPass {
    axis: usize,
    len_in: usize,
    dilation: usize,
    taps: Vec<Range<usize>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SeparableMaxPool {
    input_shape: TVec<usize>,
    output_shape: TVec<usize>,
    /// In the order they run: the last axis first.
    passes: Vec<AxisPass>,
}

impl Compute for SeparableMaxPool {
    fn name(&self) -> StaticName {
        "SeparableMaxPool".into()
    }

    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(&*self.output_shape)))
    }

    fn eval(&self, _symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = inputs[0].try_as_plain_ram()?;
        ensure!(
            input.shape() == &*self.input_shape,
            "MaxPool: input shape {:?}, planned for {:?}",
            input.shape(),
            self.input_shape
        );
        let mut shape = self.input_shape.clone();
        let mut data = std::borrow::Cow::Borrowed(input.as_slice::<f32>()?);
        for pass in &self.passes {
            let outer: usize = shape[..pass.axis].iter().product();
            let inner: usize = shape[pass.axis + 1..].iter().product();
            let mut out = vec![f32::MIN; outer * pass.taps.len() * inner];
            if !out.is_empty() {
                let block = pass.taps.len() * inner;
                parallel::split_chunks_mut(&mut out, block, |first, blocks| {
                    for (i, out) in blocks.chunks_exact_mut(block).enumerate() {
                        pass.pool_block(&data[(first + i) * pass.len_in * inner..][..pass.len_in * inner], inner, out);
                    }
                });
            }
            shape[pass.axis] = pass.taps.len();
            data = std::borrow::Cow::Owned(out);
        }
        Ok(tvec!(Tensor::from_shape(&shape, &data)?.into_tvalue()))
    }
}

impl AxisPass {
    /// One block: `len_in` runs of `inner` values in, `taps.len()` runs out (filled with
    /// `f32::MIN`).
    fn pool_block(&self, src: &[f32], inner: usize, out: &mut [f32]) {
        let taps = |range: &Range<usize>| range.clone().step_by(self.dilation);
        if inner == 1 {
            for (v, range) in out.iter_mut().zip(&self.taps) {
                for i in taps(range) {
                    *v = fold(*v, src[i]);
                }
            }
            return;
        }
        for (row, range) in out.chunks_exact_mut(inner).zip(&self.taps) {
            for i in taps(range) {
                fold_rows(row, &src[i * inner..][..inner]);
            }
        }
    }
}

/// tract's fold of one tap into a maximum (a NaN tap changes nothing).
#[inline(always)]
fn fold(acc: f32, v: f32) -> f32 {
    if acc < v {
        v
    } else {
        acc
    }
}

/// [`fold`] lane by lane; wasm's `f32x4.pmax(a, b)` is `a < b ? b : a`, the same.
fn fold_rows(acc: &mut [f32], row: &[f32]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let (acc, row) = {
        use core::arch::wasm32::*;
        let split = acc.len() / 4 * 4;
        let (body, tail) = acc.split_at_mut(split);
        for (a, r) in body.chunks_exact_mut(4).zip(row.chunks_exact(4)) {
            // SAFETY: four f32 in each; wasm loads and stores need no alignment.
            unsafe {
                let at = a.as_mut_ptr() as *mut v128;
                v128_store(at, f32x4_pmax(v128_load(at), v128_load(r.as_ptr() as *const v128)));
            }
        }
        (tail, &row[split..])
    };
    for (a, &v) in acc.iter_mut().zip(row) {
        *a = fold(*a, v);
    }
}

/// The plan for one of tract's planned max pools, when it has one: f32, no index output, a
/// known geometry in which every output has a tap inside the input.
fn separable_form(model: &TypedModel, node: &TypedNode, op: &OptMaxPool) -> TractResult<Option<SeparableMaxPool>> {
    let input = model.outlet_fact(node.inputs[0])?;
    let Some(geo) = op.geometry.as_concrete() else { return Ok(None) };
    if op.with_index_outputs.is_some() || input.datum_type != f32::datum_type() {
        return Ok(None);
    }
    let Some(input_shape) = input.shape.as_concrete() else { return Ok(None) };
    let patch = &geo.patch;
    if geo.input_shape.shape.as_slice() != input_shape {
        return Ok(None);
    }
    let mut passes = vec![];
    for (geo_axis, axis) in geo.input_shape.hw_axes().enumerate().rev() {
        let len_in = input_shape[axis];
        let (kernel, stride, dilation) =
            (patch.spec.kernel_shape[geo_axis], patch.spec.strides[geo_axis], patch.spec.dilations[geo_axis]);
        let pad = patch.pad_before[geo_axis] as isize;
        let taps: Vec<Range<usize>> = (0..patch.output_shape[geo_axis])
            .map(|o| {
                // Taps `k` with `0 <= o * stride - pad + k * dilation < len_in`.
                let origin = (o * stride) as isize - pad;
                let first = (0..kernel).find(|&k| origin + (k * dilation) as isize >= 0);
                let last = (0..kernel).rev().find(|&k| origin + ((k * dilation) as isize) < len_in as isize);
                match (first, last) {
                    (Some(f), Some(l)) if f <= l => {
                        let start = (origin + (f * dilation) as isize) as usize;
                        start..start + (l - f) * dilation + 1
                    }
                    _ => 0..0,
                }
            })
            .collect();
        // A window wholly in the padding is tract's (it outputs f32::MIN there).
        if taps.iter().any(|t| t.is_empty()) {
            return Ok(None);
        }
        if kernel == 1 && stride == 1 && taps.len() == len_in {
            continue;
        }
        passes.push(AxisPass { axis, len_in, dilation, taps });
    }
    let output_shape: TVec<usize> = geo.output_shape.shape.iter().copied().collect();
    if passes.is_empty() || model.outlet_fact(node.id.into())?.shape.as_concrete() != Some(&output_shape[..]) {
        return Ok(None);
    }
    Ok(Some(SeparableMaxPool { input_shape: input_shape.into(), output_shape, passes }))
}

/// Swaps tract's planned max pools for [`SeparableMaxPool`] where it applies.
pub(crate) fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    super::rewrite::each_node(model, |model, node| {
        let Some(pool) = node.op_as::<OptMaxPool>() else { return Ok(None) };
        let Some(op) = separable_form(model, node, pool)? else { return Ok(None) };
        Ok(Some(TypedModelPatch::replace_single_op(model, node, &node.inputs, Kernel(op))?))
    })
}
