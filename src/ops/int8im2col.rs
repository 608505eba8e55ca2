//! Quantized convolutions with a window (3x3, 5x3, strided, dilated, grouped; one or two spatial
//! axes, either layout) in int8. Pointwise convolutions are `int8conv`'s; this takes the rest
//! of a QDQ model's convolutions but the depthwise ones (one channel per group: no product to
//! share, `depthwise` runs them) and those with fewer than 8 input channels per group (an
//! image model's first layer: [`MIN_GROUP_CHANNELS`]).
//!
//! tract keeps such a convolution as a `Conv` on float weights and lowers it to an f32 im2col
//! product. This op does the same in integers: the input is quantized once, channels last (the
//! group's channels of one pixel are then one run, read in pairs), each output pixel's patch is
//! gathered into the int8 product's column panels, zeros where a tap falls in the padding, and
//! [`super::int8gemm`] multiplies them by the weights, whose depth is ordered the same way
//! (tap, then channel). Sums are exact in i32 and scaled once per output, bias included; a
//! quantize -> dequantize that follows runs in the product's epilogue.
//!
//! Same numbers as the float path up to f32 rounding (it rounds every product and partial sum,
//! this rounds once). Weights not on an int8 grid, and shapes not known when the model is
//! planned, stay tract's.

use std::ops::Range;
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::conv::Conv;

use super::int8conv::{int8_grid, quantized_input, requantize_after};
use super::int8gemm::{self, panels, Epilogue, Grid, Layout, Output, PackedWeights, Requantize, TILE};
use super::parallel::{self, SharedMut};

/// Input channels per group below which tract's f32 path is kept. An image model's first
/// convolution (3 channels) has too little depth for the integer product to pay for quantizing
/// and packing: in Chromium (two builds in one page, 20 interleaved runs) it made EfficientNet-Lite0
/// int8 1.15x and MobileNetV3 int8 1.10x slower, where DeepLab-lite's 88-channel 3x3 ran 0.76x.
const MIN_GROUP_CHANNELS: usize = 8;

/// Sizes of one convolution, fixed when the model is planned. A 1-D convolution is a 2-D one
/// of height 1.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Geometry {
    channels_last: bool,
    /// The input's (and output's) shape as tract has it, batch axis (any size) or not.
    input_shape: TVec<usize>,
    output_shape: TVec<usize>,
    batch: usize,
    groups: usize,
    /// Input and output channels per group.
    group_in: usize,
    group_out: usize,
    input: [usize; 2],
    output: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    /// Zeros before the first row and column (those after follow from the output size).
    pad: [usize; 2],
}

impl Geometry {
    /// Channel pairs per group: a group's odd channel is paired with a zero.
    fn group_pairs(&self) -> usize {
        self.group_in.div_ceil(2)
    }

    fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    /// The depth of the product, in channel pairs: every tap's pairs.
    fn depth_pairs(&self) -> usize {
        self.taps() * self.group_pairs()
    }

    fn columns(&self) -> usize {
        self.output[0] * self.output[1]
    }

    fn pixels(&self) -> usize {
        self.input[0] * self.input[1]
    }

    /// Where a tap lands in the input along `axis`, for output index `at`: `None` in the padding.
    fn source(&self, axis: usize, at: usize, tap: usize) -> Option<usize> {
        let index = (at * self.stride[axis] + tap * self.dilation[axis]).checked_sub(self.pad[axis])?;
        (index < self.input[axis]).then_some(index)
    }
}

/// A convolution (with its bias) on quantized activations, as an int8 product over patches.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Conv {
    geometry: Geometry,
    /// Per group: its output channels' weights, depth ordered as the patches are.
    weights: Vec<Arc<PackedWeights>>,
    /// Where each tap reads, made once per plan.
    taps: Arc<TapTable>,
    /// How the input's values become integers (zero point removed).
    input_grid: Grid,
    /// Per group, each padded to whole panels of 8: activation scale x weight scale, and the bias.
    row_scale: Vec<Vec<f32>>,
    bias: Vec<Vec<f32>>,
    /// The quantize -> dequantize that followed in the graph, applied to each output.
    requantize: Option<Requantize>,
}

