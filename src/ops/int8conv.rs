//! Quantized 1x1 convolutions in int8. In a QDQ model a pointwise convolution reads activations
//! that were just quantized (a [`QuantDequant`] node) and weights that are int8 values times a
//! per-channel scale (folded to f32 by `engine::fold`). tract declutters such a convolution
//! into an f32 `EinSum` (`IHW,OI->OHW`, channels last on either side in wasm, where tract runs
//! depthwise convolutions channels last) plus a bias `Add`. This pass gives the pair an op that
//! multiplies the integers themselves ([`super::int8gemm`]) and scales the exact i32 sums once
//! per output, bias included. On int8 EfficientNet-Lite0 these are all 32 pointwise convolutions.
//!
//! Same numbers up to f32 rounding: the float path rounds every product and partial sum, this
//! one rounds once. Convolutions whose weights are not on an int8 grid are left to tract. It
//! runs after declutter, when tract has chosen the layout and fused what it could.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;

use super::int8gemm::{self, round_half_even, Epilogue, Grid, Layout, Output, PackedWeights, Requantize};
use super::int8im2col::Int8Conv;
use super::parallel;
use super::qdq::QuantDequant;

/// A 1x1 convolution (with its bias) on quantized activations, as an int8 product.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8PointwiseConv {
    weights: Arc<PackedWeights>,
    out_channels: usize,
    in_channels: usize,
    /// The axes, as tract laid them out: channels before the spatial axes (behind a batch axis of
    /// 1 when `batch`, which the output keeps when `output_batch`) or after them.
    input_channels_last: bool,
    batch: bool,
    output_batch: bool,
    output_channels_last: bool,
    /// How packing turns its input into integers (zero point removed).
    input_grid: Grid,
    /// Per output channel: activation scale x weight scale, and the bias (zeros after the last
    /// channel, to a whole panel of 8).
    row_scale: Vec<f32>,
    bias: Vec<f32>,
    /// The quantize -> dequantize that followed in the graph, applied to each output.
    requantize: Option<Requantize>,
}

impl Eq for Int8PointwiseConv {}

impl Op for Int8PointwiseConv {
    fn name(&self) -> StaticName {
        "Int8PointwiseConv".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{} -> {} channels, activations in [{}, {}]",
            self.in_channels, self.out_channels, self.input_grid.lo, self.input_grid.hi
        )])
    }

    fn validation(&self) -> Validation {
        Validation::Rounding
    }

    op_as_typed_op!();
}

impl EvalOp for Int8PointwiseConv {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = &inputs[0];
        let shape = input.shape();
        let (channels, spatial) = self.split_input_shape(shape)?;
        ensure!(
            channels == self.in_channels,
            "Int8PointwiseConv: {channels} input channels, expected {}",
            self.in_channels
        );
        let cols: usize = spatial.iter().product();
        let in_layout =
            if self.input_channels_last { Layout::channels_last(channels) } else { Layout::channels_first(cols) };
        let input = input.try_as_plain_ram()?;
        let columns = int8gemm::pack_columns(input.as_slice::<f32>()?, channels, cols, in_layout, &self.input_grid);

        let out_shape = self.output_shape(spatial.iter().copied());
        // SAFETY: f32 has no invalid bit patterns, and `gemm` writes every element.
        let mut out = unsafe { Tensor::uninitialized::<f32>(&out_shape)? };
        {
            let mut plain = out.try_as_plain_ram_mut()?;
            let out_layout = self.output_layout(cols);
            let values = Output::new(plain.as_slice_mut::<f32>()?, out_layout);
            // The threaded build splits gemm's units of work (8 channels x 64 columns) over its pool.
            let epilogue = Epilogue { scale: &self.row_scale, bias: &self.bias, requantize: self.requantize.as_ref() };
            parallel::split_units(self.weights.work_units(cols), |units| {
                // SAFETY: `split_units` hands each unit to one call only.
                unsafe { int8gemm::gemm(&self.weights, &columns, cols, &epilogue, units, &values) };
            });
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl Int8PointwiseConv {
    /// (channels, spatial dims) of an input shape.
    fn split_input_shape<'s, D: std::fmt::Debug + Clone>(&self, shape: &'s [D]) -> TractResult<(D, &'s [D])> {
        let rank = shape.len();
        ensure!(rank > self.batch as usize, "Int8PointwiseConv: input shape {shape:?}");
        Ok(if self.input_channels_last {
            (shape[rank - 1].clone(), &shape[..rank - 1])
        } else {
            let c = self.batch as usize;
            (shape[c].clone(), &shape[c + 1..])
        })
    }

    fn output_shape<D: From<usize>>(&self, spatial: impl Iterator<Item = D>) -> TVec<D> {
        let channels = std::iter::once(D::from(self.out_channels));
        let batch = self.output_batch.then(|| D::from(1));
        if self.output_channels_last {
            batch.into_iter().chain(spatial).chain(channels).collect()
        } else {
            batch.into_iter().chain(channels).chain(spatial).collect()
        }
    }

    fn output_layout(&self, cols: usize) -> Layout {
        if self.output_channels_last {
            Layout::channels_last(self.out_channels)
        } else {
            Layout::channels_first(cols)
        }
    }
}

impl TypedOp for Int8PointwiseConv {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = inputs[0].shape.to_tvec();
        let (_, spatial) = self.split_input_shape(&shape)?;
        Ok(tvec!(f32::fact(self.output_shape(spatial.iter().cloned()))))
    }

