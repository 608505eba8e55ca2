//! `MaxPool` and `AveragePool` (and the plain sums tract makes of `LpPool`'s kind) over any
//! number of spatial axes, in any layout, as one pass per axis.
//!
//! Why: tract 0.23's max pool has two fast paths (2x2 windows on channels-first planes, and 2D
//! row spans) and a generic walk; a 2x2 window with stride 2, the most common, takes the first
//! one's scalar border loop for every pixel, since only stride 1 has an interior kernel there.
//! PP-OCR's direction classifier spent 0.29 ms of 3.4 in one such pool of 38,400 values
//! (Chromium, run 18). Its average pool walks every window tap by tap (a separable path exists
//! behind an environment variable, for stride 1 only).
//!
//! A maximum or a sum over a box is one over each axis in turn, so a `kh x kw` window costs
//! `kh + kw` steps instead of `kh * kw`. The axes run first to last: those with values after them as
//! whole rows combined lane by lane, then (channels first) the last axis, on what the others have
//! already shrunk: tap by tap across the outputs whose window lies inside the input (four lanes at
//! a time for strides 1 and 2 in wasm, the even lanes of two vectors for 2), output by output at
//! the borders. The window geometry is tract's own (its planned `Patch`: padding, strides,
//! dilations, ceil mode). Session 21 measured this op in Chromium on PP-OCR's 2x2 pool of
//! `[1, 200, 2, 160]`: 0.156 ms with the last axis output by output and chunk iterators in the row
//! pass, 0.053 ms now.
//!
//! - Max: each output folds its taps from `f32::MIN` with `if acc < v { v } else { acc }`,
//!   tract's fold, so NaN taps are skipped and the values are tract's exactly, in any order.
//! - Average: the divisor is a product over the axes (taps inside the input, or with
//!   `count_include_pad` inside the padded extent, tract's rule), so each axis divides by its own
//!   count. The sums run in another order than tract's: values differ by rounding.

use std::ops::Range;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::{OptMaxPool, OptSumPool, PaddingSpec, Patch};

use super::{axis_passes, Compute, Kernel};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reducer {
    Max,
    Sum,
}

/// One axis's pooling: output `o` combines input indices `taps[o]`, stepping `dilation`, then
/// (an average) is multiplied by `scales[o]`.
#[derive(Debug, Clone, PartialEq)]
struct AxisPass {
    axis: usize,
    dilation: usize,
    taps: Vec<Range<usize>>,
    scales: Option<Vec<f32>>,
    stride: usize,
    kernel: usize,
    /// The outputs whose every tap is inside the input: output `o` of them starts at input
    /// `taps[interior.start].start + (o - interior.start) * stride`.
    interior: Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SeparablePool {
    reducer: Reducer,
    input_shape: TVec<usize>,
    output_shape: TVec<usize>,
    /// In the order they run: the first axis first.
    passes: Vec<AxisPass>,
}

impl Eq for SeparablePool {}

impl Compute for SeparablePool {
    fn name(&self) -> StaticName {
        match self.reducer {
            Reducer::Max => "SeparableMaxPool".into(),
            Reducer::Sum => "SeparableSumPool".into(),
        }
    }

    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(&*self.output_shape)))
    }

    fn eval(&self, _symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = inputs[0].try_as_plain_ram()?;
        ensure!(
            input.shape() == &*self.input_shape,
            "{}: input shape {:?}, planned for {:?}",
            self.name(),
            input.shape(),
            self.input_shape
        );
        let start = match self.reducer {
            Reducer::Max => f32::MIN,
            Reducer::Sum => 0.0,
        };
        let axes = self.passes.iter().map(|p| (p.axis, p.taps.len()));
        let out = axis_passes::run(input.as_slice::<f32>()?, &self.input_shape, axes, start, |pass, src, inner, out| {
            let pass = &self.passes[pass];
            match self.reducer {
                Reducer::Max => pass.pool_block(src, inner, out, fold_max, fold_max_rows),
                Reducer::Sum => pass.pool_block(src, inner, out, |a, v| a + v, add_rows),
            }
        })?;
        Ok(tvec!(out.into_tvalue()))
    }
}

impl AxisPass {
    /// One block: `len_in` runs of `inner` values in, `taps.len()` runs out (holding the fold's
    /// start).
    fn pool_block(
        &self,
        src: &[f32],
        inner: usize,
        out: &mut [f32],
        fold: impl Fn(f32, f32) -> f32,
        fold_rows: impl Fn(&mut [f32], &[f32]),
    ) {
        // Plain index loops: the shipped build optimizes this crate for size, where an iterator
        // adapter per output (`step_by`) cost more than the taps themselves.
        let step = self.dilation;
        if inner == 1 {
            // The last axis of channels-first input, one value per output. At the borders, output
            // by output over its taps; inside, tap by tap over all the outputs (independent
            // folds, and whole vectors where the stride is 1 or 2), in the same order per output.
            let Range { start: lo, end: hi } = self.interior;
            for o in (0..lo).chain(hi..out.len()) {
                let (mut acc, mut i) = (out[o], self.taps[o].start);
                while i < self.taps[o].end {
                    acc = fold(acc, src[i]);
                    i += step;
                }
                out[o] = acc;
            }
            if lo < hi {
                let origin = self.taps[lo].start;
                for k in 0..self.kernel {
                    let first = origin + k * step;
                    let span = &src[first..first + (hi - lo - 1) * self.stride + 1];
                    fold_strided(&mut out[lo..hi], span, self.stride, &fold, &fold_rows);
                }
            }
        } else {
            for (row, range) in out.chunks_exact_mut(inner).zip(&self.taps) {
                let mut i = range.start;
                while i < range.end {
                    fold_rows(row, &src[i * inner..][..inner]);
                    i += step;
                }
            }
        }
        if let Some(scales) = &self.scales {
            for (row, &scale) in out.chunks_exact_mut(inner).zip(scales) {
                row.iter_mut().for_each(|v| *v *= scale);
            }
        }
    }
}