impl Eq for Int8Conv {}

impl Int8Conv {
    /// The quantize -> dequantize this op applies to its outputs, if it absorbed one: the next
    /// int8 convolution may read them as integers.
    pub(super) fn requantize(&self) -> Option<&Requantize> {
        self.requantize.as_ref()
    }
}

impl Op for Int8Conv {
    fn name(&self) -> StaticName {
        "Int8Conv".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        let g = &self.geometry;
        Ok(vec![format!(
            "{}x{} kernel, stride {:?}, dilation {:?}, {} groups of {} -> {} channels",
            g.kernel[0], g.kernel[1], g.stride, g.dilation, g.groups, g.group_in, g.group_out
        )])
    }

    fn validation(&self) -> Validation {
        Validation::Rounding
    }

    op_as_typed_op!();
}

impl EvalOp for Int8Conv {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        Ok(tvec!(self.convolve(&inputs[0])?.into_tvalue()))
    }
}

impl Int8Conv {
    fn convolve(&self, input: &Tensor) -> TractResult<Tensor> {
        let g = &self.geometry;
        ensure!(input.shape() == &*g.input_shape, "Int8Conv: input shape {:?}, expected {:?}", input.shape(), g.input_shape);
        let input = input.try_as_plain_ram()?;
        let x = input.as_slice::<f32>()?;
        // SAFETY: f32 has no invalid bit patterns, and every output is written (each group's
        // product covers its rows and every column).
        let mut out = unsafe { Tensor::uninitialized::<f32>(&g.output_shape)? };
        {
            let mut plain = out.try_as_plain_ram_mut()?;
            let out = plain.as_slice_mut::<f32>()?;
            let (in_image, out_image) = (g.pixels() * g.groups * g.group_in, g.columns() * g.groups * g.group_out);
            // Zeros where nothing writes: a group's odd channel's partner, the last panel's
            // columns past the output.
            let mut quantized = vec![0u32; g.pixels() * g.groups * g.group_pairs()];
            let mut columns = vec![0u32; panels(g.columns()) * g.depth_pairs() * TILE];
            let out_layout = if g.channels_last {
                Layout::channels_last(g.groups * g.group_out)
            } else {
                Layout::channels_first(g.columns())
            };
            for image in 0..g.batch {
                quantize_image(&x[image * in_image..][..in_image], g, &self.input_grid, &mut quantized);
                for group in 0..g.groups {
                    let packed = SharedMut::new(&mut columns);
                    parallel::split_units(g.output[0], |rows| {
                        // SAFETY: each output row's columns go to one call only.
                        unsafe { pack_patches(&quantized, g, &self.taps, group, rows, &packed) }
                    });
                    let first_channel = group * g.group_out * out_layout.channel_stride;
                    let values = Output::new(&mut out[image * out_image + first_channel..], out_layout);
                    let epilogue = Epilogue {
                        scale: &self.row_scale[group],
                        bias: &self.bias[group],
                        requantize: self.requantize.as_ref(),
                    };
                    let weights = &self.weights[group];
                    let columns = as_i16(&columns);
                    parallel::split_units(weights.work_units(g.columns()), |units| {
                        // SAFETY: `split_units` hands each unit to one call only.
                        unsafe { int8gemm::gemm(weights, columns, g.columns(), &epilogue, units, &values) };
                    });
                }
            }
        }
        Ok(out)
    }
}

impl TypedOp for Int8Conv {
    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(&*self.geometry.output_shape)))
    }

    as_op!();
}

/// The i16 pairs of `values` as the int8 product reads them (little-endian: the pair's first
/// value in the low half).
fn as_i16(values: &[u32]) -> &[i16] {
    // SAFETY: two i16 fill a u32 exactly, u32's alignment is more than i16's, and every bit
    // pattern is an i16.
    unsafe { std::slice::from_raw_parts(values.as_ptr() as *const i16, values.len() * 2) }
}