    as_op!();
}

/// The int8 form of a decluttered pointwise convolution, or of a MatMul or Gemm on constant
/// weights (the same product): `einsum` reading quantized activations and constant int8-grid
/// weights, with the bias `Add` and the quantize -> dequantize after it if they come next, and
/// the quantize -> dequantize before it when only it reads that. Returns the op, the node whose
/// output it replaces and the outlet it reads.
fn int8_form(
    model: &TypedModel,
    node: &TypedNode,
    einsum: &EinSum,
) -> TractResult<Option<(Int8PointwiseConv, usize, OutletId)>> {
    if einsum.q_params.is_some() || einsum.operating_dt != f32::datum_type() || node.inputs.len() != 2 {
        return Ok(None);
    }
    // Axis roles, whatever tract named the axes: the one summed over is the input channels, the
    // weights' other one the output channels, the input's others the product's columns (in the
    // same order in the output), behind a batch axis of 1 that the output keeps or drops. A
    // pointwise convolution reads `IHW,OI->OHW` (channels last on either side in wasm, `NIHW`
    // with a batch), a MatMul `mk,kn->mn`, a Gemm with transB `mk,nk->mn`.
    let (inputs, outputs) = einsum.axes.to_strs();
    let chars = |s: &str| s.chars().collect::<Vec<char>>();
    let (a, w, o) = (chars(&inputs[0]), chars(&inputs[1]), chars(&outputs[0]));
    if w.len() != 2 || a.is_empty() {
        return Ok(None);
    }
    let summed = |c: char| a.contains(&c) && !o.contains(&c);
    let (channel, out_channel, weights_transposed) = match (summed(w[0]), summed(w[1])) {
        (false, true) => (w[1], w[0], false),
        (true, false) => (w[0], w[1], true),
        _ => return Ok(None),
    };
    if a.contains(&out_channel) || a.iter().filter(|&&c| c == channel).count() != 1 {
        return Ok(None);
    }
    let batch_of_one = || -> TractResult<bool> { Ok(model.outlet_fact(node.inputs[0])?.shape[0] == 1.to_dim()) };
    let (input_channels_last, batch, spatial) = if a[a.len() - 1] == channel {
        (true, false, &a[..a.len() - 1])
    } else if a[0] == channel {
        (false, false, &a[1..])
    } else if a.len() > 2 && a[1] == channel && batch_of_one()? {
        (false, true, &a[2..])
    } else {
        return Ok(None);
    };
    // The batch axis of 1 is dropped by the einsum (int8 Lite0) or kept (a lone convolution).
    let (output_batch, output) = if batch && o[0] == a[0] { (true, &o[1..]) } else { (false, &o[..]) };
    let output_channels_last = if *output == [spatial, &[out_channel]].concat() {
        true
    } else if *output == [&[out_channel], spatial].concat() {
        false
    } else {
        return Ok(None);
    };
    let Some((input, activation_scale, input_grid)) = quantized_input(model, node)? else { return Ok(None) };
    let Some(kernel) = model.outlet_fact(node.inputs[1])?.konst.clone() else {
        return Ok(None);
    };
    if kernel.datum_type() != f32::datum_type() || model.outlet_fact(node.inputs[0])?.datum_type != f32::datum_type()
    {
        return Ok(None);
    }
    // Rows of output channels (`OI`), as the product takes them.
    let kernel = if weights_transposed { (*kernel).clone().permute_axes(&[1, 0])? } else { (*kernel).clone() };
    let (out_channels, in_channels) = (kernel.shape()[0], kernel.shape()[1]);
    let kernel = kernel.try_as_plain_ram()?;
    let Some((weights, weight_scales)) = int8_grid(kernel.as_slice::<f32>()?, out_channels, in_channels) else {
        return Ok(None);
    };
    let (bias, replaced) = match bias_after(model, node, out_channels, output_channels_last)? {
        Some((bias, add)) => (bias, add),
        None => (vec![0.0; out_channels], node.id),
    };
    // The quantize -> dequantize of the output, when it comes next, runs in the same pass.
    let (requantize, replaced) = match requantize_after(model, replaced)? {
        Some((requantize, qd)) => (Some(requantize), qd),
        None => (None, replaced),
    };
    Ok(Some((
        Int8PointwiseConv {
            weights: Arc::new(PackedWeights::new(&weights, out_channels, in_channels)),
            out_channels,
            in_channels,
            input_channels_last,
            batch,
            output_batch,
            output_channels_last,
            input_grid,
            row_scale: int8gemm::whole_panels(weight_scales.iter().map(|s| activation_scale * s).collect()),
            bias: int8gemm::whole_panels(bias),
            requantize,
        },
        replaced,
        input,
    )))
}