/// `acc[o] = fold(acc[o], src[o * stride])` for every `o` (`src` ends at the last value read):
/// with `fold_rows` where the stride is 1, and in wasm four outputs a vector where it is 2 (the
/// even lanes of two vectors, gathered a block at a time).
#[inline(always)]
fn fold_strided(
    acc: &mut [f32],
    src: &[f32],
    stride: usize,
    fold: &impl Fn(f32, f32) -> f32,
    fold_rows: &impl Fn(&mut [f32], &[f32]),
) {
    if stride == 1 {
        return fold_rows(acc, &src[..acc.len()]);
    }
    #[allow(unused_mut)]
    let mut done = 0;
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if stride == 2 {
        use core::arch::wasm32::*;
        let mut evens = [0f32; 64];
        // Outputs `o..o + 4` read `src[2o..2o + 8]`, inside `src` (`2 * acc.len() - 1` values)
        // while `o + 4 < acc.len()`; the last few go one by one below.
        while done + 4 < acc.len() {
            let n = ((acc.len() - 1 - done) / 4 * 4).min(evens.len());
            for j in (0..n).step_by(4) {
                let pair = &src[2 * (done + j)..][..8];
                let at = pair.as_ptr() as *const v128;
                // SAFETY: eight f32 behind `at`, four in `evens[j..]`; wasm needs no alignment.
                unsafe {
                    let even = i32x4_shuffle::<0, 2, 4, 6>(v128_load(at), v128_load(at.add(1)));
                    v128_store(evens[j..][..4].as_mut_ptr() as *mut v128, even);
                }
            }
            fold_rows(&mut acc[done..done + n], &evens[..n]);
            done += n;
        }
    }
    for (o, a) in acc.iter_mut().enumerate().skip(done) {
        *a = fold(*a, src[o * stride]);
    }
}

/// tract's fold of one tap into a maximum (a NaN tap changes nothing).
#[inline(always)]
fn fold_max(acc: f32, v: f32) -> f32 {
    if acc < v {
        v
    } else {
        acc
    }
}

/// `acc[i] = scalar(acc[i], row[i])`, four lanes at a time in wasm with `reducer`'s instruction
/// (which must compute `scalar` lane by lane). Index loops: this crate is built for size, where
/// chunk iterators cost a call per vector (the row pass of a 2x2 pool ran 5x native time).
#[inline(always)]
fn combine_rows(acc: &mut [f32], row: &[f32], scalar: impl Fn(f32, f32) -> f32, #[allow(unused)] reducer: Reducer) {
    let len = acc.len().min(row.len());
    #[allow(unused_mut)]
    let mut i = 0;
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::*;
        let (a, r) = (acc.as_mut_ptr(), row.as_ptr());
        while i + 4 <= len {
            // SAFETY: `i + 4 <= len`, within both slices; wasm loads and stores need no alignment.
            unsafe {
                let at = a.add(i) as *mut v128;
                let (x, y) = (v128_load(at), v128_load(r.add(i) as *const v128));
                v128_store(at, if reducer == Reducer::Max { f32x4_pmax(x, y) } else { f32x4_add(x, y) });
            }
            i += 4;
        }
    }
    while i < len {
        acc[i] = scalar(acc[i], row[i]);
        i += 1;
    }
}

/// [`fold_max`] lane by lane; wasm's `f32x4.pmax(a, b)` is `a < b ? b : a`, the same.
fn fold_max_rows(acc: &mut [f32], row: &[f32]) {
    combine_rows(acc, row, fold_max, Reducer::Max)
}

/// `acc[i] += row[i]`, four lanes at a time in wasm (also the column sums of `reduce.rs`).
pub(super) fn add_rows(acc: &mut [f32], row: &[f32]) {
    combine_rows(acc, row, |a, v| a + v, Reducer::Sum)
}

