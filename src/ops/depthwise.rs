//! Depthwise 2D convolutions on channels-last activations, split over the threaded build's pool
//! with [`super::parallel`]'s spinning waits.
//!
//! Why not tract's `DepthWise` op: it splits its channels through rayon's `join`, whose waiting
//! thread sleeps (see `parallel`), and in the threaded build it was slower than single-threaded
//! (bench/PERFORMANCE.md, section 10). This op runs tract's own channel-inner kernel (the fast
//! one in wasm; a kernel of our own was slower there, section 11) on units of one output row of
//! up to 128 channels, so even EfficientNet-Lite0's 7x7 layers split evenly.
//!
//! tract moves depthwise convolutions channels last where it has that kernel (wasm; natively,
//! aarch64), so this op takes that layout and replaces them only there, dilated or not (atrous
//! convolutions: DeepLab's). Other layouts and hosts without the kernel stay tract's. Every output value is the same sum
//! tract computes, so the split does not change the numbers.
//!
//! A clamp that follows (ReLU6 or ReLU: tract's `Max` and `Min` with a constant) is applied to
//! each unit's output while it is in cache, instead of as an op of its own with its own pass over
//! memory (and, in the threaded build, its own split through rayon).

use std::ops::Range;
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::conv::{Conv, KernelFormat};
use tract_onnx::tract_core::ops::math::{Max, Min};
use tract_onnx::tract_core::ops::nn::DataFormat;
use tract_onnx::tract_core::tract_linalg::routines::{self, DepthwiseCF32};

use super::parallel::{self, SharedMut};

/// Channels per unit of work (the last group of a layer may be narrower).
const GROUP: usize = 128;

/// Sizes of one depthwise convolution, all fixed when the model is planned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Geometry {
    /// `NHWC` with a batch of 1 (else `HWC`).
    batch: bool,
    channels: usize,
    input: [usize; 2],
    output: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    /// Input rows (columns) from one tap to the next.
    dilation: [usize; 2],
    /// Zeros before the first row and column (those after follow from the output size).
    pad: [usize; 2],
}

impl Geometry {
    fn units(&self) -> usize {
        self.output[0] * self.channels.div_ceil(GROUP)
    }

    /// Input rows (columns) the kernel spans, first tap to last.
    fn span(&self, axis: usize) -> usize {
        (self.kernel[axis] - 1) * self.dilation[axis] + 1
    }

    /// Output columns whose taps all fall inside the input.
    fn interior(&self) -> Range<usize> {
        let (width, span, stride, pad) = (self.input[1], self.span(1), self.stride[1], self.pad[1]);
        let start = pad.div_ceil(stride).min(self.output[1]);
        let end = if width + pad >= span { ((width + pad - span) / stride + 1).min(self.output[1]) } else { 0 };
        start..end.max(start)
    }

    /// The taps of kernel axis `axis` that land inside the input for output index `at`, and the
    /// input index of tap 0 (negative in the padding). Tap `k` reads index `origin + k * dilation`.
    fn taps(&self, axis: usize, at: usize) -> (Range<usize>, isize) {
        let origin = (at * self.stride[axis]) as isize - self.pad[axis] as isize;
        let (kernel, dilation) = (self.kernel[axis], self.dilation[axis]);
        // The first tap at index >= 0, and the first at index >= the input's length.
        let first = ((-origin).max(0) as usize).div_ceil(dilation).min(kernel);
        let end = ((self.input[axis] as isize - origin).max(0) as usize).div_ceil(dilation).min(kernel);
        (first..end.max(first), origin)
    }

    /// The input index of tap `k` along `axis` for output index `at` (inside the input when `k`
    /// is one of [`Geometry::taps`]).
    fn tap_index(&self, axis: usize, at: usize, k: usize) -> usize {
        (self.taps(axis, at).1 + (k * self.dilation[axis]) as isize) as usize
    }

    fn shape(&self, spatial: [usize; 2]) -> TVec<usize> {
        let mut shape: TVec<usize> = if self.batch { tvec!(1) } else { tvec!() };
        shape.extend([spatial[0], spatial[1], self.channels]);
        shape
    }
}