/// [`as_i16`] for writing.
fn as_i16_mut(values: &mut [u32]) -> &mut [i16] {
    // SAFETY: as in `as_i16`; the borrow is handed over whole.
    unsafe { std::slice::from_raw_parts_mut(values.as_mut_ptr() as *mut i16, values.len() * 2) }
}

/// One image of `x` as integers, pixel by pixel: each group's channels in pairs (an odd one
/// with a zero). Parts of the pixels go to the threaded build's pool.
fn quantize_image(x: &[f32], g: &Geometry, grid: &Grid, quantized: &mut [u32]) {
    const PIXELS_PER_PART: usize = 256;
    let pixel_pairs = g.groups * g.group_pairs();
    let quantized = as_i16_mut(quantized);
    if g.channels_last && g.group_in % 2 == 0 {
        // Already in that order: one pass over the values, eight at a time in wasm.
        let part = PIXELS_PER_PART * pixel_pairs * 2;
        let x = &x[..quantized.len()];
        parallel::split_chunks_mut(quantized, part, |first, out| {
            int8gemm::quantize_into(&x[first * part..][..out.len()], out, grid)
        });
        return;
    }
    let (channels, pixels) = (g.groups * g.group_in, g.pixels());
    parallel::split_chunks_mut(quantized, PIXELS_PER_PART * pixel_pairs * 2, |first, out| {
        let first_pixel = first * PIXELS_PER_PART;
        let count = out.len() / (pixel_pairs * 2);
        for c in 0..channels {
            // Its slot in a pixel's run: the group's pairs, then its place among them.
            let slot = (c / g.group_in) * g.group_pairs() * 2 + c % g.group_in;
            for i in 0..count {
                let p = first_pixel + i;
                let value = if g.channels_last { x[p * channels + c] } else { x[c * pixels + p] };
                out[i * pixel_pairs * 2 + slot] = grid.quantize(value);
            }
        }
    });
}

/// For each kernel row (column) and output row (column), the input row (column) the tap
/// reads, `None` in the padding: made once per plan, so packing does no bounds arithmetic.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TapTable {
    rows: Vec<Option<usize>>,
    columns: Vec<Option<usize>>,
}

impl TapTable {
    fn new(g: &Geometry) -> TapTable {
        let axis = |a: usize| {
            (0..g.kernel[a]).flat_map(|k| (0..g.output[a]).map(move |o| g.source(a, o, k))).collect::<Vec<_>>()
        };
        TapTable { rows: axis(0), columns: axis(1) }
    }
}