/// Per spatial axis of `patch`, each output's taps inside the input (`None` if a window lies
/// wholly in the padding).
fn axis_taps(patch: &Patch, geo_axis: usize, len_in: usize) -> Option<Vec<Range<usize>>> {
    let (kernel, stride, dilation) =
        (patch.spec.kernel_shape[geo_axis], patch.spec.strides[geo_axis], patch.spec.dilations[geo_axis]);
    let pad = patch.pad_before[geo_axis] as isize;
    (0..patch.output_shape[geo_axis])
        .map(|o| {
            // Taps `k` with `0 <= o * stride - pad + k * dilation < len_in`.
            let origin = (o * stride) as isize - pad;
            let first = (0..kernel).find(|&k| origin + (k * dilation) as isize >= 0)?;
            let last = (0..kernel).rev().find(|&k| origin + ((k * dilation) as isize) < len_in as isize)?;
            let start = (origin + (first * dilation) as isize) as usize;
            (first <= last).then(|| start..start + (last - first) * dilation + 1)
        })
        .collect()
}

/// An average's divisor along one axis, per output, as tract counts it: the taps inside the
/// input, or with `count_include_pad` the whole window, less (ceil mode) the taps past the
/// padded extent.
fn axis_counts(patch: &Patch, geo_axis: usize, taps: &[Range<usize>], count_include_pad: bool) -> Vec<usize> {
    let (kernel, stride, dilation) =
        (patch.spec.kernel_shape[geo_axis], patch.spec.strides[geo_axis], patch.spec.dilations[geo_axis]);
    taps.iter()
        .enumerate()
        .map(|(o, range)| match &patch.spec.padding {
            _ if !count_include_pad => range.len().div_ceil(dilation),
            PaddingSpec::ExplicitOnnxPool(before, after, true) => {
                let padded = before[geo_axis] + patch.spec.input_shape[geo_axis] + after[geo_axis];
                (0..kernel).filter(|k| o * stride + k * dilation < padded).count()
            }
            _ => kernel,
        })
        .collect()
}

/// The plan for one of tract's planned pools, when it has one: f32, a known geometry in which
/// every output has a tap inside the input.
fn separable_form(
    model: &TypedModel,
    node: &TypedNode,
    reducer: Reducer,
    geometry: Option<&tract_onnx::tract_core::ops::cnn::pools::ConcretePoolGeometry>,
    average: Option<bool>,
) -> TractResult<Option<SeparablePool>> {
    let input = model.outlet_fact(node.inputs[0])?;
    let Some(geo) = geometry else { return Ok(None) };
    let Some(input_shape) = input.shape.as_concrete() else { return Ok(None) };
    if input.datum_type != f32::datum_type() || geo.input_shape.shape.as_slice() != input_shape {
        return Ok(None);
    }
    let patch = &geo.patch;
    // A zero stride or dilation (a malformed model tract still plans) would never advance here.
    if patch.spec.strides.contains(&0) || patch.spec.dilations.contains(&0) || patch.spec.kernel_shape.contains(&0) {
        return Ok(None);
    }
    let mut passes = vec![];
    for (geo_axis, axis) in geo.input_shape.hw_axes().enumerate() {
        let len_in = input_shape[axis];
        // A window wholly in the padding is tract's (a max pool outputs f32::MIN there).
        let Some(taps) = axis_taps(patch, geo_axis, len_in) else { return Ok(None) };
        let scales = average
            .map(|count_include_pad| axis_counts(patch, geo_axis, &taps, count_include_pad))
            .map(|counts| counts.iter().map(|&c| 1.0 / c as f32).collect::<Vec<f32>>());
        let (kernel, stride) = (patch.spec.kernel_shape[geo_axis], patch.spec.strides[geo_axis]);
        if kernel == 1 && stride == 1 && taps.len() == len_in {
            continue;
        }
        let dilation = patch.spec.dilations[geo_axis];
        let span = (kernel - 1) * dilation + 1;
        let whole = |o: &usize| taps[*o].len() == span;
        let first = (0..taps.len()).find(whole).unwrap_or(0);
        let interior = first..first + (first..taps.len()).take_while(whole).count();
        passes.push(AxisPass { axis, dilation, taps, scales, stride, kernel, interior });
    }
    let output_shape: TVec<usize> = geo.output_shape.shape.iter().copied().collect();
    if passes.is_empty() || model.outlet_fact(node.id.into())?.shape.as_concrete() != Some(&output_shape[..]) {
        return Ok(None);
    }
    Ok(Some(SeparablePool { reducer, input_shape: input_shape.into(), output_shape, passes }))
}

/// Swaps tract's planned max pools (without an index output) and sum or average pools for
/// [`SeparablePool`] where it applies.
pub(crate) fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    super::rewrite::each_node(model, |model, node| {
        let op = if let Some(pool) = node.op_as::<OptMaxPool>() {
            if pool.with_index_outputs.is_some() {
                return Ok(None);
            }
            separable_form(model, node, Reducer::Max, pool.geometry.as_concrete(), None)?
        } else if let Some(pool) = node.op_as::<OptSumPool>() {
            let average = pool.normalize.then_some(pool.count_include_pad);
            separable_form(model, node, Reducer::Sum, pool.geometry.as_concrete(), average)?
        } else {
            return Ok(None);
        };
        let Some(op) = op else { return Ok(None) };
        Ok(Some(TypedModelPatch::replace_single_op(model, node, &node.inputs, Kernel(op))?))
    })
}