/// A depthwise convolution with its bias, channels last.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthwiseConv {
    geometry: Geometry,
    /// `[kernel row][kernel column][channel]`: a tap's weights for consecutive channels are
    /// one vector load.
    weights: Arc<Vec<f32>>,
    bias: Arc<Vec<f32>>,
    taps: Arc<TapLists>,
    /// The clamp the graph applied next, `[low, high]` (infinite for a side it did not clamp).
    clamp: Option<[f32; 2]>,
}

impl Eq for DepthwiseConv {}

impl Op for DepthwiseConv {
    fn name(&self) -> StaticName {
        "DepthwiseConv".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        let g = &self.geometry;
        let clamp = self.clamp.map(|[lo, hi]| format!(", clamped to [{lo}, {hi}]")).unwrap_or_default();
        Ok(vec![format!(
            "{} channels, {}x{} kernel, stride {}x{}, dilation {}x{}, {}x{} -> {}x{}{clamp}",
            g.channels,
            g.kernel[0],
            g.kernel[1],
            g.stride[0],
            g.stride[1],
            g.dilation[0],
            g.dilation[1],
            g.input[0],
            g.input[1],
            g.output[0],
            g.output[1]
        )])
    }

    fn validation(&self) -> Validation {
        Validation::Rounding
    }

    op_as_typed_op!();
}

impl EvalOp for DepthwiseConv {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let g = &self.geometry;
        let input = inputs[0].try_as_plain_ram()?;
        ensure!(
            input.shape() == &*g.shape(g.input),
            "DepthwiseConv: input shape {:?}, planned for {:?}",
            input.shape(),
            g.shape(g.input)
        );
        let x = input.as_slice::<f32>()?;
        let kernel = routines::depthwise_c_f32().context("DepthwiseConv: no depthwise kernel on this host")?;
        // SAFETY: f32 has no invalid bit patterns, and the units together write every element.
        let mut out = unsafe { Tensor::uninitialized::<f32>(&g.shape(g.output))? };
        {
            let mut plain = out.try_as_plain_ram_mut()?;
            let out = SharedMut::new(plain.as_slice_mut::<f32>()?);
            parallel::split_units(g.units(), |units| {
                // SAFETY: `split_units` hands each unit (one row of one channel group) to one call.
                units.for_each(|unit| unsafe { convolve(self, kernel, x, &out, unit) })
            });
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for DepthwiseConv {
    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(self.geometry.shape(self.geometry.output))))
    }

    as_op!();
}

/// The tap lists tract's kernel takes, made once per plan: for every kind of output pixel (which
/// kernel rows and columns land inside the image), each tap's index into the weights and its
/// input offset from the pixel's first tap inside the image.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TapLists {
    /// Per output row, then per output column: its kind along that axis.
    row_kind: Vec<usize>,
    column_kind: Vec<usize>,
    /// The kernel rows (columns) inside the image, per kind.
    rows: Vec<Range<usize>>,
    columns: Vec<Range<usize>>,
    /// `[row kind][column kind]`: (indices, offsets).
    lists: Vec<(Vec<usize>, Vec<isize>)>,
}

impl TapLists {
    fn new(g: &Geometry) -> Self {
        let kinds = |axis: usize| {
            let mut ranges: Vec<Range<usize>> = vec![];
            let kind = (0..g.output[axis])
                .map(|at| {
                    let range = g.taps(axis, at).0;
                    ranges.iter().position(|r| *r == range).unwrap_or_else(|| {
                        ranges.push(range);
                        ranges.len() - 1
                    })
                })
                .collect();
            (kind, ranges)
        };
        let ((row_kind, rows), (column_kind, columns)) = (kinds(0), kinds(1));
        let (c, kernel_w, in_w, [dy, dx]) = (g.channels, g.kernel[1], g.input[1], g.dilation);
        let lists = rows
            .iter()
            .flat_map(|r| columns.iter().map(move |k| (r.clone(), k.clone())))
            .map(|(r, k)| {
                r.clone()
                    .flat_map(|ky| k.clone().map(move |kx| (ky, kx)))
                    .map(|(ky, kx)| {
                        (ky * kernel_w + kx, (((ky - r.start) * dy * in_w + (kx - k.start) * dx) * c) as isize)
                    })
                    .unzip()
            })
            .collect();
        TapLists { row_kind, column_kind, rows, columns, lists }
    }
}