/// The patches of group `group` for output rows `rows`, into the int8 product's column layout
/// `[panel][tap][channel pair][column 0..8]`: each (row, tap) as one pass along the row, zeros
/// for taps in the padding.
///
/// # Safety
/// Calls running at the same time on the same `packed` must take different rows.
unsafe fn pack_patches(
    quantized: &[u32],
    g: &Geometry,
    taps: &TapTable,
    group: usize,
    rows: Range<usize>,
    packed: &SharedMut<u32>,
) {
    let (pairs, pixel_pairs, width) = (g.group_pairs(), g.groups * g.group_pairs(), g.output[1]);
    let panel_len = g.depth_pairs() * TILE;
    assert!(panels(g.columns()) * panel_len <= packed.len() && rows.end <= g.output[0]);
    assert!(g.pixels() * pixel_pairs <= quantized.len());
    let out = packed.span(0, packed.len());
    for oy in rows {
        for ky in 0..g.kernel[0] {
            let iy = taps.rows[ky * g.output[0] + oy];
            for kx in 0..g.kernel[1] {
                let tap = (ky * g.kernel[1] + kx) * pairs * TILE;
                let columns = &taps.columns[kx * width..][..width];
                for (ox, ix) in columns.iter().enumerate() {
                    let p = oy * width + ox;
                    // SAFETY (writes): `p` is an output column, so its panel is within `packed`
                    // (asserted), and the tap's pairs within the panel; the column is this row's.
                    let dest = unsafe { out.add((p / TILE) * panel_len + tap + p % TILE) };
                    match (iy, ix) {
                        (Some(iy), Some(ix)) => {
                            let from = &quantized[(iy * g.input[1] + ix) * pixel_pairs + group * pairs..][..pairs];
                            for (k, &v) in from.iter().enumerate() {
                                unsafe { *dest.add(k * TILE) = v };
                            }
                        }
                        _ => {
                            for k in 0..pairs {
                                unsafe { *dest.add(k * TILE) = 0 };
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The int8 form of a decluttered convolution with a window: float, constant int8-grid weights
/// and bias, reading quantized activations, not depthwise, with known shapes. The quantize ->
/// dequantize after it joins it when only it reads the output. Returns the op, the node whose
/// output it replaces and the outlet it reads.
fn int8_form(model: &TypedModel, node: &TypedNode, conv: &Conv) -> TractResult<Option<(Int8Conv, usize, OutletId)>> {
    let spec = &conv.pool_spec;
    let (groups, in_channels, out_channels) = (conv.group, conv.input_channels(), conv.output_channels());
    if conv.q_params.is_some()
        || node.inputs.len() != 3
        || !(1..=2).contains(&spec.rank())
        || groups == 0
        || in_channels % groups != 0
        || out_channels % groups != 0
        || (groups > 1 && in_channels == groups)
        || in_channels / groups < MIN_GROUP_CHANNELS
    {
        return Ok(None);
    }
    let fact = model.outlet_fact(node.inputs[0])?;
    let (Some(input_shape), Some(output_shape)) =
        (fact.shape.as_concrete(), model.outlet_fact(OutletId::new(node.id, 0))?.shape.as_concrete())
    else {
        return Ok(None);
    };
    if fact.datum_type != f32::datum_type() {
        return Ok(None);
    }
    let format = spec.data_format;
    let shape = format.shape(input_shape)?;
    let out = format.shape(output_shape)?;
    // One spatial axis is a row of height 1.
    let two = |v: &[usize], one: usize| if v.len() == 1 { [one, v[0]] } else { [v[0], v[1]] };
    let padding = spec.computed_padding(shape.hw_dims());
    let pad: Vec<usize> = padding.iter().map(|p| p.pad_before).collect();
    let geometry = Geometry {
        channels_last: format.c_is_last(),
        input_shape: input_shape.into(),
        output_shape: output_shape.into(),
        batch: shape.n().copied().unwrap_or(1),
        groups,
        group_in: in_channels / groups,
        group_out: out_channels / groups,
        input: two(shape.hw_dims(), 1),
        output: two(out.hw_dims(), 1),
        kernel: two(&spec.kernel_shape, 1),
        stride: two(&spec.strides(), 1),
        dilation: two(&spec.dilations(), 1),
        pad: two(&pad, 0),
    };
    if *shape.c() != in_channels || *out.c() != out_channels || geometry.columns() == 0 || geometry.taps() == 0 {
        return Ok(None);
    }
    let [Some(kernel), Some(bias)] = [1, 2].map(|i| model.outlet_fact(node.inputs[i]).ok().and_then(|f| f.konst.clone()))
    else {
        return Ok(None);
    };
    if kernel.datum_type() != f32::datum_type()
        || bias.datum_type() != f32::datum_type()
        || !(bias.len() == out_channels || bias.len() == 1)
    {
        return Ok(None);
    }
    let Some((input, activation_scale, input_grid)) = quantized_input(model, node)? else { return Ok(None) };
    // [group][out][in][tap]: each output channel's weights are one row.
    let kernel = conv.kernel_fmt.kernel_as_group_o_i_hw(&kernel, groups)?;
    let kernel = kernel.try_as_plain_ram()?;
    let row_len = geometry.group_in * geometry.taps();
    let Some((ints, weight_scales)) = int8_grid(kernel.as_slice::<f32>()?, out_channels, row_len) else {
        return Ok(None);
    };
    let bias = bias.try_as_plain_ram()?;
    let bias = bias.as_slice::<f32>()?;
    let bias: Vec<f32> = (0..out_channels).map(|c| if bias.len() == 1 { bias[0] } else { bias[c] }).collect();
    let row_scale: Vec<f32> = weight_scales.iter().map(|s| activation_scale * s).collect();
    let (requantize, replaced) = match requantize_after(model, node.id)? {
        Some((requantize, qd)) => (Some(requantize), qd),
        None => (None, node.id),
    };
    Ok(Some((Int8Conv::new(geometry, &ints, &row_scale, &bias, input_grid, requantize), replaced, input)))
}

impl Int8Conv {
    /// `ints`: each output channel's integer weights, `[channel][tap]` (a row of `group_in *
    /// taps`); `row_scale`: the float value of one step of each output channel's sum.
    fn new(
        geometry: Geometry,
        ints: &[i16],
        row_scale: &[f32],
        bias: &[f32],
        input_grid: Grid,
        requantize: Option<Requantize>,
    ) -> Int8Conv {
        let g = &geometry;
        let (pairs, taps, row_len) = (g.group_pairs(), g.taps(), g.group_in * g.taps());
        let mut weights = Vec::with_capacity(g.groups);
        let (mut group_scale, mut group_bias) = (Vec::with_capacity(g.groups), Vec::with_capacity(g.groups));
        for group in 0..g.groups {
            let rows = group * g.group_out..(group + 1) * g.group_out;
            // Depth ordered as the patches: tap, then channel pair (an odd channel's partner is 0).
            let mut reordered = Vec::with_capacity(rows.len() * taps * pairs * 2);
            for row in rows.clone() {
                let w = &ints[row * row_len..][..row_len];
                for tap in 0..taps {
                    reordered.extend((0..pairs * 2).map(|c| if c < g.group_in { w[c * taps + tap] } else { 0 }));
                }
            }
            weights.push(Arc::new(PackedWeights::new(&reordered, rows.len(), taps * pairs * 2)));
            group_scale.push(int8gemm::whole_panels(row_scale[rows.clone()].to_vec()));
            group_bias.push(int8gemm::whole_panels(bias[rows].to_vec()));
        }
        let taps = Arc::new(TapTable::new(&geometry));
        Int8Conv { geometry, weights, taps, input_grid, row_scale: group_scale, bias: group_bias, requantize }
    }
}

/// Replaces every convolution [`int8_form`] accepts (decluttered model). Returns how many.
pub(crate) fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    super::rewrite::each_node(model, |model, node| {
        let Some(conv) = node.op_as::<Conv>() else { return Ok(None) };
        let Some((op, replaced, input)) = int8_form(model, node, conv)? else { return Ok(None) };
        Ok(Some(super::rewrite::replacing(model, node, op, input, replaced)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    /// `(groups, in and out channels per group, input, kernel, stride, dilation, pad, channels
    /// last, batch)`: 3 channels and 12 outputs (an odd pair, a partial panel), groups of 5
    /// channels channels-last with a batch of 2 and a tall kernel, a 1-D row in 3 groups, and 6
    /// channels last (quantized in one pass over the input, eight at a time in wasm).
    type Case = (usize, usize, usize, [usize; 2], [usize; 2], [usize; 2], [usize; 2], [usize; 2], bool, usize);
    const CASES: [Case; 4] = [
        (1, 3, 12, [13, 30], [3, 3], [2, 1], [1, 1], [1, 1], false, 1),
        (2, 5, 8, [9, 11], [3, 2], [1, 2], [2, 1], [2, 0], true, 2),
        (3, 4, 5, [1, 70], [1, 5], [1, 3], [1, 2], [0, 4], false, 1),
        (1, 6, 16, [17, 19], [3, 3], [2, 2], [1, 1], [1, 1], true, 1),
    ];

    fn geometry(case: &Case) -> Geometry {
        let &(groups, group_in, group_out, input, kernel, stride, dilation, pad, channels_last, batch) = case;
        let output = [0, 1].map(|a| (input[a] + 2 * pad[a] - ((kernel[a] - 1) * dilation[a] + 1)) / stride[a] + 1);
        let shape = |channels: usize, [h, w]: [usize; 2]| -> TVec<usize> {
            if channels_last { tvec![batch, h, w, channels] } else { tvec![batch, channels, h, w] }
        };
        Geometry {
            channels_last,
            input_shape: shape(groups * group_in, input),
            output_shape: shape(groups * group_out, output),
            batch,
            groups,
            group_in,
            group_out,
            input,
            output,
            kernel,
            stride,
            dilation,
            pad,
        }
    }

    /// The convolution written out on the integers, in the op's own float formula.
    fn reference(g: &Geometry, x: &[f32], ints: &[i16], op: &Int8Conv, row_scale: &[f32], bias: &[f32]) -> Vec<f32> {
        let (channels, out_channels) = (g.groups * g.group_in, g.groups * g.group_out);
        let at = |n: usize, c: usize, y: usize, xx: usize, shape: [usize; 2], chans: usize| {
            if g.channels_last {
                ((n * shape[0] + y) * shape[1] + xx) * chans + c
            } else {
                ((n * chans + c) * shape[0] + y) * shape[1] + xx
            }
        };
        let mut out = vec![0f32; g.output_shape.iter().product()];
        for n in 0..g.batch {
            for o in 0..out_channels {
                let group = o / g.group_out;
                for oy in 0..g.output[0] {
                    for ox in 0..g.output[1] {
                        let mut sum = 0i64;
                        for c in 0..g.group_in {
                            for ky in 0..g.kernel[0] {
                                for kx in 0..g.kernel[1] {
                                    // Tap positions from ONNX's definition, not the op's `source`.
                                    let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize - g.pad[0] as isize;
                                    let ix = (ox * g.stride[1] + kx * g.dilation[1]) as isize - g.pad[1] as isize;
                                    if iy < 0 || ix < 0 || iy as usize >= g.input[0] || ix as usize >= g.input[1] {
                                        continue;
                                    }
                                    let (iy, ix) = (iy as usize, ix as usize);
                                    let v = x[at(n, group * g.group_in + c, iy, ix, g.input, channels)];
                                    let w = ints[(o * g.group_in + c) * g.taps() + ky * g.kernel[1] + kx];
                                    sum += w as i64 * op.input_grid.quantize(v) as i64;
                                }
                            }
                        }
                        let y = sum as f32 * row_scale[o] + bias[o];
                        out[at(n, o, oy, ox, g.output, out_channels)] = op.requantize.as_ref().map_or(y, |rq| rq.apply(y));
                    }
                }
            }
        }
        out
    }

    /// Against the convolution written out, with and without a requantized output; natively also
    /// split over a pool of 3 threads (several parts of pixels, panels and units of work).
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn matches_the_convolution_written_out() {
        let grid = Grid { multiplier: 1.0 / 0.04, lo: -113.0, hi: 142.0 };
        let requantize = Requantize { multiplier: 1.0 / 0.05, zero_point: 3.0, lo: -128.0, hi: 127.0, scale: 0.05 };
        for case in &CASES {
            let g = geometry(case);
            let out_channels = g.groups * g.group_out;
            let x: Vec<f32> =
                (0..g.input_shape.iter().product::<usize>()).map(|i| ((i * 37 % 263) as f32 - 120.0) * 0.031).collect();
            let ints: Vec<i16> =
                (0..out_channels * g.group_in * g.taps()).map(|i| ((i * 73 + 11) % 255) as i16 - 127).collect();
            let row_scale: Vec<f32> = (0..out_channels).map(|o| 0.0005 * (o + 1) as f32).collect();
            let bias: Vec<f32> = (0..out_channels).map(|o| o as f32 * 0.25 - 1.0).collect();
            for rq in [None, Some(requantize.clone())] {
                let op = Int8Conv::new(g.clone(), &ints, &row_scale, &bias, grid.clone(), rq);
                let want = reference(&g, &x, &ints, &op, &row_scale, &bias);
                let input = Tensor::from_shape(&g.input_shape, &x).unwrap();
                let run = || {
                    let out = op.convolve(&input).unwrap();
                    out.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec()
                };
                assert_eq!(run(), want, "{case:?} {:?}", op.requantize);
                #[cfg(not(target_arch = "wasm32"))]
                {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
                    assert_eq!(pool.install(run), want, "{case:?} {:?}, 3 threads", op.requantize);
                }
            }
        }
    }
}
