//! `Pad` (constant, edge and reflect; any plain element type) as copies of contiguous runs.
//!
//! Why: tract pads by filling a new ndarray with the constant and assigning the input into a
//! slice of it through dynamic-rank views, element by element, and fills edge and reflect borders
//! one slice per padded index. tract also puts a `Pad` of its own in front of every padded
//! convolution it runs through im2col, so a model has them even where its file has none: in
//! Chromium, PP-OCRv4's detector spent 4.5 ms in six of them, MobileNetV2 0.8 ms in one, a YOLOv8
//! export 1.0 ms in 34 (bench/RESULTS.md, run 18).
//!
//! Here the axes after the last padded one form one contiguous run per index of it, and each
//! output row along that axis is its source row copied whole, its borders filled with the
//! constant or copied from the row's own edge or mirror. A row in another axis's padding is the
//! constant, or (edge, reflect) a copy built from the row that axis maps it to. The work is bytes
//! moved, never arithmetic, so the output is exactly tract's.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::array::{Pad, PadMode};

use super::{parallel, Compute, Kernel};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Border {
    /// One element of the constant, as bytes.
    Constant(Vec<u8>),
    Edge,
    Reflect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunPad {
    datum_type: DatumType,
    input_shape: TVec<usize>,
    output_shape: TVec<usize>,
    /// Per axis up to the last padded one: (before, after).
    pads: TVec<(usize, usize)>,
    /// Bytes per index of the last padded axis: the element size times the later axes' sizes.
    run: usize,
    border: Border,
}

impl Compute for RunPad {
    fn name(&self) -> StaticName {
        "RunPad".into()
    }

    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(self.datum_type.fact(&*self.output_shape)))
    }

    fn eval(&self, _symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = &inputs[0];
        ensure!(
            input.shape() == &*self.input_shape && input.datum_type() == self.datum_type,
            "Pad: input {:?} {:?}, planned for {:?} {:?}",
            input.datum_type(),
            input.shape(),
            self.datum_type,
            self.input_shape
        );
        // SAFETY: plain element types (checked when planning) have no invalid bit patterns, and
        // the rows below together write every byte.
        let mut output = unsafe { Tensor::uninitialized_dt(self.datum_type, &self.output_shape)? };
        let last = self.pads.len() - 1;
        let row = self.output_shape[last] * self.run;
        if row > 0 {
            let input = input.try_as_plain_ram()?;
            let src = input.as_bytes();
            let mut plain = output.try_as_plain_ram_mut()?;
            parallel::split_chunks_mut(plain.as_bytes_mut(), row, |first, rows| {
                for (i, out) in rows.chunks_exact_mut(row).enumerate() {
                    self.fill_row(src, first + i, out);
                }
            });
        }
        Ok(tvec!(output.into_tvalue()))
    }
}

impl RunPad {
    /// The input index that output index `at` of an axis (input length `len`, `before` padded
    /// in front) takes its values from; `None` for the constant.
    fn source(&self, at: usize, (before, _): (usize, usize), len: usize) -> Option<usize> {
        let at = at as isize - before as isize;
        let last = len as isize - 1;
        if (0..=last).contains(&at) {
            return Some(at as usize);
        }
        match self.border {
            Border::Constant(_) => None,
            Border::Edge => Some(at.clamp(0, last) as usize),
            // The mirror without repeating the edge; pads are shorter than the axis (planning).
            Border::Reflect => Some(if at < 0 { -at } else { 2 * last - at } as usize),
        }
    }

    fn fill(&self, out: &mut [u8]) {
        let Border::Constant(value) = &self.border else { unreachable!("only a constant border is filled") };
        if value.iter().all(|&b| b == value[0]) {
            out.fill(value[0]);
        } else {
            out.chunks_exact_mut(value.len()).for_each(|e| e.copy_from_slice(value));
        }
    }

    /// Output row `index` (over the output's axes before the last padded one).
    fn fill_row(&self, src: &[u8], index: usize, out: &mut [u8]) {
        let last = self.pads.len() - 1;
        // The input row it comes from: each axis's index mapped, innermost first.
        let (mut rest, mut source_row, mut stride) = (index, 0, 1);
        for axis in (0..last).rev() {
            let at = rest % self.output_shape[axis];
            rest /= self.output_shape[axis];
            match self.source(at, self.pads[axis], self.input_shape[axis]) {
                Some(i) => source_row += i * stride,
                None => return self.fill(out),
            }
            stride *= self.input_shape[axis];
        }
        let (run, len) = (self.run, self.input_shape[last]);
        let src = &src[source_row * len * run..][..len * run];
        let (before, after) = self.pads[last];
        out[before * run..][..len * run].copy_from_slice(src);
        for at in (0..before).chain(before + len..before + len + after) {
            let out = &mut out[at * run..][..run];
            match self.source(at, self.pads[last], len) {
                Some(i) => out.copy_from_slice(&src[i * run..][..run]),
                None => self.fill(out),
            }
        }
    }
}

/// The plan for one of tract-core's `Pad` nodes, when it has one: a plain element type and a
/// known shape.
fn run_form(model: &TypedModel, node: &TypedNode, pad: &Pad) -> TractResult<Option<RunPad>> {
    let fact = model.outlet_fact(node.inputs[0])?;
    let dt = fact.datum_type;
    let Some(input_shape) = fact.shape.as_concrete() else { return Ok(None) };
    if !dt.is_copy() || dt.is_quantized() || pad.pads.len() != input_shape.len() {
        return Ok(None);
    }
    let Some(last) = pad.pads.iter().rposition(|&p| p != (0, 0)) else { return Ok(None) };
    let border = match &pad.mode {
        PadMode::Constant(value) => Border::Constant(value.cast_to_dt(dt)?.as_bytes().to_vec()),
        // A border longer than its axis has no ONNX meaning (onnxruntime refuses it): tract's.
        PadMode::Edge if input_shape.iter().zip(&pad.pads).all(|(&d, &p)| d > 0 || p == (0, 0)) => Border::Edge,
        PadMode::Reflect if input_shape.iter().zip(&pad.pads).all(|(&d, &(a, b))| a.max(b) < d || (a, b) == (0, 0)) => {
            Border::Reflect
        }
        _ => return Ok(None),
    };
    let output_shape = input_shape.iter().zip(&pad.pads).map(|(&d, &(a, b))| d + a + b).collect();
    let run = dt.size_of() * input_shape[last + 1..].iter().product::<usize>();
    Ok(Some(RunPad {
        datum_type: dt,
        input_shape: input_shape.into(),
        output_shape,
        pads: pad.pads[..=last].into(),
        run,
        border,
    }))
}

/// Swaps tract-core's `Pad` nodes for [`RunPad`] where it applies: after optimize, so that the
/// pads tract adds in front of convolutions are taken too.
pub(crate) fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    super::rewrite::each_node(model, |model, node| {
        let Some(pad) = node.op_as::<Pad>() else { return Ok(None) };
        let Some(op) = run_form(model, node, pad)? else { return Ok(None) };
        Ok(Some(TypedModelPatch::replace_single_op(model, node, &node.inputs, Kernel(op))?))
    })
}