/// One unit of work: output row `unit / groups`, channel group `unit % groups`, through the
/// kernel tract runs depthwise convolutions with: the interior of the row in one call, each
/// border column (some taps in the padding) in a call of its own.
///
/// # Safety
/// Calls running at the same time on the same `out` must take different units.
unsafe fn convolve(op: &DepthwiseConv, kernel: DepthwiseCF32, x: &[f32], out: &SharedMut<f32>, unit: usize) {
    let (g, taps, weights, bias) = (&op.geometry, &op.taps, &op.weights, &op.bias);
    let c = g.channels;
    let groups = c.div_ceil(GROUP);
    let (row, group) = (unit / groups, unit % groups);
    let channels = group * GROUP..c.min(group * GROUP + GROUP);
    let [in_w, out_w] = [g.input[1], g.output[1]];
    assert!(row < g.output[0] && channels.end <= c);
    assert!(x.len() == g.input[0] * in_w * c && weights.len() == g.kernel[0] * g.kernel[1] * c && bias.len() == c);
    let row_kind = taps.row_kind[row];
    // Input rows from the first tap inside the image; other channel groups of the output row
    // are other units', so a pointer rather than a slice of it.
    let top = g.tap_index(0, row, taps.rows[row_kind].start) * in_w * c;
    let output = out.span(row * out_w * c, out_w * c);
    // Output columns `columns`, all of one kind.
    let run = |columns: Range<usize>| {
        let kind = taps.column_kind[columns.start];
        let (indices, offsets) = &taps.lists[row_kind * taps.columns.len() + kind];
        let first = g.tap_index(1, columns.start, taps.columns[kind].start);
        // SAFETY: the tap lists name only taps inside the image (`Geometry::taps`), from input
        // column `first` on, for every column of `columns` (which steps `stride` input columns);
        // channels within `c`; the output columns within the row; the lengths asserted above.
        // This unit writes its own row's values in its own channel group (the contract).
        unsafe {
            kernel(
                x.as_ptr().add(top + first * c + channels.start),
                output.add(columns.start * c + channels.start),
                weights.as_ptr().add(channels.start),
                indices,
                offsets,
                bias.as_ptr().add(channels.start),
                channels.len(),
                c,
                columns.len(),
                (g.stride[1] * c) as isize,
                c as isize,
            )
        }
    };
    let interior = g.interior();
    for ox in (0..interior.start).chain(interior.end..out_w) {
        run(ox..ox + 1);
    }
    if !interior.is_empty() {
        run(interior);
    }
    if let Some(clamp) = op.clamp {
        for ox in 0..out_w {
            // SAFETY: this unit's channels of column `ox` of its row, just written (as above).
            clamp_all(
                unsafe { std::slice::from_raw_parts_mut(output.add(ox * c + channels.start), channels.len()) },
                clamp,
            );
        }
    }
}

/// `min(max(v, low), high)` as tract's `Max` then `Min` compute it for f32 in wasm, NaN
/// included (NaN becomes `low`): with `low` not NaN, `if low < v { v } else { low }` is Rust's
/// `f32::max` (tract's scalar code) and wasm's `f32x4.pmax` (tract's wasm kernel), and with `v`
/// no longer NaN, the same holds for `min`. (tract's aarch64 kernels would keep a NaN; webinfer
/// refuses NaN inputs unless the model tests for NaN. In the relaxed-simd build LLVM lowers
/// both to `relaxed_min`/`max`, and NaN comes out as the engine decides.)
fn clamp_all(values: &mut [f32], [low, high]: [f32; 2]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let values = {
        use core::arch::wasm32::*;
        let (lo, hi) = (f32x4_splat(low), f32x4_splat(high));
        let mut quads = values.chunks_exact_mut(4);
        for quad in &mut quads {
            let at = quad.as_mut_ptr() as *mut v128;
            // SAFETY: four f32 in `quad`; wasm loads and stores need no alignment.
            unsafe { v128_store(at, f32x4_pmin(hi, f32x4_pmax(lo, v128_load(at)))) };
        }
        quads.into_remainder()
    };
    for v in values {
        let above = if low < *v { *v } else { low };
        *v = if above < high { above } else { high };
    }
}