/// Where `node` (a convolution) can read its activations as integers: they are on an int8 grid
/// when they come from a quantize -> dequantize, on its own or fused into the int8 convolution
/// before. Returns the outlet to read, the grid's step (the dequantize scale) and how packing
/// turns the values read into those integers.
pub(super) fn quantized_input(model: &TypedModel, node: &TypedNode) -> TractResult<Option<(OutletId, f32, Grid)>> {
    let producer = &model.nodes()[node.inputs[0].node];
    if let Some(qd) = producer.op_as::<ElementWiseOp>().and_then(|op| op.0.downcast_ref::<QuantDequant>()) {
        let requantize = &qd.0;
        if model.single_succ(producer.id)?.is_some_and(|n| n.id == node.id) && !model.outputs.contains(&node.inputs[0])
        {
            // Read by this convolution alone: packing quantizes the values before it with the
            // same multiplier and range (the same integers), so its pass over the tensor goes.
            return Ok(Some((producer.inputs[0], requantize.scale, Grid::of_inputs(requantize))));
        }
        return Ok(Some((node.inputs[0], requantize.scale, Grid::of_outputs(requantize))));
    }
    let fused = producer
        .op_as::<Int8PointwiseConv>()
        .and_then(|op| op.requantize.as_ref())
        .or_else(|| producer.op_as::<Int8Conv>().and_then(Int8Conv::requantize));
    Ok(fused.map(|requantize| (node.inputs[0], requantize.scale, Grid::of_outputs(requantize))))
}

/// The [`QuantDequant`] that is the only consumer of node `id`'s output, as the kernel's
/// epilogue applies it.
pub(super) fn requantize_after(model: &TypedModel, id: usize) -> TractResult<Option<(Requantize, usize)>> {
    let Some(next) = model.single_succ(id)? else { return Ok(None) };
    let Some(qd) = next.op_as::<ElementWiseOp>().and_then(|op| op.0.downcast_ref::<QuantDequant>()) else {
        return Ok(None);
    };
    if model.outputs.contains(&OutletId::new(id, 0)) {
        return Ok(None);
    }
    Ok(Some((qd.0.clone(), next.id)))
}

/// The per-channel constant added to `node`'s output, when its only consumer is such an `Add`.
fn bias_after(
    model: &TypedModel,
    node: &TypedNode,
    channels: usize,
    channels_last: bool,
) -> TractResult<Option<(Vec<f32>, usize)>> {
    let out = OutletId::new(node.id, 0);
    let Some((add, op, bias)) = super::rewrite::binary_with_constant(model, node.id)? else {
        return Ok(None);
    };
    if op.0.name() != "Add" {
        return Ok(None);
    }
    let rank = model.outlet_fact(out)?.rank();
    if bias.datum_type() != f32::datum_type()
        || bias.rank() > rank
        || model.outlet_fact(OutletId::new(add.id, 0))?.shape != model.outlet_fact(out)?.shape
    {
        return Ok(None);
    }
    // One value per output channel: broadcast (aligned right), every axis but the channels' is 1.
    let channel_axis = if channels_last { rank - 1 } else { 0 };
    let mut shape = vec![1; rank - bias.rank()];
    shape.extend_from_slice(bias.shape());
    if shape.iter().enumerate().any(|(axis, &d)| d != if axis == channel_axis { channels } else { 1 }) {
        return Ok(None);
    }
    Ok(Some((bias.try_as_plain_ram()?.as_slice::<f32>()?.to_vec(), add.id)))
}