/// The op for a depthwise `Conv` tract left channels last, when it has constant f32 weights
/// and bias.
fn depthwise_form(model: &TypedModel, node: &TypedNode, conv: &Conv) -> TractResult<Option<DepthwiseConv>> {
    if routines::depthwise_c_f32().is_none() {
        return Ok(None);
    }
    let spec = &conv.pool_spec;
    let channels = conv.input_channels();
    let batch = match spec.data_format {
        DataFormat::HWC => false,
        DataFormat::NHWC => true,
        _ => return Ok(None),
    };
    if conv.q_params.is_some()
        || conv.group != channels
        || conv.output_channels() != channels
        || conv.kernel_fmt != KernelFormat::OIHW
        || spec.rank() != 2
        || spec.dilations().contains(&0)
        || spec.strides().contains(&0)
        || node.inputs.len() != 3
    {
        return Ok(None);
    }
    let fact = model.outlet_fact(node.inputs[0])?;
    let Some(shape) = fact.shape.as_concrete() else { return Ok(None) };
    if fact.datum_type != f32::datum_type() || shape.len() != 3 + batch as usize || (batch && shape[0] != 1) {
        return Ok(None);
    }
    let input = [shape[shape.len() - 3], shape[shape.len() - 2]];
    let [Some(kernel), Some(bias)] =
        [1, 2].map(|i| model.outlet_fact(node.inputs[i]).ok().and_then(|f| f.konst.clone()))
    else {
        return Ok(None);
    };
    let kernel_shape = [spec.kernel_shape[0], spec.kernel_shape[1]];
    if kernel.datum_type() != f32::datum_type()
        || kernel.shape() != [channels, 1, kernel_shape[0], kernel_shape[1]]
        || bias.datum_type() != f32::datum_type()
        || !(bias.len() == channels || bias.len() == 1)
    {
        return Ok(None);
    }
    let padding = spec.computed_padding(&input);
    let geometry = Geometry {
        batch,
        channels,
        input,
        output: [padding[0].convoluted, padding[1].convoluted],
        kernel: kernel_shape,
        stride: [spec.stride(0), spec.stride(1)],
        dilation: [spec.dilation(0), spec.dilation(1)],
        pad: [padding[0].pad_before, padding[1].pad_before],
    };
    // Every output pixel needs a tap inside the image (pixels of padding alone are tract's).
    let taps = TapLists::new(&geometry);
    if channels == 0 || taps.rows.iter().chain(&taps.columns).any(|r| r.is_empty()) {
        return Ok(None);
    }
    let kernel = kernel.try_as_plain_ram()?;
    let kernel = kernel.as_slice::<f32>()?;
    let tap_count = kernel_shape[0] * kernel_shape[1];
    // OIHW with I = 1 is `[channel][tap]`; the kernel wants `[tap][channel]`.
    let weights = (0..tap_count).flat_map(|t| (0..channels).map(move |ch| kernel[ch * tap_count + t])).collect();
    let bias = bias.try_as_plain_ram()?;
    let bias = bias.as_slice::<f32>()?;
    let bias = if bias.len() == 1 { vec![bias[0]; channels] } else { bias.to_vec() };
    Ok(Some(DepthwiseConv {
        geometry,
        weights: Arc::new(weights),
        bias: Arc::new(bias),
        taps: Arc::new(taps),
        clamp: None,
    }))
}

/// Replaces every depthwise convolution [`depthwise_form`] accepts (decluttered model). Returns
/// how many.
pub(crate) fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    super::rewrite::each_node(model, |model, node| {
        let Some(conv) = node.op_as::<Conv>() else { return Ok(None) };
        let Some(mut op) = depthwise_form(model, node, conv)? else { return Ok(None) };
        // `Max(low)` alone (ReLU) or followed by `Min(high)` (ReLU6, ONNX's Clip): in that order
        // `clamp_all` gives what tract's ops would, NaN included.
        let mut last = node.id;
        if let Some((Bound::Low(low), max)) = clamp_after(model, node.id)? {
            let mut clamp = [low, f32::INFINITY];
            last = max;
            if let Some((Bound::High(high), min)) = clamp_after(model, max)? {
                if low <= high {
                    clamp[1] = high;
                    last = min;
                }
            }
            op.clamp = Some(clamp);
        }
        Ok(Some(super::rewrite::replacing(model, node, op, node.inputs[0], last)?))
    })
}

enum Bound {
    Low(f32),
    High(f32),
}

/// The `Max` or `Min` with a single constant value that is the only consumer of node `id`'s
/// output (a ReLU6 is one of each), and that node's id.
fn clamp_after(model: &TypedModel, id: usize) -> TractResult<Option<(Bound, usize)>> {
    let Some((next, bin, bound)) = super::rewrite::binary_with_constant(model, id)? else { return Ok(None) };
    // One value, broadcast: the result keeps the convolution's shape.
    if bin.1.is_some_and(|dt| dt != f32::datum_type())
        || bound.datum_type() != f32::datum_type()
        || bound.len() != 1
        || model.outlet_fact(OutletId::new(next.id, 0))?.shape != model.outlet_fact(OutletId::new(id, 0))?.shape
    {
        return Ok(None);
    }
    let value = bound.try_as_plain_ram()?.as_slice::<f32>()?[0];
    if value.is_nan() {
        return Ok(None);
    }
    Ok(if bin.0.is::<Max>() {
        Some((Bound::Low(value), next.id))
    } else if bin.0.is::<Min>() {
        Some((Bound::High(value), next.id))
    } else {
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::binary::TypedBinOp;
    use tract_onnx::tract_core::ops::cnn::{PaddingSpec, PoolSpec};

    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    /// A convolution's sizes as a model gives them: padding before and after each axis.
    #[derive(Debug)]
    struct Case {
        channels: usize,
        input: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        dilation: [usize; 2],
        before: [usize; 2],
        after: [usize; 2],
        batch: bool,
    }

    const fn case(
        channels: usize,
        input: usize,
        kernel: [usize; 2],
        stride: usize,
        pad: [usize; 2],
        batch: bool,
    ) -> Case {
        Case {
            channels,
            input: [input, input + 2],
            kernel,
            stride: [stride, stride],
            dilation: [1, 1],
            before: [pad[0]; 2],
            after: [pad[1]; 2],
            batch,
        }
    }

    /// Borders on every side, strides 1 and 2, uneven padding, a kernel wider than tall, a
    /// layer with no interior column, channel groups cut short (132 = 128 + 4), dilations (2 with
    /// a stride of 2, 3 by 1 with uneven padding, and DeepLab's 6 on a 9x11 input: taps skip
    /// over the image from the padding).
    const CASES: [Case; 9] = [
        case(8, 5, [3, 3], 1, [1, 1], false),
        case(36, 9, [5, 5], 2, [1, 2], true),
        case(132, 7, [5, 5], 1, [2, 2], false),
        case(4, 6, [3, 3], 2, [0, 0], true),
        // 3x3 under a 5x5 kernel: no column has all its taps inside; and a bias of one value.
        Case {
            channels: 20,
            input: [3, 3],
            kernel: [5, 5],
            stride: [1, 1],
            dilation: [1, 1],
            before: [2, 2],
            after: [2, 2],
            batch: false,
        },
        Case {
            channels: 12,
            input: [8, 10],
            kernel: [3, 5],
            stride: [1, 2],
            dilation: [1, 1],
            before: [1, 2],
            after: [1, 2],
            batch: false,
        },
        Case {
            channels: 24,
            input: [11, 12],
            kernel: [3, 3],
            stride: [2, 2],
            dilation: [2, 2],
            before: [2, 2],
            after: [2, 1],
            batch: true,
        },
        Case {
            channels: 40,
            input: [10, 9],
            kernel: [3, 3],
            stride: [1, 1],
            dilation: [3, 1],
            before: [3, 0],
            after: [2, 2],
            batch: false,
        },
        Case {
            channels: 132,
            input: [9, 11],
            kernel: [3, 3],
            stride: [1, 1],
            dilation: [6, 6],
            before: [6, 6],
            after: [6, 6],
            batch: true,
        },
    ];

    fn geometry(case: &Case) -> Geometry {
        let Case { channels, input, kernel, stride, dilation, before, after, batch } = *case;
        let span = |a: usize| (kernel[a] - 1) * dilation[a] + 1;
        let output = [0, 1].map(|a| (input[a] + before[a] + after[a] - span(a)) / stride[a] + 1);
        Geometry { batch, channels, input, output, kernel, stride, dilation, pad: before }
    }

    /// Each output index's taps and the interior columns, against testing every tap.
    #[test]
    fn taps_and_interior_match_brute_force() {
        for case in &CASES {
            let g = geometry(case);
            for axis in 0..2 {
                for at in 0..g.output[axis] {
                    let origin = (at * g.stride[axis]) as isize - g.pad[axis] as isize;
                    let index = |k: usize| origin + (k * case.dilation[axis]) as isize;
                    let inside: Vec<usize> =
                        (0..g.kernel[axis]).filter(|&k| (0..g.input[axis] as isize).contains(&index(k))).collect();
                    let (range, got_origin) = g.taps(axis, at);
                    assert_eq!(
                        (range.clone().collect::<Vec<_>>(), got_origin),
                        (inside.clone(), origin),
                        "{case:?} axis {axis} at {at}"
                    );
                    for k in range {
                        assert_eq!(g.tap_index(axis, at, k) as isize, index(k), "{case:?} axis {axis} at {at} tap {k}");
                    }
                    if axis == 1 {
                        assert_eq!(g.interior().contains(&at), inside.len() == g.kernel[1], "{case:?} column {at}");
                    }
                }
            }
        }
    }

    /// Values in [-1, 1) that are not a pattern a wrong index could still match.
    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n).map(|i| ((i * 7919 + seed * 104_729) % 1999) as f32 / 999.5 - 1.0).collect()
    }

    /// A channels-last depthwise `Conv` as tract declutters one, with weights `w` (OIHW) and a
    /// bias `b` of one value per channel or one for all: the model and the convolution's output.
    fn depthwise_model(case: &Case, w: &[f32], b: &[f32]) -> (TypedModel, OutletId) {
        let g = geometry(case);
        let (c, [kh, kw]) = (g.channels, g.kernel);
        let mut model = TypedModel::default();
        let source = model.add_source("x", f32::fact(g.shape(g.input))).unwrap();
        let kernel = model.add_const("w", Tensor::from_shape(&[c, 1, kh, kw], w).unwrap()).unwrap();
        let bias_shape: &[usize] = if b.len() == 1 { &[] } else { &[c] };
        let bias = model.add_const("b", Tensor::from_shape(bias_shape, b).unwrap()).unwrap();
        let pool_spec = PoolSpec {
            data_format: if g.batch { DataFormat::NHWC } else { DataFormat::HWC },
            kernel_shape: tvec!(kh, kw),
            padding: PaddingSpec::Explicit(case.before.into_iter().collect(), case.after.into_iter().collect()),
            dilations: Some(tvec!(g.dilation[0], g.dilation[1])),
            strides: Some(tvec!(g.stride[0], g.stride[1])),
            input_channels: c,
            output_channels: c,
        };
        let conv = Conv { pool_spec, kernel_fmt: KernelFormat::OIHW, group: c, q_params: None };
        let y = model.wire_node("dw", conv, &[source, kernel, bias]).unwrap()[0];
        (model, y)
    }

    /// The convolution written out in f64, channels last, as `depthwise_model` declares it.
    fn written_out(g: &Geometry, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f64> {
        let (c, [kh, kw], [oh, ow]) = (g.channels, g.kernel, g.output);
        let pixels = (0..oh).flat_map(|oy| (0..ow).flat_map(move |ox| (0..c).map(move |ch| (oy, ox, ch))));
        pixels
            .map(|(oy, ox, ch)| {
                let mut sum = b[ch % b.len()] as f64;
                for (ky, kx) in (0..kh).flat_map(|ky| (0..kw).map(move |kx| (ky, kx))) {
                    let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize - g.pad[0] as isize;
                    let ix = (ox * g.stride[1] + kx * g.dilation[1]) as isize - g.pad[1] as isize;
                    if (0..g.input[0] as isize).contains(&iy) && (0..g.input[1] as isize).contains(&ix) {
                        let at = (iy as usize * g.input[1] + ix as usize) * c + ch;
                        sum += w[(ch * kh + ky) * kw + kx] as f64 * x[at] as f64;
                    }
                }
                sum
            })
            .collect()
    }

    /// What tract's `Max` then `Min` give, NaN and infinities included (no NaN comes out): Rust's
    /// `f32::max` and `f32::min` (tract's own for f32), on enough values for the wasm build's
    /// four-lane loop and its remainder.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn clamps_as_tract_does() {
        let values = [f32::NAN, -1.0, 0.3, 7.0, 6.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, 2.5, f32::NAN, -3.0];
        for clamp in [[0.0, 6.0], [-0.5, f32::INFINITY], [1.0, 1.0]] {
            let mut got = values;
            clamp_all(&mut got, clamp);
            let mut want = values.map(|v| v.max(clamp[0]).min(clamp[1]));
            // With relaxed SIMD, LLVM lowers the pseudo-min and -max to `relaxed_min`/`max`,
            // whose answer for NaN is the engine's (NaN on x86-64): as tract's own kernels do
            // in that build. NaN lanes are not compared there.
            if cfg!(target_feature = "relaxed-simd") {
                for ((g, w), v) in got.iter_mut().zip(&mut want).zip(values) {
                    if v.is_nan() {
                        (*g, *w) = (0.0, 0.0);
                    }
                }
            }
            // By value: which zero `max(-0.0, 0.0)` returns is unspecified, for Rust as for wasm.
            assert_eq!(got, want, "{clamp:?}");
        }
    }

    /// The clamps the rewrite runs in the op (ReLU6 as `Max` then `Min`, ReLU as `Max`, either
    /// operand order), and those it must leave to tract (`Min` first, a value also read
    /// elsewhere, bounds the wrong way round), against the convolution written out in f64, then
    /// clamped. 134 channels: a full group of 128 and one of 6 (a four-lane step and a
    /// remainder). Natively (x86-64, no channel-inner kernel) nothing is rewritten and tract
    /// runs every case.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn runs_a_following_clamp_in_the_op() {
        let (low, high) = (-0.25f32, 0.5f32);
        let max = |bound: f32| ("max", bound, false);
        let min = |bound: f32| ("min", bound, false);
        // The steps after the convolution (op, bound, bound as the first operand), which value is
        // also a model output (0: the convolution's, k: step k's), and the clamp the op takes.
        type Case = (Vec<(&'static str, f32, bool)>, Option<usize>, Option<[f32; 2]>);
        let cases: [Case; 7] = [
            (vec![max(low), min(high)], None, Some([low, high])),
            (vec![max(low)], None, Some([low, f32::INFINITY])),
            (vec![("max", low, true), ("min", high, true)], None, Some([low, high])),
            (vec![min(high), max(low)], None, None),
            (vec![max(low), min(high)], Some(0), None),
            (vec![max(low), min(high)], Some(1), Some([low, f32::INFINITY])),
            (vec![max(high), min(low)], None, Some([high, f32::INFINITY])),
        ];
        let case = case(134, 6, [3, 3], 1, [1, 1], true);
        let g = geometry(&case);
        let c = g.channels;
        let (x, w, b) = (values(g.input[0] * g.input[1] * c, 4), values(c * 9, 5), values(c, 6));
        let convolved = written_out(&g, &x, &w, &b);
        for (steps, read_elsewhere, absorbed) in cases {
            let (mut model, y) = depthwise_model(&case, &w, &b);
            let mut wires = vec![y];
            for (at, &(op, bound, first)) in steps.iter().enumerate() {
                let k = model.add_const(format!("bound{at}"), Tensor::from_shape(&[1, 1, 1, 1], &[bound]).unwrap());
                let mini: Box<dyn tract_onnx::tract_core::ops::binary::BinMiniOp> =
                    if op == "max" { Box::new(Max) } else { Box::new(Min) };
                let inputs = if first { [k.unwrap(), wires[at]] } else { [wires[at], k.unwrap()] };
                wires.push(model.wire_node(format!("{op}{at}"), TypedBinOp(mini, None), &inputs).unwrap()[0]);
            }
            let outputs: Vec<OutletId> =
                [Some(steps.len()), read_elsewhere].into_iter().flatten().map(|k| wires[k]).collect();
            model.select_output_outlets(&outputs).unwrap();
            let replaced = rewrite(&mut model).unwrap();
            assert_eq!(replaced, routines::depthwise_c_f32().is_some() as usize, "{steps:?}");
            if replaced == 1 {
                let op = model.nodes().iter().find_map(|n| n.op_as::<DepthwiseConv>()).unwrap();
                assert_eq!(op.clamp, absorbed, "{steps:?}, also read: {read_elsewhere:?}");
                let taken = absorbed.map_or(0, |[_, high]| 1 + high.is_finite() as usize);
                let left = model.nodes().iter().filter(|n| n.op_is::<TypedBinOp>()).count();
                assert_eq!(left, steps.len() - taken, "{steps:?}, also read: {read_elsewhere:?}");
            }
            let input = Tensor::from_shape(&g.shape(g.input), &x).unwrap();
            let got = model.into_runnable().unwrap().run(tvec!(input.into_tvalue())).unwrap();
            let got: Vec<Vec<f32>> =
                got.iter().map(|t| t.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec()).collect();
            // The value after the first `k` steps.
            let after = |k: usize, v: f64| {
                steps[..k]
                    .iter()
                    .fold(v, |v, &(op, bound, _)| if op == "max" { v.max(bound as f64) } else { v.min(bound as f64) })
            };
            let clipped = convolved.iter().filter(|&&v| after(steps.len(), v) != v).count();
            for (output, k) in got.iter().zip([Some(steps.len()), read_elsewhere].into_iter().flatten()) {
                assert_eq!(output.len(), convolved.len(), "{steps:?} value {k}");
                for (at, (&got, &v)) in output.iter().zip(&convolved).enumerate() {
                    let (got, want) = (got as f64, after(k, v));
                    assert!(
                        (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                        "{steps:?} value {k} at {at}: {got} vs {want}"
                    );
                }
            }
            assert!(clipped > c, "{steps:?}: the bounds must clip some values ({clipped})");
        }
    }

    /// A channels-last depthwise `Conv` as tract declutters one, through the rewrite, against
    /// the convolution written out in f64. In wasm (both browsers) the op replaces every case;
    /// on x86-64, where tract has no channel-inner kernel, it replaces none and tract runs them.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn matches_the_convolution_written_out() {
        for case in &CASES {
            let g = geometry(case);
            let (c, [kh, kw]) = (g.channels, g.kernel);
            // One case has a scalar bias, for every channel.
            let bias_len = if g.interior().is_empty() { 1 } else { c };
            let (x, w, b) = (values(g.input[0] * g.input[1] * c, 1), values(c * kh * kw, 2), values(bias_len, 3));
            let (mut model, y) = depthwise_model(case, &w, &b);
            model.select_output_outlets(&[y]).unwrap();
            #[cfg(target_arch = "wasm32")]
            assert!(routines::depthwise_c_f32().is_some(), "tract has a channel-inner depthwise kernel in wasm");
            let replaced = rewrite(&mut model).unwrap();
            assert_eq!(replaced, routines::depthwise_c_f32().is_some() as usize, "{case:?}");
            let input = Tensor::from_shape(&g.shape(g.input), &x).unwrap();
            let got = model.into_runnable().unwrap().run(tvec!(input.into_tvalue())).unwrap().remove(0);
            assert_eq!(got.shape(), &*g.shape(g.output), "{case:?}");
            let got = got.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec();
            for (at, (&got, &want)) in got.iter().zip(&written_out(&g, &x, &w, &b)).enumerate() {
                let got = got as f64;
                assert!((got - want).abs() <= 1e-5 * (1.0 + want.abs()), "{case:?} at {at}: {got} vs {want}");
            }
        }
    }
}