/// Per row of `w` (`rows x depth`): integers within ±128 and a scale whose products give back
/// the row (to within f32 rounding), as a symmetric int8 quantizer makes them (usually the
/// largest magnitude is 127 steps). `None` when any row is not on such a grid.
pub(super) fn int8_grid(w: &[f32], rows: usize, depth: usize) -> Option<(Vec<i16>, Vec<f32>)> {
    let mut ints = Vec::with_capacity(w.len());
    let mut scales = Vec::with_capacity(rows);
    for row in w.chunks_exact(depth.max(1)).take(rows) {
        // A NaN or infinite weight is on no grid (`f32::max` alone would skip NaN).
        let max = row.iter().try_fold(0f32, |m, v| v.is_finite().then(|| m.max(v.abs())))?;
        if max == 0.0 {
            ints.extend(std::iter::repeat_n(0, row.len()));
            scales.push(0.0);
            continue;
        }
        // Most rows span the whole range; a row of small weights can span fewer steps (a floor
        // on the scale), so fewer are tried after. A wrong guess fails within a few values.
        // The tolerance is f32 rounding of `q * scale` (a few ulps of the largest value). One
        // pass per guess with a multiply and two adds per value: this runs on every weight of
        // the model at load time, and `f32::round` is a libm call in wasm.
        let tolerance = max * 1e-6;
        let start = ints.len();
        let scale = [127, 128].into_iter().chain((1..127).rev()).find_map(|steps| {
            let (scale, inverse) = (max / steps as f32, steps as f32 / max);
            for &v in row {
                let q = round_half_even(v * inverse);
                // Weights are finite (checked above): NaN here only comes from a zero weight
                // times an infinite `inverse` (a subnormal row), and 0 is its right integer.
                if (q * scale - v).abs() > tolerance {
                    ints.truncate(start);
                    return None;
                }
                ints.push(q as i16);
            }
            Some(scale)
        })?;
        scales.push(scale);
    }
    Some((ints, scales))
}

/// Replaces every pointwise convolution [`int8_form`] accepts (decluttered model). Returns how
/// many.
pub(crate) fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    super::rewrite::each_node(model, |model, node| {
        let Some(einsum) = node.op_as::<EinSum>() else { return Ok(None) };
        let Some((op, replaced, input)) = int8_form(model, node, einsum)? else { return Ok(None) };
        Ok(Some(super::rewrite::replacing(model, node, op, input, replaced)?))
    })
}

#[cfg(test)]
mod tests {
    use super::int8_grid;

    /// Rows of integers times a per-row scale are recovered exactly, also a row whose largest
    /// value is only 7 steps and an all-zero row; a row off any int8 grid is refused.
    #[test]
    fn finds_the_int8_grid_of_each_row() {
        let rows: [(f32, [i16; 4]); 3] = [(0.013, [127, -5, 0, 64]), (0.2, [7, -3, 1, 0]), (1.0, [0, 0, 0, 0])];
        let w: Vec<f32> = rows.iter().flat_map(|(s, q)| q.iter().map(move |&q| q as f32 * s)).collect();
        let (ints, scales) = int8_grid(&w, 3, 4).unwrap();
        assert_eq!(ints, [127, -5, 0, 64, 126, -54, 18, 0, 0, 0, 0, 0]);
        // Row 1 is found on a finer grid than it was made with (126 = 7 x 18 steps): every value
        // is still an exact multiple of its scale.
        for (k, q) in ints.chunks(4).enumerate() {
            for (c, &q) in q.iter().enumerate() {
                assert!((q as f32 * scales[k] - w[k * 4 + c]).abs() <= 1e-6, "row {k} column {c}");
            }
        }
        assert!(int8_grid(&[1.0, 0.3141592, 0.5, 0.25], 1, 4).is_none());
        assert!(int8_grid(&[0.5, f32::NAN, 1.0, 0.0], 1, 4).is_none());
        assert!(int8_grid(&[f32::NAN; 4], 1, 4).is_none());
        assert!(int8_grid(&[0.5, f32::INFINITY, 1.0, 0.0], 1, 4).is_none());
    }
}
